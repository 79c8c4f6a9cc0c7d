// RoomStorage over a Durable Object's key-value storage API, the same on Workers (SQLite-backed
// objects) and under PartyKit. Platform facts it relies on: at most 128 keys per get/put/delete
// call; writes issued with no `await` between them are coalesced into one atomic write ("automatic
// write coalescing"), and the output gate holds every reply until that write is durable.
import type { KeyRange, RoomStorage } from "../core/storage.ts";

/** Most keys one get/put/delete call takes (Durable Objects' documented limit). */
const MAX_KEYS_PER_CALL = 128;

/** The subset of DurableObjectStorage (Workers) and Party.Storage (PartyKit) this needs. */
export interface KeyValueStorage {
  get(keys: string[]): Promise<Map<string, unknown>>;
  list(options: { start?: string; end?: string; prefix?: string; limit?: number; reverse?: boolean }): Promise<Map<string, unknown>>;
  put(entries: Record<string, unknown>): Promise<void>;
  delete(keys: string[]): Promise<number>;
  deleteAll(): Promise<void>;
  deleteAlarm(): Promise<void>;
}

const chunks = <T>(items: T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

/** Issues every call at once, with no await in between, so the runtime coalesces them. */
const writeAll = (target: KeyValueStorage, puts: Map<string, unknown>, deletes: string[]): Promise<unknown> =>
  Promise.all([
    ...chunks(deletes, MAX_KEYS_PER_CALL).map((keys) => target.delete(keys)),
    ...chunks([...puts], MAX_KEYS_PER_CALL).map((entries) => target.put(Object.fromEntries(entries))),
  ]);

export const createDurableStorage = (storage: KeyValueStorage): RoomStorage => ({
  gated: true,
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
    // No await between the calls: the runtime commits them as one atomic write, whatever their
    // number (a `transaction()` would say the same thing, more slowly).
    await writeAll(storage, puts, [...deleteKeys]);
  },
  async deleteAll() {
    // deleteAll() takes the alarm too only from compatibility date 2026-02-24 on (Cloudflare
    // changelog of that day), and not under PartyKit's older runtime: delete it first either way.
    await storage.deleteAlarm();
    await storage.deleteAll();
  },
});
