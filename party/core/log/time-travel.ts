// The store as it was right after any log position `at` (`GET {storePath}?at=`, and what a restore
// restores). Postconditions: the content is the fold of the `$store` events up to `at`, in the
// store's insertion order; the read replays fewer than CHECKPOINT_EVENTS of them when the room has
// kept checkpoints since (checkpoints.ts), whatever the length of the log; nothing is written.
//
// Where a read starts, the newest of: a checkpoint at or before `at` (and not before first-1, or
// the events after it are gone), the base at first-1 (base.ts), or the empty store of a log never
// trimmed. A room trimmed before it kept a base has no start before its first checkpoint: `410`.
import { isSeqText, STORE_TYPES } from "../../protocol.ts";
import { RoomError } from "../common/errors.ts";
import { readBase } from "./base.ts";
import { readCheckpoint } from "./checkpoints.ts";
import type { LogReader, RoomCore } from "../room/types.ts";
import { orderedContentWrites } from "../store/ordered-content.ts";
import { replayStoreEvents } from "./snapshot.ts";
import { createStoreModel } from "../store/model.ts";

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

/** Seq of the last `$store` event in [lower, upper], or undefined: one reversed listing per store type. */
const lastStoreSeq = async ({ storage, keys }: LogReader, lower: number, upper: number): Promise<number | undefined> => {
  if (lower > upper) return undefined;
  const listings = await Promise.all(STORE_TYPES.map((type) => storage.list({ ...keys.byType(type).range(lower, upper), reverse: true, limit: 1 })));
  const seqs = listings.flatMap((listed, i) => [...listed.keys()].map((key) => keys.byType(STORE_TYPES[i]).seqOf(key)));
  return seqs.length === 0 ? undefined : Math.max(...seqs);
};

/**
 * The store right after `at` (0 ≤ at ≤ head, checked by the caller with parseAt). `current` is the
 * store as it is now, for a position at or after the last `$store` event (no replay at all).
 * `410 gone` for a position older than what retention kept.
 */
export const readStoreAt = async (log: LogReader, at: number, current: () => string | undefined): Promise<StoreAt> => {
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
  const replayed = await replayStoreEvents(storage, keys, model, start.seq + 1, at);
  const created = start.created || replayed > 0;
  const startStoreSeq = "storeSeq" in start && start.storeSeq !== undefined ? start.storeSeq : start.seq;
  const storeSeq = replayed > 0 ? (await lastStoreSeq(log, start.seq + 1, at))! : startStoreSeq;
  return { json: created ? model.toJson() : undefined, storeSeq };
};

/** The store as of position `at` (text or number, checked here) once every write queued before has settled. */
export const storeAtPosition = async (room: Pick<RoomCore, "log" | "model" | "settled">, at: string | number): Promise<StoreAt & { at: number }> => {
  await room.settled();
  const position = parseAt(String(at), room.log.head);
  const read = await readStoreAt(room.log, position, () => (room.model.hasStore ? room.model.toJson() : undefined));
  return { at: position, ...read };
};
