// Inputs for the fuzz test (fuzz.test.ts): TinyBase changesets valid and mutated, roomstore `x`
// messages of every kind with good and bad fields, binary and non-JSON frames, and HTTP requests
// with random bodies, headers and selectors. Ids come mostly from a small set, so that inputs hit
// the same tables, rows, cells, mids and event ids again and again.
import fc from "fast-check";
import { ROLE_HEADER } from "../../../party/core/room/auth.ts";
import { DELETED, LOGGED_NULL } from "../../../party/protocol.ts";

/** The room's limits during the fuzz: small, so that every limit is reached by some inputs. */
export const FUZZ_LIMITS = {
  maxFrameBytes: 4_096,
  maxBodyBytes: 100_000,
  maxCellsPerChange: 12,
  maxEventDataChars: 256,
  maxEventsPerAppend: 4,
  maxMessagesPerSecond: 1_000,
  messageBurst: 100_000,
};

const weird = fc.constantFrom("", "__proto__", "constructor", DELETED, "\uFFFD", "a\u0000b", "\ud800", "x".repeat(1_100), "\u0001".repeat(200));
export const id = fc.oneof({ weight: 12, arbitrary: fc.constantFrom("t", "u", "r", "s", "c", "d", "v", "w") }, { weight: 1, arbitrary: weird });

/** A cell or value TinyBase can hold (as it travels: object cells as "\uFFFD" + JSON strings, or raw). */
export const cell = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 3, arbitrary: fc.integer() },
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(LOGGED_NULL, "\uFFFD[1,2]", '\uFFFD{"a":1}', "\uFFFD{broken"),
  fc.constantFrom<unknown>({ a: 1 }, [1, "two"], JSON.parse('{"__proto__":{"polluted":true}}')),
);
/** Content may also hold a cell over the 60,000-character limit of one storage value. */
const contentCell = fc.oneof({ weight: 30, arbitrary: cell }, { weight: 1, arbitrary: fc.constant("x".repeat(61_000)) });

const orDeleted = <T>(thing: fc.Arbitrary<T>, deletions: boolean) =>
  deletions ? fc.oneof({ weight: 6, arbitrary: thing }, { weight: 1, arbitrary: fc.constant(DELETED) }) : thing;

const tablesOf = (leaf: fc.Arbitrary<unknown>, deletions: boolean) =>
  fc.dictionary(id, orDeleted(fc.dictionary(id, orDeleted(fc.dictionary(id, orDeleted(leaf, deletions), { maxKeys: 3 }), deletions), { maxKeys: 3 }), deletions), { maxKeys: 2 });

export const validChanges = fc.tuple(tablesOf(cell, true), fc.dictionary(id, orDeleted(cell, true), { maxKeys: 2 }), fc.constant(1));
export const validContent = fc.tuple(tablesOf(contentCell, false), fc.dictionary(id, cell, { maxKeys: 2 }));

/** Anything JSON can say, small. */
const junk = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom<unknown>(DELETED, LOGGED_NULL, 1, 0, "1", [], {}, null));

const MUTATIONS = ["delete", "add", "retype", "deleted", "null"] as const;
const mutation = fc.record({ op: fc.constantFrom(...MUTATIONS), pick: fc.nat(), key: id, junk });

/** Every [parent, key] of a JSON tree, root excluded. */
const slots = (root: unknown): [Record<string, unknown> | unknown[], string | number][] => {
  const found: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (node: unknown) => {
    if (typeof node !== "object" || node === null) return;
    for (const key of Object.keys(node)) {
      found.push([node as Record<string, unknown>, Array.isArray(node) ? Number(key) : key]);
      walk((node as Record<string, unknown>)[key]);
    }
  };
  walk(root);
  return found;
};

/** A valid changeset or content with keys deleted or added, wrong types, deletion markers in odd places. */
export const mutated = <T>(valid: fc.Arbitrary<T>) =>
  fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([value, mutations]) => {
    const root = structuredClone(value) as unknown;
    for (const { op, pick, key, junk: shared } of mutations) {
      const junk = structuredClone(shared); // constants are shared between runs: never insert them
      const all = slots(root);
      if (all.length === 0) break;
      const [parent, slot] = all[pick % all.length];
      const target = parent as Record<string | number, unknown>;
      if (op === "delete") Array.isArray(parent) ? parent.splice(slot as number, 1) : delete target[slot];
      else if (op === "add") {
        const node = target[slot];
        if (typeof node === "object" && node !== null) Array.isArray(node) ? node.push(junk) : ((node as Record<string, unknown>)[key] = junk);
        else target[slot] = { [key]: junk };
      } else target[slot] = op === "retype" ? junk : op === "deleted" ? DELETED : null;
    }
    return root;
  });

const mid = fc.oneof({ weight: 5, arbitrary: fc.constantFrom("m1", "m2", "m3", "m4", "m5", "m6") }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom("", "y".repeat(129)), junk) });
const goodEvent = fc.record(
  {
    type: fc.constantFrom("said", "paid"),
    data: fc.oneof({ weight: 6, arbitrary: junk }, { weight: 1, arbitrary: fc.constant("z".repeat(300)) }),
    stream: fc.constantFrom("chat", "orders"),
    id: fc.constantFrom("e1", "e2", "e3"),
    tz: fc.constantFrom("Europe/Paris", "UTC"),
  },
  { requiredKeys: ["type"] },
);
/** A producer's event: mostly good, else with a reserved, empty, control-character or wrong-typed field, or an unknown one. */
const eventInput = fc.oneof(
  { weight: 5, arbitrary: goodEvent },
  fc.tuple(goodEvent, fc.constantFrom("type", "stream", "id", "tz", "extra"), fc.oneof(fc.constantFrom<unknown>("$changes", "$store", "", "a\nb", "q".repeat(257)), junk)).map(
    ([event, field, value]) => ({ ...event, [field]: value }),
  ),
  junk,
);
const seq = fc.integer({ min: 0, max: 30 });
const optional = <T>(thing: fc.Arbitrary<T>) => fc.option(thing, { nil: undefined });
/** At most one lower and one upper bound: two of either is a 400 the bad variants below cover. */
const goodSelectors = fc
  .record({
    stream: optional(fc.constantFrom("chat", "orders", "default", "$store")),
    types: optional(fc.constantFrom("said", "said,paid", "$changes", "$init,$changes")),
    lower: optional(fc.oneof(seq.map((from) => ({ from })), fc.oneof(seq, fc.constant("past-events")).map((after) => ({ after })))),
    upper: optional(fc.oneof(seq.map((to) => ({ to })), fc.oneof(seq, fc.constant("caught-up")).map((until) => ({ until })))),
    limit: optional(fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constant(1000))),
  })
  .map(({ lower, upper, ...rest }) => Object.fromEntries(Object.entries({ ...rest, ...lower, ...upper }).filter(([, value]) => value !== undefined)));
const selectors = fc.oneof(
  { weight: 4, arbitrary: goodSelectors },
  fc.tuple(goodSelectors, fc.constantFrom("stream", "types", "from", "after", "to", "until", "limit", "bogus"), fc.oneof(fc.integer({ min: -2, max: 2 }), junk)).map(
    ([params, name, value]) => ({ ...params, [name]: value }),
  ),
);

/** roomstore's own messages, well-formed or not. */
export const roomMessage = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant("changes"), mid, changes: fc.oneof({ weight: 4, arbitrary: validChanges }, { weight: 2, arbitrary: mutated(validChanges) }, { weight: 1, arbitrary: junk }) }, { requiredKeys: ["t", "mid"] }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("append"), mid, events: fc.oneof({ weight: 4, arbitrary: fc.array(eventInput, { maxLength: 5 }) }, { weight: 1, arbitrary: junk }), ifMatch: fc.oneof({ weight: 3, arbitrary: seq }, fc.constant(-1), junk) }, { requiredKeys: ["t", "mid", "events"] }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("sub"), sid: fc.oneof({ weight: 4, arbitrary: fc.constantFrom("s1", "s2") }, junk), selectors: fc.oneof({ weight: 4, arbitrary: selectors }, junk), credit: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 20 }) }, fc.constantFrom(-1, 10_001), junk), timeoutMs: fc.oneof(fc.integer({ min: -1, max: 10 }), junk) }, { requiredKeys: ["t", "sid", "credit"] }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constantFrom("ack", "unsub"), sid: fc.oneof({ weight: 4, arbitrary: fc.constantFrom("s1", "s2") }, junk), credit: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 20 }) }, junk) }, { requiredKeys: ["t", "sid"] }) },
  fc.record({ t: fc.oneof(fc.constantFrom("nope", "ok", "ev"), junk), mid, sid: junk }, { requiredKeys: [] }),
  junk,
);

export type Frame = string | Uint8Array | ArrayBuffer;

export const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 8, arbitrary: validChanges.map((changes) => "s" + JSON.stringify(changes)) },
  { weight: 4, arbitrary: mutated(validChanges).map((changes) => "s" + JSON.stringify(changes)) },
  { weight: 6, arbitrary: roomMessage.map((message) => "x" + JSON.stringify(message)) },
  validChanges.map((changes) => "s" + JSON.stringify(changes).slice(0, -2)),
  fc.constantFrom("", "s", "x", "snull", "s[{},{},1", 's[{"t":{"r":{"c":1e999}}},{},1]', "s" + JSON.stringify([{ t: { r: { c: "big".repeat(1_400) } } }, {}, 1]), "x[]", "x{}", 'z{"t":"sub"}'),
  fc.oneof(fc.string({ maxLength: 30, unit: "binary" }), fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: 16 }).map((bytes) => bytes.buffer as ArrayBuffer)),
);

export interface FuzzRequest {
  method: string;
  path: string;
  body?: string | Uint8Array;
  headers: Record<string, string>;
  /** Replaced by the room's current seq when the request is sent, so that some If-Match hit. */
  ifMatchCurrent?: boolean;
}

const readRole = fc.oneof({ weight: 5, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.constant({ [ROLE_HEADER]: "read" }) });
const ifMatch = fc.oneof(fc.constant(undefined), fc.constantFrom('"0"', '"1"', '"99"', "W/\"2\"", "nope", "*"), fc.constant("current"));
const withIfMatch = (headers: Record<string, string>, value: string | undefined) =>
  value === undefined ? { headers } : value === "current" ? { headers, ifMatchCurrent: true } : { headers: { ...headers, "If-Match": value } };
/**
 * A selector's value as a query parameter. Not `String(value)`: junk may be an object with a
 * `toString` key that is no function (fast-check's keys include it), and String() then throws
 * inside the generator, which fast-check reports without a seed to replay.
 */
export const queryParam = (value: unknown): string => (typeof value === "object" && value !== null ? JSON.stringify(value) : String(value));
const query = selectors.map((params) => new URLSearchParams(Object.entries(params).map(([name, value]) => [name, queryParam(value)])).toString());

export const request: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc.tuple(fc.oneof({ weight: 4, arbitrary: validContent }, { weight: 2, arbitrary: mutated(validContent) }, { weight: 1, arbitrary: junk }), ifMatch, readRole).map(([content, match, role]) => ({
    method: "PUT",
    path: "/store",
    body: JSON.stringify(content),
    ...withIfMatch(role, match),
  })),
  fc.tuple(fc.oneof({ weight: 3, arbitrary: fc.array(eventInput, { maxLength: 5 }) }, { weight: 2, arbitrary: eventInput }, junk), ifMatch, readRole).map(([events, match, role]) => ({
    method: "POST",
    path: "/events",
    body: JSON.stringify(events),
    ...withIfMatch(role, match),
  })),
  { weight: 2, arbitrary: query.map((params) => ({ method: "GET", path: `/events?${params}`, headers: {} })) },
  fc.tuple(goodSelectors.map(({ stream, types, ...range }) => range), fc.dictionary(fc.constantFrom("table", "row", "cell", "value"), id, { maxKeys: 3 })).map(
    ([params, ids]) => ({ method: "GET", path: `/events/history?${new URLSearchParams({ ...ids, ...Object.fromEntries(Object.entries(params).map(([name, value]) => [name, String(value)])) })}`, headers: {} }),
  ),
  fc.record({
    method: fc.constantFrom("GET", "HEAD", "DELETE", "PATCH", "OPTIONS", "POST", "PUT"),
    path: fc.constantFrom("/store", "/events", "/events/history", "/nope", "", "/store/x"),
    body: fc.oneof(fc.constant(undefined), fc.constantFrom("", "not json", "x".repeat(100_001)), fc.uint8Array({ maxLength: 8 }).map((bytes) => Uint8Array.from([0xff, 0xfe, ...bytes]))),
    headers: fc.oneof(fc.constant({}), fc.record({ "If-None-Match": fc.constantFrom('"0"', '"1"', "junk") })),
    // A DELETE of the room itself erases it, acknowledged writes included (export-import.test.ts).
  }).filter(({ method, path }) => !(method === "DELETE" && path === "")),
);
