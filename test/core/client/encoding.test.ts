// The client's TinyBase encoding (client/tinybase-encoding.ts) with a real TinyBase store: what
// travels in frames and in the log, turned into what TinyBase's public API takes, and back.
import { createStore } from "tinybase";
import { describe, expect, it } from "vitest";
import { decodeChanges, decodeContent, decodeLoggedChanges, encodeChanges, encodeContent } from "../../../client/tinybase-encoding.ts";
import { changesForLog } from "../../../party/protocol.ts";

const JSON_CELL = "\uFFFD";
const DELETED = "\uFFFC";

describe("the client's TinyBase encoding", () => {
  it("decodes object and array cells, which TinyBase's public applyChanges would ignore as strings", () => {
    const wire = [{ t: { r: { object: `${JSON_CELL}{"a":[1]}`, list: `${JSON_CELL}[1,"two"]`, text: "plain" } } }, { v: `${JSON_CELL}{"n":1}` }, 1] as const;
    const store = createStore().applyChanges(decodeChanges(wire) as never);
    expect(store.getContent()).toEqual([{ t: { r: { object: { a: [1] }, list: [1, "two"], text: "plain" } } }, { v: { n: 1 } }]);
  });

  it("tells a real null from a deletion, on the wire and in the log", () => {
    const store = createStore().setContent([{ t: { r: { gone: 1, nothing: 1, kept: 1 } }, old: { r: { c: 1 } } }, { v: 1, w: 1 }]);
    const changes = [{ t: { r: { gone: undefined, nothing: null } }, old: undefined }, { v: null, w: undefined }, 1] as const;
    const wire = encodeChanges(changes as never);
    expect(wire).toEqual([{ t: { r: { gone: DELETED, nothing: null } }, old: DELETED }, { v: null, w: DELETED }, 1]);
    const expected = [{ t: { r: { nothing: null, kept: 1 } } }, { v: null }];
    expect(createStore().setContent(store.getContent()).applyChanges(decodeChanges(wire) as never).getContent()).toEqual(expected);
    expect(store.applyChanges(decodeLoggedChanges(changesForLog(wire) as never) as never).getContent()).toEqual(expected);
  });

  it("keeps ids like __proto__ as ids through an encode and a decode", () => {
    const text = '[{"__proto__":{"constructor":{"c":{"deep":true}}}},{"__proto__":[1]}]';
    const wire = JSON.stringify(encodeContent(JSON.parse(text)));
    expect(wire).toBe(`[{"__proto__":{"constructor":{"c":"${JSON_CELL}{\\"deep\\":true}"}}},{"__proto__":"${JSON_CELL}[1]"}]`);
    expect(JSON.stringify(decodeContent(JSON.parse(wire)))).toBe(text);
  });
});
