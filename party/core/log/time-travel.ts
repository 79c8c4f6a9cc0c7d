// The store as it was right after any log position `at` (`GET {storePath}?at=`, and what a restore
// restores). Postconditions: the content is the fold of the `$store` events up to `at`, in the
// store's insertion order; the read replays fewer than CHECKPOINT_EVENTS of them when the room has
// kept checkpoints since (checkpoints.ts), whatever the length of the log; nothing is written.
//
// Where a read starts, the newest of: a checkpoint at or before `at` (and not before first-1, or
// the events after it are gone), the base at first-1 (base.ts), or the empty store of a log never
// trimmed. A room trimmed before it kept a base has no start before its first checkpoint: `410`.
// A read that replays across windows with no checkpoint (a room stored before checkpoints, an
// imported log) puts the checkpoints it passes, so that such a room heals as it is read.
import { isSeqText, STORE_STREAM } from "../../protocol.ts";
import { RoomError } from "../common/errors.ts";
import { readBase } from "./base.ts";
import { isCheckpointDue, putCheckpoint, readCheckpoint, type Checkpoint } from "./checkpoints.ts";
import type { LogReader, RoomContext } from "../room/types.ts";
import type { Job } from "../storage/commit-queue.ts";
import { orderedContentWrites } from "../store/ordered-content.ts";
import { applyStoreEvent, REPLAY_PAGE_CHARS, REPLAY_PAGE_EVENTS } from "./snapshot.ts";
import { readRange } from "./reads.ts";
import type { RoomEvent } from "../storage/event-log.ts";
import { createStoreModel, type StoreModel } from "../store/model.ts";

export interface StoreAt {
  /** `[tables, values]` JSON; undefined when no store existed yet at that position. */
  json: string | undefined;
  /** Seq of the last `$store` event at or before the position (0: none): the read's ETag. */
  storeSeq: number;
}

/** Reads the `at` parameter: a seq from 0 to the head, else `400`. */
export const parseAt = (text: string, head: number): number => {
  const at = isSeqText(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(at)) throw new RoomError("bad_request", `at must be a log position (a seq from 0 to ${head}), not ${JSON.stringify(text.slice(0, 40))}.`);
  if (at > head) throw new RoomError("bad_request", `at ${at} is past the head of the log (${head}).`);
  return at;
};

/** What a read may do besides reading: put the checkpoints its replay passed and the room lacked. */
export interface CheckpointHealer {
  /** CHECKPOINT_EVENTS: the windows of seqs a checkpoint is due in (checkpoints.ts). */
  every: number;
  /** Puts one checkpoint in a commit group of the room's; a failure only costs later reads their speed. */
  put(checkpoint: Checkpoint): Promise<void>;
}

/**
 * Applies the `$store` events of [from, to] to the model in seq order, a bounded page at a time.
 * Where the replay reaches a new window of `every` seqs (after `previous`, the $store seq it starts
 * from), the room had no checkpoint there (the read started from the newest one): it is put then,
 * so that the next read there replays less. Returns how many events it applied, and the last seq.
 */
const replay = async (log: LogReader, model: StoreModel, range: { from: number; to: number; previous: number }, healer?: CheckpointHealer) => {
  let replayed = 0;
  let last = range.previous;
  for (let lower = range.from; lower <= range.to; ) {
    const read = await readRange(log.storage, log.keys, { selection: { stream: STORE_STREAM }, lower, upper: range.to, limit: REPLAY_PAGE_EVENTS, maxBytes: REPLAY_PAGE_CHARS });
    for (const { seq, json } of read.events) {
      applyStoreEvent(model, JSON.parse(json) as RoomEvent);
      replayed++;
      if (healer && isCheckpointDue(last, seq, healer.every)) await healer.put({ seq, json: model.toJson(), created: true });
      last = seq;
    }
    if (read.reachedEnd) break;
    lower = read.events.at(-1)!.seq + 1;
  }
  return { replayed, last };
};

/**
 * The store right after `at` (0 ≤ at ≤ head, checked by the caller with parseAt). `current` is the
 * store as it is now, for a position at or after the last `$store` event (no replay at all).
 * `410 gone` for a position older than what retention kept. With a `healer`, a replay that passes
 * windows without a checkpoint (a room stored before checkpoints, an imported log) puts them.
 */
export const readStoreAt = async (log: LogReader, at: number, current: () => string | undefined, healer?: CheckpointHealer): Promise<StoreAt> => {
  const { storage, keys, first } = log;
  if (at < first - 1) throw new RoomError("gone", `Retention kept the log from seq ${first} on: the store is known from position ${first - 1}, not ${at}.`);
  if (at >= log.storeSeq) return { json: current(), storeSeq: log.storeSeq };
  const checkpoint = await readCheckpoint(storage, keys, first - 1, at);
  const base = first > 1 && (checkpoint?.seq ?? -1) < first - 1 ? await readBase(storage, keys) : undefined;
  const start =
    checkpoint ??
    (first === 1 ? { seq: 0, json: undefined, created: false, storeSeq: 0 } : base?.seq === first - 1 ? base : undefined);
  if (!start) throw new RoomError("gone", `This room's log was trimmed before it kept a base of its store: the store is known from its first checkpoint on, not at ${at}.`);
  const model = createStoreModel();
  if (start.json !== undefined) model.commit(orderedContentWrites(start.json));
  const previous = "storeSeq" in start && start.storeSeq !== undefined ? start.storeSeq : start.seq;
  const { replayed, last } = await replay(log, model, { from: start.seq + 1, to: at, previous }, healer);
  return { json: start.created || replayed > 0 ? model.toJson() : undefined, storeSeq: last };
};

/** What a read of the store at a position uses of the room. */
export interface TimeTravelPort {
  readonly options: Pick<RoomContext, "config">;
  readonly log: LogReader;
  readonly model: Pick<StoreModel, "hasStore" | "toJson">;
  /** Resolves once every write queued before it has settled: a read sees only what is kept. */
  settled(): Promise<void>;
  /** Runs a job in the next commit group: where a read puts the checkpoints it found missing. */
  run<T>(job: Job<T>): Promise<T>;
}

/**
 * The store as of position `at` (text or number, checked here) once every write queued before has
 * settled; the checkpoints its replay finds missing are put in the room's commit queue.
 */
export const storeAtPosition = async (room: TimeTravelPort, at: string | number): Promise<StoreAt & { at: number }> => {
  await room.settled();
  const position = parseAt(String(at), room.log.head);
  const healer: CheckpointHealer = {
    every: room.options.config.limits.checkpointEvents,
    // A room that is write-locked (an import, a DELETE) keeps its reads, without the checkpoint.
    put: (checkpoint) => room.run((batch) => putCheckpoint(batch, room.log.keys, checkpoint)).catch(() => undefined),
  };
  const read = await readStoreAt(room.log, position, () => (room.model.hasStore ? room.model.toJson() : undefined), healer);
  return { at: position, ...read };
};
