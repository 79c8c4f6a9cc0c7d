// A snapshot of the whole store, so that a room that wakes (after hibernation, eviction or a
// restart) reads a few large values and the `$store` events since, instead of one key per cell.
// The cells stay the source of truth: the snapshot only speeds up loading, and a room whose
// snapshot is missing, too old, or behind what retention kept loads cell by cell as before.
//
// Layout (storage/keys.ts): P k → { seq, chunks }: the store as of $store seq `seq`, its JSON split into
// `chunks` strings at P k.<i>. Written in the commit queue, so it is consistent with that seq.
import { changesFromLog, EVENT_CHANGES, STORE_STREAM } from "../../protocol.ts";
import type { Changes, Content } from "../store/changes.ts";
import type { Batch } from "../storage/commit-queue.ts";
import { MAX_STORED_CHARS, type RoomEvent } from "../storage/event-log.ts";
import { readRange } from "./reads.ts";
import type { Keys } from "../storage/keys.ts";
import { orderedContentWrites } from "../store/ordered-content.ts";
import type { RoomStorage } from "../storage/room-storage.ts";
import type { StoreModel } from "../store/model.ts";

/** A snapshot further behind the store than this many seqs is not worth replaying from. */
export const SNAPSHOT_MAX_REPLAY_SEQS = 20_000;
/** After a load that replayed more `$store` events than this, a new snapshot is written. */
export const SNAPSHOT_REWRITE_EVENTS = 500;
/** A snapshot is rewritten after this many `$store` events, or this many cell writes, since the last. */
export const SNAPSHOT_EVERY_EVENTS = 1_000;
export const SNAPSHOT_EVERY_CELLS = 10_000;
/** Pages of events read while replaying: at most this many events, and this many characters of them. */
export const REPLAY_PAGE_EVENTS = 1_000;
export const REPLAY_PAGE_CHARS = 4 * 1024 * 1024;

interface SnapshotHeader {
  seq: number;
  chunks: number;
}

/** Puts a snapshot of the store as it is now (as of `seq`) into the batch. */
export const putSnapshot = (
  batch: Pick<Batch, "put" | "delete">,
  keys: Keys,
  model: StoreModel,
  { seq, previousChunks }: { seq: number; previousChunks: number },
): number => {
  const json = model.toJson();
  const chunks = Math.max(1, Math.ceil(json.length / MAX_STORED_CHARS));
  for (let i = 0; i < chunks; i++) batch.put(keys.snapshotChunk(i), json.slice(i * MAX_STORED_CHARS, (i + 1) * MAX_STORED_CHARS));
  for (let i = chunks; i < previousChunks; i++) batch.delete(keys.snapshotChunk(i));
  batch.put(keys.snapshot, { seq, chunks } satisfies SnapshotHeader);
  return chunks;
};

export interface SnapshotLoad {
  /** False when the room must load cell by cell. */
  loaded: boolean;
  /** `$store` events applied on top of the snapshot. */
  replayed: number;
  /** Chunks of the snapshot found (to delete the extra ones when it shrinks). */
  chunks: number;
}

/** Loads the model from the snapshot and the `$store` events after it, if that is possible. */
export const loadSnapshot = async (
  storage: RoomStorage,
  keys: Keys,
  model: StoreModel,
  log: { storeSeq: number; first: number },
): Promise<SnapshotLoad> => {
  const header = (await storage.get([keys.snapshot])).get(keys.snapshot) as SnapshotHeader | undefined;
  if (!header) return { loaded: false, replayed: 0, chunks: 0 };
  const replayable = header.seq >= log.first - 1 && log.storeSeq - header.seq <= SNAPSHOT_MAX_REPLAY_SEQS;
  if (!replayable) return { loaded: false, replayed: 0, chunks: header.chunks };
  const chunkKeys = Array.from({ length: header.chunks }, (_, i) => keys.snapshotChunk(i));
  const chunks = await storage.get(chunkKeys);
  if (chunkKeys.some((key) => typeof chunks.get(key) !== "string")) return { loaded: false, replayed: 0, chunks: header.chunks };
  // In the order the snapshot lists its ids: the order the store had (see store/ordered-content.ts).
  model.commit(orderedContentWrites(chunkKeys.map((key) => chunks.get(key)).join("")));
  const replayed = await replayStoreEvents(storage, keys, model, { from: header.seq + 1, to: log.storeSeq });
  return { loaded: true, replayed, chunks: header.chunks };
};

/** Applies the `$store` events of [from, to] to the model, in seq order; returns how many. */
export const replayStoreEvents = async (storage: RoomStorage, keys: Keys, model: StoreModel, { from, to }: { from: number; to: number }): Promise<number> => {
  let replayed = 0;
  for (let lower = from; lower <= to; ) {
    const read = await readRange(storage, keys, { selection: { stream: STORE_STREAM }, lower, upper: to, limit: REPLAY_PAGE_EVENTS, maxBytes: REPLAY_PAGE_CHARS });
    for (const { json } of read.events) {
      applyStoreEvent(model, JSON.parse(json) as RoomEvent);
      replayed++;
    }
    if (read.reachedEnd) break;
    lower = read.events.at(-1)!.seq + 1;
  }
  return replayed;
};

/** Applies one `$store` event to the model, as the room applied it. */
export const applyStoreEvent = (model: StoreModel, event: Pick<RoomEvent, "type" | "data">): void => {
  if (event.type === EVENT_CHANGES) model.commit(model.plan(changesFromLog(event.data as [Record<string, unknown>, Record<string, unknown>]) as Changes));
  else model.commit(model.planReplace(event.data as Content));
};
