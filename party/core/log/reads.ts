// The event log's read side. Every read costs O(page): it lists at most `limit` keys of one range
// per index it uses (the log itself, or the stream/type indexes of storage/keys.ts) and never scans.
import { STORE_STREAM, STORE_TYPES } from "../../protocol.ts";
import { RoomError } from "../common/errors.ts";
import { MAX_STORED_CHARS } from "../storage/event-log.ts";
import type { Keys } from "../storage/keys.ts";
import type { RoomLimits } from "../room/config.ts";
import type { LogReader } from "../room/types.ts";
import { isClosed, parseSelectors, pinRange, type Selectors } from "./selectors.ts";
import type { RoomStorage } from "../storage/room-storage.ts";

/** An event as stored: its seq and its JSON text. */
export interface EventText {
  seq: number;
  json: string;
}

export interface RangeRead {
  events: EventText[];
  /** True when nothing in [lower, upper] is left after these events. */
  reachedEnd: boolean;
}

/** Event heads fetched per storage call while a read fills its byte budget. */
const READ_BATCH_KEYS = 32;
/** Fewest keys listed per call while a read of the whole log fills its byte budget. */
const MIN_LIST_KEYS = 8;

/**
 * An event too large for one storage value, not read yet: its text is the `chunks` stored pieces
 * at P e <seq> . <k> (storage/keys.ts), for a reader that writes it out piece by piece (live/feed.ts).
 */
export interface ChunkedEvent {
  seq: number;
  chunks: number;
}

/** How a read makes an entry of a stored event head (its text, or its chunk count), and what it weighs. */
interface EntryReader<T> {
  entry(seq: number, head: unknown): Promise<T>;
  bytes(entry: T): number;
}

const joined = (storage: RoomStorage, keys: Keys): EntryReader<EventText> => ({
  entry: async (seq, head) => ({ seq, json: typeof head === "string" ? head : await readChunks(storage, keys, seq, head as number) }),
  bytes: (entry) => entry.json.length,
});

/** Large events stay unread, and each one ends its read: its pieces are read as they are written. */
const deferred = (maxBytes: number): EntryReader<EventText | ChunkedEvent> => ({
  entry: async (seq, head) => (typeof head === "string" ? { seq, json: head } : { seq, chunks: head as number }),
  bytes: (entry) => ("json" in entry ? entry.json.length : maxBytes),
});

/** Reads events by seq, joining chunked ones; seqs that are gone are skipped. Stops at `maxBytes` (see readRange). */
export const readEventsBySeq = async (storage: RoomStorage, keys: Keys, seqs: number[], maxBytes = Infinity): Promise<EventText[]> =>
  (await readSeqs(storage, keys, seqs, { maxBytes, reader: joined(storage, keys) })).events;

/** readEventsBySeq, and whether the byte budget stopped it before the last seq. */
const readSeqs = async <T>(storage: RoomStorage, keys: Keys, seqs: number[], { maxBytes, reader }: { maxBytes: number; reader: EntryReader<T> }) => {
  const events: T[] = [];
  let bytes = 0;
  for (let i = 0; i < seqs.length; i += READ_BATCH_KEYS) {
    const batch = seqs.slice(i, i + READ_BATCH_KEYS);
    const heads = await storage.get(batch.map((seq) => keys.events.at(seq)));
    for (const seq of batch) {
      const head = heads.get(keys.events.at(seq));
      if (head === undefined) continue;
      if (bytes >= maxBytes) return { events, stoppedEarly: true };
      const entry = await reader.entry(seq, head);
      events.push(entry);
      bytes += reader.bytes(entry);
    }
  }
  return { events, stoppedEarly: false };
};

const readChunks = async (storage: RoomStorage, keys: Keys, seq: number, count: number): Promise<string> => {
  const chunkKeys = Array.from({ length: count }, (_, i) => keys.eventChunk(seq, i));
  const chunks = await storage.get(chunkKeys);
  return chunkKeys.map((key) => chunks.get(key) as string).join("");
};

/** Chunk `index` of a large event's text; undefined when the event is gone (retention trimmed it). */
export const readEventChunk = async (storage: RoomStorage, keys: Keys, seq: number, index: number): Promise<string | undefined> => {
  const key = keys.eventChunk(seq, index);
  const chunk = (await storage.get([key])).get(key);
  return typeof chunk === "string" ? chunk : undefined;
};

export interface RangeQuery {
  selection: Pick<Selectors, "stream" | "types">;
  lower: number;
  upper: number;
  limit: number;
  maxBytes: number;
}

/**
 * Up to `limit` events of [lower, upper] in seq order, chosen by stream and types, and no more
 * than `maxBytes` of event text: the read stops at the first event that reaches the budget, so it
 * always returns at least one event when one is there (an event larger than the budget alone).
 * Sizes are the JSON text's length. Memory held: the events returned plus one storage batch.
 */
export const readRange = async (
  storage: RoomStorage,
  keys: Keys,
  { maxBytes = Infinity, ...query }: Omit<RangeQuery, "maxBytes"> & { maxBytes?: number },
): Promise<RangeRead> => readEntries(storage, keys, { ...query, maxBytes }, joined(storage, keys));

/**
 * readRange, for a reader that writes large events piece by piece: an event stored in chunks is
 * returned unread (a ChunkedEvent) and is the last of its read. Memory held: the events returned,
 * each at most one storage value, within `maxBytes`.
 */
export const readRangeDeferred = async (storage: RoomStorage, keys: Keys, query: RangeQuery): Promise<{ events: (EventText | ChunkedEvent)[]; reachedEnd: boolean }> =>
  readEntries(storage, keys, query, deferred(query.maxBytes));

const readEntries = async <T extends { seq: number }>(
  storage: RoomStorage,
  keys: Keys,
  { selection, lower, upper, limit, maxBytes }: RangeQuery,
  reader: EntryReader<T>,
): Promise<{ events: T[]; reachedEnd: boolean }> => {
  if (lower > upper) return { events: [], reachedEnd: true };
  const { stream, types } = selection;
  if (stream === undefined && types === undefined) {
    const events: T[] = [];
    const headLength = keys.events.at(0).length;
    let { start, end } = keys.events.range(lower, upper);
    let bytes = 0;
    for (;;) {
      // A listing returns values, and chunk keys (up to MAX_STORED_CHARS each) lie between event
      // heads: list no more keys than the budget left could hold in chunks.
      const batchKeys = Math.max(MIN_LIST_KEYS, Math.min(limit - events.length, Math.ceil((maxBytes - bytes) / MAX_STORED_CHARS)));
      const listed = await storage.list({ start, end, limit: batchKeys });
      for (const [key, value] of listed) {
        start = key + "\0";
        if (key.length !== headLength) continue; // a chunk of the event before
        const seq = keys.events.seqOf(key);
        const entry = await reader.entry(seq, value);
        events.push(entry);
        bytes += reader.bytes(entry);
        if (events.length === limit || bytes >= maxBytes) {
          return { events, reachedEnd: seq >= upper };
        }
      }
      if (listed.size < batchKeys) return { events, reachedEnd: true };
    }
  }
  const indexes =
    stream === STORE_STREAM
      ? (types ?? STORE_TYPES).filter((type) => STORE_TYPES.includes(type)).map((type) => keys.byType(type))
      : types
        ? types.map((type) => (stream === undefined ? keys.byType(type) : keys.byStreamType(stream, type)))
        : [keys.byStream(stream!)];
  if (indexes.length === 0) return { events: [], reachedEnd: true };
  const listings = await Promise.all(indexes.map((index) => storage.list({ ...index.range(lower, upper), limit })));
  const seqs = listings
    .flatMap((listed, i) => [...listed.keys()].map((key) => indexes[i].seqOf(key)))
    .sort((a, b) => a - b);
  const { events, stoppedEarly } = await readSeqs(storage, keys, seqs.slice(0, limit), { maxBytes, reader });
  const reachedEnd = listings.every((listed) => listed.size < limit) && seqs.length <= limit && !stoppedEarly;
  return { events, reachedEnd };
};

/** `next` for a read: the last seq returned while more remains; at the end, null for a closed range, else a cursor. */
export const nextOf = (
  selectors: Selectors,
  { reachedEnd, lastSeq, lower, upper }: { reachedEnd: boolean; lastSeq: number | undefined; lower: number; upper: number },
): number | null =>
  !reachedEnd && lastSeq !== undefined
    ? lastSeq
    : isClosed(selectors) && (selectors.untilCaughtUp || selectors.upper! <= upper)
      ? null
      : Math.max(lower - 1, upper);

/** A page `{events, next, head}` as JSON text, built from the stored event texts. */
export const readPage = async (log: LogReader, limits: RoomLimits, params: URLSearchParams): Promise<string> => {
  const selectors = parseSelectors(params, limits);
  const head = log.head;
  const { lower, upper } = pinRange(selectors, head);
  const read = await readRange(log.storage, log.keys, { selection: selectors, lower, upper, limit: selectors.limit, maxBytes: limits.maxPageBytes });
  const next = nextOf(selectors, { reachedEnd: read.reachedEnd, lastSeq: read.events.at(-1)?.seq, lower, upper });
  return `{"events":[${read.events.map((event) => event.json).join(",")}],"next":${next},"head":${head}}`;
};

const HISTORY_IDS = ["table", "row", "cell", "value"];

/**
 * The audit history of one cell (`table`, `row`, `cell`), row (`table`, `row`) or value (`value`):
 * `{history: [{seq, value}] | [{seq, cells}], next, head}`, where `null` means deleted and
 * `"\uFFFDnull"` a real null, as in `$changes` data.
 */
export const readHistory = async (log: LogReader, limits: RoomLimits, params: URLSearchParams): Promise<string> => {
  const selectors = parseSelectors(params, limits, HISTORY_IDS);
  if (selectors.stream !== undefined || selectors.types !== undefined) {
    throw new RoomError("invalid_selector", "History is of the store: stream and types do not apply.");
  }
  const [table, row, cell, value] = HISTORY_IDS.map((name) => params.get(name) ?? undefined);
  const { storage, keys } = log;
  const head = log.head;
  const pinned = pinRange(selectors, head);
  // Audit entries older than what retention keeps may wait for the sweep: never show them.
  const lower = Math.max(pinned.lower, log.first);
  const upper = pinned.upper;
  const limit = selectors.limit;
  const entries: { seq: number }[] = [];
  let reachedEnd = true;
  let cursor: number | undefined;
  const list = (range: { start: string; end: string }, count: number) =>
    lower > upper ? Promise.resolve(new Map<string, unknown>()) : storage.list({ ...range, limit: count });
  if (value !== undefined && table === undefined && row === undefined && cell === undefined) {
    const index = keys.valueHistory(value);
    const listed = await list(index.range(lower, upper), limit);
    for (const [key, logged] of listed) entries.push({ seq: index.seqOf(key), value: logged } as { seq: number });
    reachedEnd = listed.size < limit;
  } else if (table !== undefined && row !== undefined && cell !== undefined && value === undefined) {
    const read = await readCellHistory(storage, keys, [table, row, cell], { lower, upper, limit });
    entries.push(...read.entries);
    reachedEnd = read.reachedEnd;
    cursor = read.cursor;
  } else if (table !== undefined && row !== undefined && cell === undefined && value === undefined) {
    // Row entries are one key per changed cell: group them by seq, `limit` seqs per page.
    const index = keys.rowHistory(table, row);
    let { start, end } = index.range(lower, upper);
    const bySeq = new Map<number, Record<string, unknown>>();
    for (let more = true; more; ) {
      const listed = await list({ start, end }, limit + 1);
      for (const [key, logged] of listed) {
        const seq = index.seqOf(key);
        if (!bySeq.has(seq) && bySeq.size === limit) {
          reachedEnd = false;
          break;
        }
        const cellId = JSON.parse(key.slice(index.at(0).length)) as string;
        if (!bySeq.has(seq)) bySeq.set(seq, Object.create(null));
        bySeq.get(seq)![cellId] = logged;
        start = key + "\0";
      }
      more = reachedEnd && listed.size === limit + 1;
    }
    for (const [seq, cells] of bySeq) entries.push({ seq, cells } as { seq: number });
  } else {
    throw new RoomError("invalid_selector", "Name a cell (table, row, cell), a row (table, row) or a value (value).");
  }
  const next = nextOf(selectors, { reachedEnd, lastSeq: cursor ?? entries.at(-1)?.seq, lower, upper });
  return JSON.stringify({ history: entries, next, head });
};

/** Row history entries a cell history page reads at most, per entry it may return. */
const CELL_SCAN_FACTOR = 10;

/**
 * A cell's history, read from its row's: the row entries hold one key per changed cell, in seq
 * order, so a cell needs no index of its own (one key fewer per change). A page reads at most
 * CELL_SCAN_FACTOR × limit row entries, so it costs O(limit) however busy the row's other cells
 * are; when that runs out first, the page may hold fewer than `limit` entries and its `cursor`
 * is the last seq it settled.
 */
const readCellHistory = async (
  storage: RoomStorage,
  keys: Keys,
  [table, row, cell]: [string, string, string],
  { lower, upper, limit }: { lower: number; upper: number; limit: number },
): Promise<{ entries: { seq: number; value: unknown }[]; reachedEnd: boolean; cursor: number | undefined }> => {
  const entries: { seq: number; value: unknown }[] = [];
  if (lower > upper) return { entries, reachedEnd: true, cursor: undefined };
  const index = keys.rowHistory(table, row);
  const cellOffset = index.at(0).length;
  const wanted = JSON.stringify(cell);
  const range = index.range(lower, upper);
  let start = range.start;
  let budget = CELL_SCAN_FACTOR * limit;
  let lastSeq: number | undefined;
  while (budget > 0) {
    // In batches of about a page, so that memory stays what a row history page holds.
    const requested = Math.min(budget, limit + 1);
    const listed = await storage.list({ start, end: range.end, limit: requested });
    for (const [key, logged] of listed) {
      budget--;
      lastSeq = index.seqOf(key);
      start = key + "\0";
      if (key.slice(cellOffset) !== wanted) continue;
      entries.push({ seq: lastSeq, value: logged ?? null });
      if (entries.length === limit) return { entries, reachedEnd: false, cursor: lastSeq };
    }
    if (listed.size < requested) return { entries, reachedEnd: true, cursor: undefined };
  }
  // Out of budget inside seq `lastSeq`: its keys after the last one read may hold this cell's.
  if (entries.at(-1)?.seq !== lastSeq) {
    const key = keys.rowCell(table, row, lastSeq!, cell);
    const logged = (await storage.get([key])).get(key);
    if (logged !== undefined) entries.push({ seq: lastSeq!, value: logged });
  }
  return { entries, reachedEnd: false, cursor: lastSeq };
};
