// For random logs (first saves, changesets, replacing PUTs, application events, restores, retention
// runs, restarts, and checkpoints lost as in a room stored before them) and a small CHECKPOINT_EVENTS,
// the store read `?at=` every position is the fold of the log up to it, its ETag the last `$store`
// seq at or before it, and the read replays fewer than CHECKPOINT_EVENTS events (once a room that
// lost its checkpoints has been read: it heals); positions retention trimmed answer 410.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { changesFrame, createTestRoom, type TestRoom } from "../support/harness.ts";
import { foldStoreEvents } from "../../support/fold.ts";

type Op =
  | { kind: "put"; content: unknown }
  | { kind: "replace"; content: unknown }
  | { kind: "changes"; changes: unknown }
  | { kind: "append"; count: number }
  | { kind: "restore"; fraction: number }
  | { kind: "trim" }
  | { kind: "restart" }
  /** Deletes every checkpoint, as a room stored before checkpoints (or imported) has none. */
  | { kind: "forget" };

const id = fc.constantFrom("a", "b", "c", "0", "1");
const cell = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom("x", "y", true, false));
const content = fc.tuple(
  fc.dictionary(id, fc.dictionary(id, fc.dictionary(id, cell, { minKeys: 1, maxKeys: 2 }), { minKeys: 1, maxKeys: 2 }), { maxKeys: 2 }),
  fc.dictionary(id, cell, { maxKeys: 2 }),
);
const changedCell = fc.oneof(cell, fc.constant("\uFFFC"));
const changes = fc
  .tuple(
    fc.dictionary(id, fc.oneof(fc.constant("\uFFFC"), fc.dictionary(id, fc.oneof(fc.constant("\uFFFC"), fc.dictionary(id, changedCell, { minKeys: 1, maxKeys: 2 })), { maxKeys: 2 })), { maxKeys: 2 }),
    fc.dictionary(id, changedCell, { maxKeys: 2 }),
  )
  .map(([tables, values]) => [tables, values, 1]);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: content.map((c) => ({ kind: "put" as const, content: c })) },
  { weight: 1, arbitrary: content.map((c) => ({ kind: "replace" as const, content: c })) },
  { weight: 6, arbitrary: changes.map((c) => ({ kind: "changes" as const, changes: c })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 4 }).map((count) => ({ kind: "append" as const, count })) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((fraction) => ({ kind: "restore" as const, fraction })) },
  { weight: 1, arbitrary: fc.constant({ kind: "trim" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "restart" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "forget" as const }) },
);

/** Event heads the room fetched while answering `run` (seq keys: "e" and 16 digits). */
const eventReads = async <T>(room: TestRoom, run: () => Promise<T>): Promise<{ value: T; reads: number }> => {
  const get = room.storage.get;
  let reads = 0;
  room.storage.get = (keys) => ((reads += keys.filter((key) => /^e\d{16}$/.test(key)).length), get(keys));
  try {
    return { value: await run(), reads };
  } finally {
    room.storage.get = get;
  }
};

describe("the store at every log position", () => {
  it("is the fold of the log up to it, read from a checkpoint and fewer than CHECKPOINT_EVENTS events", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.option(fc.integer({ min: 3, max: 12 }), { nil: undefined }),
        fc.array(op, { minLength: 1, maxLength: 30 }),
        async (every, maxEvents, ops) => {
          let room = await createTestRoom({ config: { limits: { checkpointEvents: every }, retention: maxEvents ? { maxEvents } : {} } });
          const log: any[] = [];
          /** Records the events appended since the last call (before retention may trim them). */
          const record = async () => {
            const after = log.at(-1)?.seq ?? 0;
            const page = await (await room.request("GET", `/events?after=${after}&limit=1000`)).json();
            log.push(...page.events);
          };
          for (const step of ops) {
            if (step.kind === "put") await room.request("PUT", "/store", step.content);
            else if (step.kind === "replace") {
              const etag = (await room.request("GET", "/store")).headers.get("ETag")!;
              await room.request("PUT", "/store", step.content, { "If-Match": etag });
            } else if (step.kind === "changes") await room.room.handleMessage(room.connect("w"), changesFrame(step.changes));
            else if (step.kind === "append") await room.request("POST", "/events", Array.from({ length: step.count }, () => ({ type: "note" })));
            else if (step.kind === "restore") {
              const head = log.at(-1)?.seq ?? 0;
              await room.request("POST", "/restore", { at: Math.floor(step.fraction * head) });
            } else if (step.kind === "restart") room = await room.restart();
            else if (step.kind === "forget") for (const key of [...room.storage.entries.keys()]) if (key.startsWith("t")) room.storage.entries.delete(key);
            await record();
            if (step.kind === "trim") await room.room.handleAlarm();
          }
          const head = log.at(-1)?.seq ?? 0;
          const first = room.room.core.log.first;
          // Twice: a room that lost its checkpoints heals as it is read (the first pass puts them).
          const forgot = ops.some((step) => step.kind === "forget");
          for (const pass of forgot ? [1, 2] : [2]) {
            for (let at = 0; at <= head; at++) {
              const { value: response, reads } = await eventReads(room, () => room.request("GET", `/store?at=${at}`));
              if (at < first - 1) {
                expect(response.status).toBe(410);
                continue;
              }
              expect(response.status).toBe(200);
              const upTo = log.filter((event) => event.seq <= at);
              const text = await response.text();
              expect(text === "" ? undefined : JSON.parse(text)).toEqual(foldStoreEvents(upTo));
              const storeSeq = upTo.filter((event) => event.stream === "$store").at(-1)?.seq ?? 0;
              expect(response.headers.get("ETag")).toBe(`"${storeSeq}"`);
              if (pass === 2) expect(reads).toBeLessThan(every);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
