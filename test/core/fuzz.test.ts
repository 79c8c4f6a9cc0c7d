// Thousands of random and mutated frames and requests against one room: it stays up, its store
// stays valid TinyBase content, and the store always equals the fold of its `$store` events.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseContent } from "../../party/core/changes.ts";
import { foldStoreEvents } from "../support/fold.ts";
import { createTestRoom } from "./harness.ts";

const id = fc.oneof(fc.constantFrom("t", "r", "c", "v", "__proto__", "constructor", "", "\uFFFC"), fc.string({ maxLength: 6 }));
const leaf = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant("\uFFFC"),
  fc.constant("\uFFFD{\"a\":1}"),
  fc.constant(undefined),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.object({ maxDepth: 1, maxKeys: 2 }),
);
const level = <T>(inner: fc.Arbitrary<T>) => fc.oneof(fc.dictionary(id, inner, { maxKeys: 3 }), fc.constant("\uFFFC"), leaf);
const changes = fc.tuple(level(level(level(leaf))), level(leaf), fc.oneof(fc.constant(1), leaf));

const validLeaf = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null), fc.constant("\uFFFC"), fc.constant("\uFFFD[1,2]"));
const smallId = fc.constantFrom("t", "u", "r", "s", "c", "d", "v", "w");
const validChanges = fc.tuple(
  fc.dictionary(smallId, fc.oneof({ weight: 5, arbitrary: fc.dictionary(smallId, fc.oneof({ weight: 5, arbitrary: fc.dictionary(smallId, validLeaf, { maxKeys: 3 }) }, { weight: 1, arbitrary: fc.constant("\uFFFC") }), { maxKeys: 3 }) }, { weight: 1, arbitrary: fc.constant("\uFFFC") }), { maxKeys: 2 }),
  fc.dictionary(smallId, validLeaf, { maxKeys: 2 }),
  fc.constant(1),
);

const frame = fc.oneof(
  { weight: 6, arbitrary: validChanges.map((value) => "s" + JSON.stringify(value)) },
  { weight: 2, arbitrary: validChanges.map((value) => "x" + JSON.stringify({ t: "changes", mid: "m" + JSON.stringify(value).length, changes: value })) },
  changes.map((value) => "s" + JSON.stringify(value)),
  changes.map((value) => "s" + JSON.stringify(value).slice(0, -3)),
  fc.string({ maxLength: 20 }).map((text) => "s" + text),
  fc.record({ t: fc.constantFrom("sub", "ack", "unsub", "changes", "append", "nope"), sid: id, mid: id, credit: fc.oneof(fc.integer(), leaf), selectors: fc.oneof(leaf, fc.record({ after: fc.oneof(fc.integer(), fc.string()) })), changes, events: fc.oneof(leaf, fc.array(fc.record({ type: id, data: leaf }), { maxLength: 3 })) }, { requiredKeys: ["t"] }).map((message) => "x" + JSON.stringify(message)),
  fc.string({ maxLength: 30 }),
);

const request = fc.oneof(
  fc.record({ method: fc.constant("PUT"), path: fc.constant("/store"), body: fc.oneof(changes.map(([t, v]) => JSON.stringify([t, v])), fc.string({ maxLength: 20 })), headers: fc.oneof(fc.constant({}), fc.record({ "If-Match": fc.oneof(fc.constant('"0"'), fc.constant('"1"'), fc.string({ maxLength: 4 })) })) }),
  fc.record({ method: fc.constant("POST"), path: fc.constant("/events"), body: fc.oneof(fc.array(fc.record({ type: id, stream: fc.option(id, { nil: undefined }), id: fc.option(id, { nil: undefined }), data: leaf }), { maxLength: 3 }).map((list) => JSON.stringify(list)), fc.string({ maxLength: 20 })), headers: fc.constant({}) }),
  fc.record({ method: fc.constantFrom("GET", "DELETE", "PATCH"), path: fc.constantFrom("/store", "/events", "/events/history", "/nope"), body: fc.constant(undefined), headers: fc.constant({}) }),
  fc.record({ method: fc.constant("GET"), path: fc.string({ maxLength: 20 }).map((query) => "/events?" + query), body: fc.constant(undefined), headers: fc.constant({}) }),
);

describe("fuzzing the room", () => {
  it("stays up, keeps a valid store, and keeps the store equal to the fold of its log", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(frame.map((f) => ({ frame: f })), request.map((r) => ({ request: r }))), { minLength: 20, maxLength: 60 }), async (inputs) => {
        const room = await createTestRoom();
        await room.request("PUT", "/store", [{ t: { r: { c: 1 } } }, { v: 1 }]);
        const sockets = [room.connect("a"), room.connect("b")];
        for (const [i, input] of inputs.entries()) {
          if ("frame" in input) await room.room.handleMessage(sockets[i % 2], input.frame);
          else {
            const response = await room.request(input.request.method, input.request.path, input.request.body, input.request.headers as Record<string, string>);
            expect(response.status).toBeLessThan(500);
          }
        }
        const store = await (await room.request("GET", "/store")).json();
        expect(() => parseContent(store)).not.toThrow();
        const log = await (await room.request("GET", "/events?limit=1000&until=caught-up")).json();
        expect(foldStoreEvents(log.events)).toEqual(store);
        const restarted = await room.restart();
        expect(await (await restarted.request("GET", "/store")).json()).toEqual(store);
      }),
      { numRuns: 150 },
    );
  }, 60_000);
});
