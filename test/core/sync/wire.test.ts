// The synchronizer wire format as the room writes it (party/core/sync/wire.ts): a body encoded
// without a replacer when it holds no deletion is the same text TinyBase's encoding gives.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DELETED } from "../../../party/protocol.ts";
import { encodeSyncBody, encodeSyncFrame } from "../../../party/core/sync/wire.ts";

/** TinyBase's own encoding (jsonStringWithUndefined): undefined as "\uFFFC". */
const reference = (body: unknown) => JSON.stringify(body, (_key, value) => (value === undefined ? DELETED : value));

const id = fc.constantFrom("t", "r", "c", "a b", '[null,"', "[null]", "\uFFFC");
const thing = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom("", "x", '[null,"', "[null]", '"[null,\\"', "\uFFFC", "\uFFFD[null]"),
  fc.string(),
);
const hlc = fc.constantFrom("", "P7gciKC----26CXW", "P7gciKC---0-26CXW".slice(0, 16));
const stamp = <T>(inner: fc.Arbitrary<T>) => fc.oneof(fc.tuple(inner), fc.tuple(inner, hlc));
const cellStamps = fc.dictionary(id, stamp(thing), { maxKeys: 4 });
const changes = fc.tuple(stamp(fc.dictionary(id, stamp(fc.dictionary(id, stamp(cellStamps), { maxKeys: 3 })), { maxKeys: 3 })), stamp(cellStamps), fc.constant(1));

describe("synchronizer bodies", () => {
  it("encode as TinyBase does, deletions as \\uFFFC, with or without deletions in them", () => {
    fc.assert(
      fc.property(fc.oneof(changes, fc.tuple(stamp(fc.dictionary(id, stamp(cellStamps))), fc.dictionary(id, fc.nat()))), (body) => {
        expect(encodeSyncBody(body)).toBe(reference(body));
        expect(encodeSyncFrame("abcdefghijk.abcd", 0, body)).toBe("S\n" + reference(["abcdefghijk.abcd", 0, body]));
      }),
      { numRuns: 2_000 },
    );
  });
});
