import { describe, expect, it } from "vitest";
import { parseChanges, parseContent } from "../../../party/core/store/changes.ts";
import { isRoomError } from "../../../party/core/common/errors.ts";
import { changesForLog, MAX_CELL_CHARS, MAX_PATH_CHARS } from "../../../party/protocol.ts";

const codeOf = (run: () => unknown): string | undefined => {
  try {
    run();
    return undefined;
  } catch (error) {
    return isRoomError(error) ? error.code : "not a RoomError";
  }
};

describe("content validation", () => {
  it.each([
    ["empty content", [{}, {}]],
    ["every cell type", [{ t: { r: { s: "x", n: 1.5, b: false, z: null, o: "\uFFFD{}", raw: { a: 1 }, arr: [1] } } }, { v: 0 }]],
    ["ids that look like prototypes", [{ __proto__: { constructor: { toString: 1 } } }, {}]],
  ])("accepts %s", (_name, content) => {
    expect(codeOf(() => parseContent(JSON.parse(JSON.stringify(content))))).toBeUndefined();
  });

  it.each([
    ["a non-array", { t: {} }, "invalid_content"],
    ["three elements", [{}, {}, 1], "invalid_content"],
    ["a table that is an array", [{ t: [] }, {}], "invalid_content"],
    ["a row that is a string", [{ t: { r: "x" } }, {}], "invalid_content"],
    ["a deletion marker", [{ t: { r: { c: "\uFFFC" } } }, {}], "invalid_content"],
    ["values as an array", [{}, []], "invalid_content"],
    ["a cell over the size limit", [{ t: { r: { c: "x".repeat(MAX_CELL_CHARS) } } }, {}], "too_large"],
    ["an id path over the limit", [{ ["t".repeat(MAX_PATH_CHARS)]: { r: { c: 1 } } }, {}], "too_large"],
  ])("refuses %s", (_name, content, code) => {
    expect(codeOf(() => parseContent(content))).toBe(code);
  });
});

describe("changes validation", () => {
  it.each([
    ["deletions at every level", [{ a: "\uFFFC", b: { r: "\uFFFC" }, c: { r: { x: "\uFFFC", y: 2 } } }, { v: "\uFFFC" }, 1]],
    ["null as a real value", [{ t: { r: { c: null } } }, { v: null }, 1]],
    ["nothing", [{}, {}, 1]],
  ])("accepts %s", (_name, changes) => {
    expect(codeOf(() => parseChanges(changes))).toBeUndefined();
  });

  it.each([
    ["content (two elements)", [{}, {}], "invalid_content"],
    ["a wrong version flag", [{}, {}, 2], "invalid_content"],
    ["a number at row level", [{ t: { r: 5 } }, {}, 1], "invalid_content"],
    ["undefined-like values", [{ t: { r: { c: {} } } }, { v: undefined }, 1], "invalid_content"],
  ])("refuses %s", (_name, changes, code) => {
    expect(codeOf(() => parseChanges(changes))).toBe(code);
  });
});

describe("changes in the event log", () => {
  it("writes deletions as null and a real null as TinyBase's encoded null", () => {
    const logged = changesForLog([{ t: "\uFFFC", u: { r: "\uFFFC", s: { a: null, b: "\uFFFC", c: 1 } } }, { v: null, w: "\uFFFC" }, 1]);
    expect(JSON.parse(JSON.stringify(logged))).toEqual([
      { t: null, u: { r: null, s: { a: "\uFFFDnull", b: null, c: 1 } } },
      { v: "\uFFFDnull", w: null },
      1,
    ]);
  });
});
