// RoomStorage over a Durable Object's key-value storage API, the same on Workers (SQLite-backed
// objects) and under PartyKit. One commit group is one storage transaction, so that no partial
// group can ever be on disk. Platform facts it relies on:
// - SQLite-backed objects (Workers, `new_sqlite_classes`) offer `transactionSync(callback)` and the
//   synchronous `storage.kv` API: the callback's puts and deletes commit together, and a callback
//   that throws (a value the serializer refuses, say) rolls all of them back.
// - Every object offers `transaction(async (txn) => …)`: its writes commit together, and a closure
//   that throws or rejects rolls all of them back. PartyKit's `room.storage` has no `kv`; it gets
//   this path.
// - At most 128 keys per asynchronous get/put/delete call (Durable Objects' documented limit).
// - The output gate holds every reply until the runtime has made the write durable, and resets the
//   object if that final flush fails, so nothing sent after a committed transaction can outrun it.
import type { KeyRange, RoomStorage } from "../core/storage/room-storage.ts";

/** Most keys one get/put/delete call takes (Durable Objects' documented limit). */
const MAX_KEYS_PER_CALL = 128;

/** The writes one transaction closure may make (DurableObjectTransaction). */
export interface KeyValueWriter {
  put(entries: Record<string, unknown>): Promise<void>;
  delete(keys: string[]): Promise<number>;
}

/** The subset of DurableObjectStorage (Workers) and Party.Storage (PartyKit) this needs. */
export interface KeyValueStorage extends KeyValueWriter {
  get(keys: string[]): Promise<Map<string, unknown>>;
  list(options: { start?: string; end?: string; prefix?: string; limit?: number; reverse?: boolean }): Promise<Map<string, unknown>>;
  deleteAll(): Promise<void>;
  deleteAlarm(): Promise<void>;
  transaction<T>(closure: (txn: KeyValueWriter) => Promise<T>): Promise<T>;
  /** SQLite-backed objects only. */
  transactionSync?<T>(closure: () => T): T;
  kv?: { put(key: string, value: unknown): void; delete(key: string): boolean };
}

const chunks = <T>(items: T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

/** One synchronous transaction: nothing else can run between its first write and its commit. */
const writeSync = (storage: KeyValueStorage, puts: Map<string, unknown>, deletes: string[]): void =>
  storage.transactionSync!(() => {
    for (const key of deletes) storage.kv!.delete(key);
    for (const [key, value] of puts) storage.kv!.put(key, value);
  });

/** One asynchronous transaction, its calls within the per-call key limit. */
const writeInTransaction = (storage: KeyValueStorage, puts: Map<string, unknown>, deletes: string[]): Promise<unknown> =>
  storage.transaction((txn) =>
    Promise.all([
      ...chunks(deletes, MAX_KEYS_PER_CALL).map((keys) => txn.delete(keys)),
      ...chunks([...puts], MAX_KEYS_PER_CALL).map((entries) => txn.put(Object.fromEntries(entries))),
    ]),
  );

/** True on SQLite-backed objects; an accessor that throws elsewhere counts as absent. */
const hasSyncTransactions = (storage: KeyValueStorage): boolean => {
  try {
    return typeof storage.transactionSync === "function" && typeof storage.kv?.put === "function";
  } catch {
    return false;
  }
};

export const createDurableStorage = (storage: KeyValueStorage): RoomStorage => {
  const synchronous = hasSyncTransactions(storage);
  return {
    async get(keys) {
      if (keys.length <= MAX_KEYS_PER_CALL) return storage.get(keys);
      const found = new Map<string, unknown>();
      for (const part of await Promise.all(chunks(keys, MAX_KEYS_PER_CALL).map((group) => storage.get(group)))) {
        for (const [key, value] of part) found.set(key, value);
      }
      return found;
    },
    list: (range: KeyRange) => storage.list(range),
    async write(puts, deleteKeys) {
      if (synchronous) writeSync(storage, puts, [...deleteKeys]);
      else await writeInTransaction(storage, puts, [...deleteKeys]);
    },
    async deleteAll() {
      // deleteAll() takes the alarm too only from compatibility date 2026-02-24 on (Cloudflare
      // changelog of that day), and not under PartyKit's older runtime: delete it first either way.
      await storage.deleteAlarm();
      await storage.deleteAll();
    },
  };
};
