// The narrow storage interface the room core owns, and its in-memory implementation for unit tests.
// The real one (adapters/durable-storage.ts) wraps a Durable Object's transactional key-value
// storage, which both runtimes provide (`ctx.storage` on Workers, `room.storage` on PartyKit).

export interface KeyRange {
  /** First key, included. */
  start?: string;
  /** Key after the last, excluded. */
  end?: string;
  prefix?: string;
  limit?: number;
  reverse?: boolean;
}

export interface RoomStorage {
  /** The values of those keys that exist. */
  get(keys: string[]): Promise<Map<string, unknown>>;
  /** Keys in the range, in key order (reversed on request). */
  list(range: KeyRange): Promise<Map<string, unknown>>;
  /** Erases every key and any pending alarm: the room's storage is then as new (DELETE, a failed import). */
  deleteAll(): Promise<void>;
  /**
   * Puts and deletes, all or nothing: when the promise rejects, none of them was made. The room
   * answers a write only after this resolves.
   */
  write(puts: Map<string, unknown>, deletes: Iterable<string>): Promise<void>;
}

const inRange = (key: string, { start, end, prefix }: KeyRange): boolean =>
  (start === undefined || key >= start) &&
  (end === undefined || key < end) &&
  (prefix === undefined || key.startsWith(prefix));

/** Keeps values as structured clones, as Durable Object storage does. */
export const createMemoryStorage = (entries = new Map<string, unknown>()): RoomStorage & {
  entries: Map<string, unknown>;
} => ({
  entries,
  async get(keys) {
    const found = new Map<string, unknown>();
    for (const key of keys) if (entries.has(key)) found.set(key, structuredClone(entries.get(key)));
    return found;
  },
  async list(range) {
    const keys = [...entries.keys()].filter((key) => inRange(key, range)).sort();
    if (range.reverse) keys.reverse();
    const limited = range.limit === undefined ? keys : keys.slice(0, range.limit);
    return new Map(limited.map((key) => [key, structuredClone(entries.get(key))]));
  },
  async write(puts, deletes) {
    for (const key of deletes) entries.delete(key);
    for (const [key, value] of puts) entries.set(key, structuredClone(value));
  },
  async deleteAll() {
    entries.clear();
  },
});
