// The base: the store as of seq first-1, the state the oldest kept event applies to. Retention
// keeps it as it trims (folding the `$store` events it deletes into it), so that a room whose log
// was trimmed can still be exported whole (the export's base line) and loaded from its log in
// insertion order when it has no usable snapshot. A room whose log was never trimmed needs none:
// its base is the empty store.
//
// Layout (storage/keys.ts): P f → { seq, chunks, created }, the store's JSON split into `chunks` strings
// at P f.<i>, as the snapshot is.
import { STORE_STREAM, type RoomEvent } from "../../protocol.ts";
import { MAX_STORED_CHARS } from "../storage/event-log.ts";
import type { EventText } from "./reads.ts";
import type { Keys } from "../storage/keys.ts";
import { orderedContentWrites } from "../store/ordered-content.ts";
import { applyStoreEvent, replayStoreEvents } from "./snapshot.ts";
import type { RoomStorage } from "../storage/room-storage.ts";
import { createStoreModel, type StoreModel } from "../store/model.ts";

interface BaseHeader {
  seq: number;
  chunks: number;
  /** Whether a store existed as of `seq` (an empty store is still a store). */
  created: boolean;
  /** Seq of the last $store event at or before `seq` (bases from before checkpoints lack it). */
  storeSeq?: number;
}

export interface Base {
  seq: number;
  /** `[tables, values]` in the store's insertion order. */
  json: string;
  created: boolean;
  chunks: number;
  storeSeq?: number;
}

/** Where a base's entries go: a commit batch, or the import's own writes. */
export interface EntrySink {
  put(key: string, value: unknown): void;
  delete(key: string): void;
}

/** The stored base, or undefined when the room has none. */
export const readBase = async (storage: RoomStorage, keys: Keys): Promise<Base | undefined> => {
  const header = (await storage.get([keys.base])).get(keys.base) as BaseHeader | undefined;
  if (!header) return undefined;
  const chunkKeys = Array.from({ length: header.chunks }, (_, i) => keys.baseChunk(i));
  const chunks = await storage.get(chunkKeys);
  return { ...header, json: chunkKeys.map((key) => chunks.get(key)).join("") };
};

/** Puts a base in the sink, deleting the chunks a larger earlier one left. */
export const putBase = (sink: EntrySink, keys: Keys, base: Omit<Base, "chunks">, previousChunks = 0): void => {
  const { json } = base;
  const chunks = Math.max(1, Math.ceil(json.length / MAX_STORED_CHARS));
  for (let i = 0; i < chunks; i++) sink.put(keys.baseChunk(i), json.slice(i * MAX_STORED_CHARS, (i + 1) * MAX_STORED_CHARS));
  for (let i = chunks; i < previousChunks; i++) sink.delete(keys.baseChunk(i));
  const header: BaseHeader = { seq: base.seq, chunks, created: base.created };
  if (base.storeSeq !== undefined) header.storeSeq = base.storeSeq;
  sink.put(keys.base, header);
};

const EMPTY_CONTENT = "[{},{}]";

/**
 * The base once retention has trimmed `trimmed` (the events of [first, newFirst-1], in seq
 * order): the old base with their `$store` events folded in. Undefined when the room was trimmed
 * before bases were kept (first > 1 with no base): it has none, and cannot get one.
 * Holds a copy of the store in memory while it folds.
 */
export const advanceBase = async (
  storage: RoomStorage,
  keys: Keys,
  { first, newFirst, trimmed }: { first: number; newFirst: number; trimmed: EventText[] },
): Promise<{ put(sink: EntrySink): void } | undefined> => {
  const storeEvents = trimmed.filter(({ json }) => (JSON.parse(json) as RoomEvent).stream === STORE_STREAM);
  if (storeEvents.length === 0) {
    // The store as of newFirst-1 is the store as of first-1: only the header moves (no O(store) work).
    const header = (await storage.get([keys.base])).get(keys.base) as BaseHeader | undefined;
    if (header?.seq === first - 1) return { put: (sink) => sink.put(keys.base, { ...header, seq: newFirst - 1 } satisfies BaseHeader) };
  }
  const old = await readBase(storage, keys);
  if (first > 1 && old?.seq !== first - 1) return undefined;
  const model = createStoreModel();
  model.commit(orderedContentWrites(old?.json ?? EMPTY_CONTENT));
  let created = old?.created ?? false;
  let storeSeq = old?.storeSeq ?? (first === 1 ? 0 : undefined);
  for (const { seq, json } of storeEvents) {
    applyStoreEvent(model, JSON.parse(json) as RoomEvent);
    created = true;
    storeSeq = seq;
  }
  const base = { seq: newFirst - 1, json: model.toJson(), created, storeSeq };
  return { put: (sink) => putBase(sink, keys, base, old?.chunks) };
};

/**
 * Loads the model from the base and the `$store` events after it, which gives the store in its
 * insertion order (cell keys list in key order instead). False when the room has no base for a
 * trimmed log; then only its cells can be loaded.
 */
export const loadFromLog = async (
  storage: RoomStorage,
  keys: Keys,
  model: StoreModel,
  log: { first: number; storeSeq: number },
): Promise<boolean> => {
  if (log.first > 1) {
    const base = await readBase(storage, keys);
    if (base?.seq !== log.first - 1) return false;
    model.commit(orderedContentWrites(base.json));
  }
  await replayStoreEvents(storage, keys, model, { from: log.first, to: log.storeSeq });
  return true;
};
