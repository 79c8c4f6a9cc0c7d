// Property: whatever the interleaving of writes from synchronizer clients (unmodified TinyBase
// MergeableStores, some going offline and coming back), a persister client (a TinyBase Store that
// sends and applies `s` frames as TinyBase's persister does) and HTTP PUTs and PATCHes, none of them
// waiting for the others, with a hook refusing some values, every client and `GET {storePath}` end
// with one content and the synchronizer clients with the room's stamps.
import fc from "fast-check";
import { createStore, type Store } from "tinybase";
import { describe, expect, it } from "vitest";
import { DELETED } from "../../../party/protocol.ts";
import { decodedContent } from "../../support/tinybase-client.ts";
import { waitFor } from "../../support/wait.ts";
import { ADMITTED, createConnection, createTestRoom, type TestRoom } from "../support/harness.ts";
import { connectSync, type SyncClient } from "../support/sync-harness.ts";
import { canonical } from "../../support/sync-client.ts";

const RUNS = 25;
const TIME_LIMIT_MS = 20_000;

const tableId = fc.constantFrom("t", "u");
const rowId = fc.constantFrom("r0", "r1", "r2");
const cellId = fc.constantFrom("a", "b");
const value = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom("x", true));
const who = fc.constantFrom(0, 1, 2); // two synchronizer clients, then the persister client

type Op =
  | { kind: "set"; who: number; t: string; r: string; c: string; v: number | string | boolean }
  | { kind: "delCell"; who: number; t: string; r: string; c: string }
  | { kind: "delRow"; who: number; t: string; r: string }
  | { kind: "setValue"; who: number; v: number | string | boolean }
  | { kind: "put"; t: string; r: string; v: number | string | boolean }
  | { kind: "patch"; t: string; r: string; v: number | string | boolean }
  | { kind: "toggle"; who: 0 | 1 }
  | { kind: "pause" };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("set" as const), who, t: tableId, r: rowId, c: cellId, v: value }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delCell" as const), who, t: tableId, r: rowId, c: cellId }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delRow" as const), who, t: tableId, r: rowId }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("setValue" as const), who, v: value }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("put" as const), t: tableId, r: rowId, v: value }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("patch" as const), t: tableId, r: rowId, v: value }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("toggle" as const), who: fc.constantFrom(0 as const, 1 as const) }) },
  { weight: 2, arbitrary: fc.constant({ kind: "pause" as const }) },
);

/** DELETED strings as the undefined TinyBase's Store reads as a deletion (a reviver would drop the key). */
const withUndefined = (thing: any): any =>
  thing === DELETED ? undefined : Array.isArray(thing) ? thing.map(withUndefined) : thing !== null && typeof thing === "object" ? Object.fromEntries(Object.entries(thing).map(([key, child]) => [key, withUndefined(child)])) : thing;

/** A TinyBase Store wired to the room as TinyBase's persister client is: its changes out as `s` frames, the room's applied. */
const connectPersister = (room: TestRoom, content: [any, any]) => {
  const store: Store = createStore().setContent(content);
  const connection = createConnection("persister");
  let applying = false;
  connection.send = (frame) =>
    void setTimeout(() => {
      if (!frame.startsWith("s")) return;
      const changes = withUndefined(JSON.parse(frame.slice(1)));
      applying = true;
      store.applyChanges(changes);
      applying = false;
    }, 0);
  room.connections.push(connection);
  room.room.handleConnect(connection, new Request("http://room.test/parties/main/test-room", { headers: ADMITTED }));
  store.addDidFinishTransactionListener(() => {
    if (applying) return;
    const changes = store.getTransactionChanges();
    const frame = "s" + JSON.stringify(changes, (_key, thing) => (thing === undefined ? DELETED : thing));
    void room.room.handleMessage(connection, frame);
  });
  return store;
};

describe("synchronizer and persister clients (property)", () => {
  it("converge to one content on every client and on GET {storePath}", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
        const room = await createTestRoom({ now: Date.now, hooks: { canSetCell: (_t, _r, cell, value) => !(cell === "b" && value === 3) } });
        const initial: [any, any] = [{ t: { r0: { a: 0 } } }, { v: 0 }];
        await room.request("PUT", "/store", initial);
        const persister = connectPersister(room, initial);
        const clients: (SyncClient | undefined)[] = [await connectSync(room, "s0"), await connectSync(room, "s1")];
        const stores = clients.map((client) => client!.store);
        const storeOf = (index: number) => (index === 2 ? persister : stores[index]);
        for (const step of ops) {
          if (step.kind === "set") storeOf(step.who).setCell(step.t, step.r, step.c, step.v);
          else if (step.kind === "delCell") storeOf(step.who).delCell(step.t, step.r, step.c);
          else if (step.kind === "delRow") storeOf(step.who).delRow(step.t, step.r);
          else if (step.kind === "setValue") storeOf(step.who).setValue("v", step.v);
          else if (step.kind === "put") {
            const etag = (await room.request("GET", "/store")).headers.get("ETag")!;
            await room.request("PUT", "/store", [{ [step.t]: { [step.r]: { a: step.v } } }, {}], { "If-Match": etag });
          } else if (step.kind === "patch") await room.request("PATCH", "/store", [{ [step.t]: { [step.r]: { a: step.v } } }, { v: null }, 1]);
          else if (step.kind === "toggle") {
            const client = clients[step.who];
            if (client) {
              await client.close();
              clients[step.who] = undefined;
            } else clients[step.who] = await connectSync(room, `s${step.who}-${Math.random()}`, stores[step.who]);
          } else await new Promise((resolve) => setTimeout(resolve, 2));
        }
        for (const index of [0, 1]) clients[index] ??= await connectSync(room, `s${index}-back`, stores[index]);
        // Equal contents are not enough: a tombstone (a deletion of a cell the room never had) changes
        // no content, only hashes, and the room pulls it from a client that comes back a few round trips later.
        await waitFor(
          async () => ({
            contents: [decodedContent(JSON.parse((await (await room.request("GET", "/store")).text()) || "[{},{}]")), persister.getContent(), ...stores.map((store) => store.getContent())],
            hashes: stores.map((store) => canonical(store.getMergeableContentHashes())),
          }),
          ({ contents: [stored, ...others], hashes }) => others.every((content) => canonical(content) === canonical(stored)) && hashes[0] === hashes[1],
          { what: "one content everywhere", timeoutMs: 5_000, everyMs: 10 },
        );
        // A new client loads the room's own stamps: the room has the same hashes as its clients.
        const reader = await connectSync(room, "reader");
        expect(reader.store.getMergeableContentHashes()).toEqual(stores[0].getMergeableContentHashes());
        await Promise.all([...clients, reader].map((client) => client?.close()));
      }),
      { numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS },
    );
  }, 60_000);
});
