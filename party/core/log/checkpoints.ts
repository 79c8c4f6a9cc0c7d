// Checkpoints: the store as of a $store seq, kept as the log grows, so that the store at any log
// position is a checkpoint plus fewer than CHECKPOINT_EVENTS `$store` events (time-travel.ts).
//
// Rule: the $store event that first reaches a multiple of `every` (its seq s with
// floor(s / every) > floor(previous $store seq / every)) writes a checkpoint of the store as of s, in
// its own commit batch. Every $store event between two checkpoints then lies in one window of
// `every` seqs after the first, so a read replays fewer than `every` of them. The rule needs no
// counter: it survives restarts, and a room stored before checkpoints existed starts getting them
// at its next crossing (reads before that replay from the base, as the log always allowed).
// Cost: one serialization of the store every `every` seqs at most (the model caches each table's
// JSON, so only tables changed since are serialized again), and its chunks in that batch.
//
// Layout (storage/keys.ts): P t <seq> → { chunks, created }; its JSON in `chunks` strings at
// P t.<seq>.<i>, each at most MAX_STORED_CHARS (well under a storage value's 2 MB). A checkpoint is
// never rewritten: a reader that found its header finds its chunks, until retention deletes both.
import type { EntrySink } from "./base.ts";
import { MAX_STORED_CHARS } from "../storage/event-log.ts";
import type { Keys } from "../storage/keys.ts";
import type { RoomStorage } from "../storage/room-storage.ts";

interface CheckpointHeader {
  chunks: number;
  /** Whether a store existed as of the checkpoint (an empty store is still a store). */
  created: boolean;
}

export interface Checkpoint {
  seq: number;
  /** `[tables, values]` in the store's insertion order. */
  json: string;
  created: boolean;
}

/** Most checkpoints one retention run deletes. */
export const MAX_CHECKPOINTS_TRIMMED_PER_RUN = 32;

/** True when the $store event `seq`, after the one at `previous`, reaches a new window of `every` seqs. */
export const isCheckpointDue = (previous: number, seq: number, every: number): boolean =>
  Math.floor(seq / every) > Math.floor(previous / every);

/** Puts a checkpoint of the store as of `seq` (its JSON, from the model) in the sink. */
export const putCheckpoint = (sink: Pick<EntrySink, "put">, keys: Keys, checkpoint: Checkpoint): void => {
  const { seq, json, created } = checkpoint;
  const chunks = Math.max(1, Math.ceil(json.length / MAX_STORED_CHARS));
  for (let i = 0; i < chunks; i++) sink.put(keys.checkpointChunk(seq, i), json.slice(i * MAX_STORED_CHARS, (i + 1) * MAX_STORED_CHARS));
  sink.put(keys.checkpoints.at(seq), { chunks, created } satisfies CheckpointHeader);
};

/** The newest checkpoint at or before `seq` (and at or after `lowest`), or undefined. */
export const readCheckpoint = async (storage: RoomStorage, keys: Keys, lowest: number, seq: number): Promise<Checkpoint | undefined> => {
  if (seq < lowest) return undefined;
  const listed = await storage.list({ ...keys.checkpoints.range(lowest, seq), reverse: true, limit: 1 });
  const [key, value] = [...listed][0] ?? [];
  if (key === undefined) return undefined;
  const found = keys.checkpoints.seqOf(key);
  const header = value as CheckpointHeader;
  const chunkKeys = Array.from({ length: header.chunks }, (_, i) => keys.checkpointChunk(found, i));
  const chunks = await storage.get(chunkKeys);
  // Written in one batch with their header: a missing chunk is storage that was damaged.
  if (chunkKeys.some((chunk) => typeof chunks.get(chunk) !== "string")) return readCheckpoint(storage, keys, lowest, found - 1);
  return { seq: found, json: chunkKeys.map((chunk) => chunks.get(chunk)).join(""), created: header.created };
};

/**
 * The checkpoints retention deletes once it keeps events from `first` on: those before first-1,
 * which no read can start from any more (the events after them are gone; the base stands at
 * first-1). At most MAX_CHECKPOINTS_TRIMMED_PER_RUN a run; the next runs take the rest.
 */
export const trimCheckpoints = async (storage: RoomStorage, keys: Keys, first: number): Promise<{ put(sink: EntrySink): void; more: boolean }> => {
  const listed = first < 2 ? [] : [...(await storage.list({ ...keys.checkpoints.range(0, first - 2), limit: MAX_CHECKPOINTS_TRIMMED_PER_RUN }))];
  return {
    more: listed.length === MAX_CHECKPOINTS_TRIMMED_PER_RUN,
    put(sink) {
      for (const [key, value] of listed) {
        const seq = keys.checkpoints.seqOf(key);
        for (let i = 0; i < (value as CheckpointHeader).chunks; i++) sink.delete(keys.checkpointChunk(seq, i));
        sink.delete(key);
      }
    },
  };
};
