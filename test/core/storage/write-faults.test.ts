// Fault injection on the write path: the real Durable Object storage adapter over a key-value store
// that fails once, at a chosen point of a write (one put or delete call, one key of a synchronous
// transaction, or the commit), on both of the adapter's paths (synchronous SQLite transactions and
// asynchronous transactions). Whatever the point, afterwards memory, storage and the log agree, seqs
// have no gap, no key is left over, every write answered as a success is kept and no failed one is.
import { describe, expect, it } from "vitest";
import { createDurableStorage, type KeyValueStorage, type KeyValueWriter } from "../../../party/adapters/durable-storage.ts";
import { createRoom, resolveConfig, type Room } from "../../../party/core/index.ts";
import { createKeys } from "../../../party/core/storage/keys.ts";
import { foldStoreEvents } from "../../support/fold.ts";
import { ADMITTED, changesFrame, createConnection, messageFrame, receivedMessages, type TestConnection } from "../support/harness.ts";

class InjectedFault extends Error {}

/** A key-value store with transactions that roll back, and one fault at the `failAt`-th operation. */
const createFaultyStorage = (synchronous: boolean, failAt: number) => {
  const data = new Map<string, unknown>();
  let operations = 0;
  let transactions = 0;
  /** The transaction of each operation so far, to pick fault points within long transactions. */
  const transactionOf: number[] = [];
  const step = () => {
    transactionOf.push(transactions);
    if (++operations === failAt) throw new InjectedFault(`fault at operation ${failAt}`);
  };
  const read = (keys: Iterable<string>) => {
    const found = new Map<string, unknown>();
    for (const key of keys) if (data.has(key)) found.set(key, structuredClone(data.get(key)));
    return found;
  };
  /** Runs a closure over a staged copy; commits it only if nothing threw, the commit included. */
  const staged = <T>(closure: (stage: Map<string, unknown>) => T): T => {
    transactions++;
    const stage = new Map(data);
    const result = closure(stage);
    step();
    data.clear();
    for (const [key, value] of stage) data.set(key, value);
    return result;
  };
  let current: Map<string, unknown> | undefined;
  /** Put and delete calls that write into `target`, each one a fault point. */
  const writerOver = (target: Map<string, unknown>): KeyValueWriter => ({
    async put(entries) {
      step();
      for (const [key, value] of Object.entries(entries)) target.set(key, structuredClone(value));
    },
    async delete(keys) {
      step();
      for (const key of keys) target.delete(key);
      return keys.length;
    },
  });
  const storage: KeyValueStorage = {
    get: async (keys) => read(keys),
    async list({ start, end, prefix, limit, reverse }) {
      const keys = [...data.keys()]
        .filter((key) => (start === undefined || key >= start) && (end === undefined || key < end) && (prefix === undefined || key.startsWith(prefix)))
        .sort();
      if (reverse) keys.reverse();
      return read(keys.slice(0, limit));
    },
    // Calls outside a transaction each commit on their own, as the platform's do.
    ...writerOver(data),
    deleteAll: async () => data.clear(),
    deleteAlarm: async () => {},
    async transaction(closure) {
      transactions++;
      const stage = new Map(data);
      const result = await closure(writerOver(stage));
      return staged((target) => {
        target.clear();
        for (const [key, value] of stage) target.set(key, value);
        return result;
      });
    },
  };
  if (synchronous) {
    storage.transactionSync = (closure) =>
      staged((stage) => {
        current = stage;
        try {
          return closure();
        } finally {
          current = undefined;
        }
      });
    storage.kv = {
      put(key, value) {
        step();
        current!.set(key, structuredClone(value));
      },
      delete: (key) => (step(), current!.delete(key)),
    };
  }
  return { storage, data, operations: () => operations, transactionOf };
};

const startRoom = async (storage: KeyValueStorage): Promise<{ room: Room; connections: TestConnection[] }> => {
  const connections: TestConnection[] = [];
  let counter = 0;
  const room = createRoom({
    name: "faults",
    storage: createDurableStorage(storage),
    config: resolveConfig({}),
    hooks: {},
    connections: () => connections,
    now: () => Date.UTC(2026, 0, 1),
    newId: () => `generated-${++counter}`,
  });
  await room.load();
  return { room, connections };
};

const request = async (room: Room, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const response = await room.handleRequest(
    new Request(`http://room.test/parties/main/faults${path}`, { method, headers: { ...ADMITTED, ...headers }, body: body === undefined ? undefined : JSON.stringify(body) }),
  );
  return { status: response.status, etag: response.headers.get("ETag"), body: await response.text() };
};

const FIRST_STORE = (() => {
  const tables: Record<string, Record<string, Record<string, number>>> = { t: {} };
  for (let row = 0; row < 30; row++) {
    tables.t["r" + row] = {};
    for (let cell = 0; cell < 10; cell++) tables.t["r" + row]["c" + cell] = row * 10 + cell;
  }
  return [tables, { v: 1 }];
})();

/** What the scenario was answered: a success records what it claims the log now holds. */
interface Claim {
  what: string;
  ok: boolean;
  /** Seqs the answer names, and event ids that must then be in the log. */
  seqs: number[];
  ids: string[];
}

/** Drives PUTs, changesets and appends, some in one commit group; returns every answer as a claim. */
const runScenario = async (room: Room, connections: TestConnection[]): Promise<Claim[]> => {
  const claims: Claim[] = [];
  const socket = createConnection("writer");
  connections.push(socket);
  room.handleConnect(socket, new Request("http://room.test/parties/main/faults", { headers: ADMITTED }));
  const http = async (what: string, method: string, path: string, body: unknown, ids: string[], headers: Record<string, string> = {}) => {
    const answer = await request(room, method, path, body, headers);
    expect([200, 201, 500, 409, 412]).toContain(answer.status);
    if (answer.status === 500) expect(JSON.parse(answer.body).error.code).toBe("internal");
    const ok = answer.status === 200 || answer.status === 201;
    const seqs = ok && answer.etag ? [Number(JSON.parse(answer.etag))] : [];
    claims.push({ what, ok, seqs, ids: ok ? ids : [] });
  };
  const socketWrite = async (what: string, message: Record<string, unknown>, ids: string[]) => {
    const before = socket.sent.length;
    await room.handleMessage(socket, messageFrame(message));
    const answer = receivedMessages({ ...socket, sent: socket.sent.slice(before) }).find((m) => m.mid === message.mid)!;
    expect(answer, `${what} is answered`).toBeDefined();
    if (answer.t === "nack") expect(["internal", "conflict"]).toContain(answer.error.code);
    const ok = answer.t === "ok";
    const seqs: number[] = ok ? [answer.seq ?? answer.seqs].flat().filter((seq: number | null) => seq !== null) : [];
    claims.push({ what, ok, seqs, ids: ok ? ids : [] });
  };

  await http("first PUT of 300 cells", "PUT", "/store", FIRST_STORE, []);
  // Three writes that arrive together and share one commit group.
  await Promise.all([
    http("POST of two events", "POST", "/events", [{ type: "a", id: "p-1" }, { type: "b", data: { n: 1 } }], ["p-1"]),
    socketWrite("WebSocket append", { t: "append", mid: "m-1", events: [{ type: "c", id: "q-1" }, { type: "d", id: "q-2" }] }, ["q-1", "q-2"]),
    socketWrite("WebSocket changes", { t: "changes", mid: "c-1", changes: [{ t: { r0: { c0: "x", c1: "\uFFFC" } } }, {}, 1] }, []),
  ]);
  const before = socket.sent.length;
  await room.handleMessage(socket, changesFrame([{ t: { r1: { c0: "y" } }, u: { r: { c: 1 } } }, { v: 2 }, 1]));
  await new Promise((resolve) => setTimeout(resolve, 0));
  const refused = receivedMessages({ ...socket, sent: socket.sent.slice(before) }).some((m) => m.t === "error");
  claims.push({ what: "TinyBase changeset", ok: !refused, seqs: [], ids: [] });
  const head = JSON.parse((await request(room, "GET", "/store")).etag ?? '"0"');
  await http("PUT replacing the store", "PUT", "/store", [{ t: { r2: { c0: 0 } } }, {}], [], { "If-Match": `"${head}"` });
  await http("POST after everything", "POST", "/events", [{ type: "z", id: "last" }], ["last"]);
  return claims;
};

/** The whole log, as a fresh room over the same storage reads it. */
const readLog = async (room: Room) => JSON.parse((await request(room, "GET", "/events?limit=1000")).body) as { events: any[]; head: number };

/** Every key in storage belongs to the store, the log (seq ≤ head), the meta key or the snapshot. */
const orphanKeys = (data: Map<string, unknown>, store: any, head: number): string[] => {
  const keys = createKeys("");
  const cells = new Set<string>();
  for (const [tableId, table] of Object.entries<any>(store?.[0] ?? {}))
    for (const [rowId, row] of Object.entries<any>(table)) for (const cellId of Object.keys(row)) cells.add(keys.cell(tableId, rowId, cellId));
  const values = new Set(Object.keys(store?.[1] ?? {}).map((id) => keys.value(id)));
  return [...data.entries()]
    .filter(([key, value]) => {
      if (key === keys.meta || key === keys.snapshot || key.startsWith(keys.snapshot + ".")) return false;
      if (key.startsWith(keys.cells)) return !cells.has(key);
      if (key.startsWith(keys.values)) return !values.has(key);
      if (key.startsWith(keys.events.at(0).slice(0, 1))) return Number(key.slice(1, 17)) > head;
      if (key.startsWith("i")) return (value as number) > head;
      if (key.startsWith(keys.auditStart)) return keys.auditSeqOf(key) > head;
      return Number(key.slice(-16)) > head;
    })
    .map(([key]) => key);
};

/** Most fault points tried inside one transaction besides its first and last few. */
const SAMPLES_PER_TRANSACTION = 8;

/**
 * Operation numbers (1-based) to fail at: in every transaction its first three and last three
 * operations (the last is its commit), and a few evenly spread in between, so that a first PUT of
 * hundreds of keys is cut at its start, its middle and its end without trying every key.
 */
const faultPoints = (transactionOf: number[]): number[] => {
  const points: number[] = [];
  let start = 0;
  for (let i = 1; i <= transactionOf.length; i++) {
    if (i < transactionOf.length && transactionOf[i] === transactionOf[start]) continue;
    const length = i - start;
    const every = Math.max(1, Math.floor(length / SAMPLES_PER_TRANSACTION));
    for (let k = 0; k < length; k++) if (k < 3 || k >= length - 3 || k % every === 0) points.push(start + k + 1);
    start = i;
  }
  return points;
};

describe.each([
  ["synchronous transactions (SQLite-backed objects)", true],
  ["asynchronous transactions (PartyKit)", false],
])("a write that fails in storage, over %s", (_, synchronous) => {
  it("at every point: memory, storage and the log agree, and nothing failed was answered as a success", { timeout: 60_000 }, async () => {
    const healthy = createFaultyStorage(synchronous, 0);
    const reference = await startRoom(healthy.storage);
    const claimed = await runScenario(reference.room, reference.connections);
    expect(claimed.every((claim) => claim.ok)).toBe(true);
    const total = healthy.operations();
    expect(total).toBeGreaterThan(10);

    for (const failAt of faultPoints(healthy.transactionOf)) {
      const faulty = createFaultyStorage(synchronous, failAt);
      const { room, connections } = await startRoom(faulty.storage);
      const claims = await runScenario(room, connections);
      const context = `fault at operation ${failAt} of ${total}`;

      const inMemory = (await request(room, "GET", "/store")).body;
      const memoryLog = await readLog(room);
      const restarted = await startRoom(faulty.storage);
      const fromStorage = (await request(restarted.room, "GET", "/store")).body;
      const log = await readLog(restarted.room);
      const parse = (text: string) => (text === "" ? undefined : JSON.parse(text));
      expect(parse(fromStorage), `${context}: memory equals storage`).toEqual(parse(inMemory));
      expect(log, `${context}: the log in memory equals the log in storage`).toEqual(memoryLog);
      expect(log.events.map((event) => event.seq), `${context}: seqs without a gap`).toEqual(log.events.map((_, i) => i + 1));
      const store = parse(fromStorage);
      expect(store, `${context}: the store is the fold of its $store events`).toEqual(foldStoreEvents(log.events));
      expect(orphanKeys(faulty.data, store, log.head), `${context}: no key left over`).toEqual([]);
      const ids = new Set(log.events.map((event) => event.id));
      for (const claim of claims.filter((claim) => claim.ok)) {
        for (const seq of claim.seqs) expect(seq, `${context}: ${claim.what} answered seq ${seq}`).toBeLessThanOrEqual(log.head);
        for (const id of claim.ids) expect(ids.has(id), `${context}: ${claim.what} kept ${id}`).toBe(true);
      }
      const failedIds = ["p-1", "q-1", "q-2", "last"].filter((id) => !claims.some((claim) => claim.ok && claim.ids.includes(id)));
      for (const id of failedIds) expect(ids.has(id), `${context}: failed write left ${id}`).toBe(false);
    }
  });
});
