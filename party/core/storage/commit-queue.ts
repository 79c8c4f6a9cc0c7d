// Serializes every write to the room and commits them in groups: jobs that arrive while a group is
// being written are prepared one after another against the in-memory state, then written in one
// atomic storage write (group commit).
//
// Contract (what every answer of the room rests on):
// - A job's promise resolves, and its after-commit effects (replies, broadcasts, listeners) run,
//   only after `storage.write` of its group has resolved: the group is then committed as a whole
//   (RoomStorage.write is all or nothing). On Durable Objects the output gate additionally holds
//   every reply until that commit is durable, and resets the object if the final flush fails.
// - If the write rejects, every job of the group is undone (its undo steps, newest first), its
//   promise rejects with an `internal` error, and none of its effects runs. Memory is then exactly
//   as before the group, so the next group is assigned the same seqs: nothing of the failed group
//   exists anywhere, and none of its seqs was answered.
// - A job that throws has its own batch entries, undo steps and effects taken back, so a job that
//   fails halfway cannot leave half of itself in its group.
// - Groups never overlap: the next group is prepared only once the previous one is settled, so no
//   group is ever built on top of one that may still fail.
//
// A job must do all of its awaiting (hooks, storage reads) before it changes anything: its
// synchronous tail records storage entries, undo steps and after-commit effects in the batch.
import { RoomError } from "../common/errors.ts";
import type { RoomStorage } from "./room-storage.ts";

/** Marks a key deleted in a batch, so that the last write of a key in a group wins. */
const DELETE = Symbol("delete");
/** Marks a key absent from the batch before a job put it (for taking a failed job back). */
const ABSENT = Symbol("absent");

export interface Batch {
  /** Next seq to assign; advanced by the jobs of this group. */
  nextSeq: number;
  put(key: string, value: unknown): void;
  delete(key: string): void;
  /** A value put earlier in this group, for reads that must see uncommitted jobs. */
  pending(key: string): unknown;
  onUndo(step: () => void): void;
  onCommit(effect: () => void): void;
  /**
   * This group's record of one module (`part` names which): made on first use and gone with the
   * batch, so that one write is followed through its batch alone. The parts in use: the changesets
   * the group broadcasts (live/broadcast.ts), the stamped writes it sends to synchronizer clients
   * (sync/room.ts), and the stamps recorded while the room's were not loaded (sync/mergeable-peer.ts).
   */
  part<T>(part: GroupPart<T>): T;
}

/**
 * What one module keeps for each commit group, declared by that module: `create` makes it in a
 * batch, and may register what it does once the group commits (a part made by a job that fails
 * is taken back with the job's effects).
 */
export interface GroupPart<T> {
  create(batch: Batch): T;
}

/** The common part: a list of a group's items, handed to `flush` once the group commits. */
export const listPart = <T>(flush: (items: T[]) => void): GroupPart<T[]> => ({
  create(batch) {
    const items: T[] = [];
    batch.onCommit(() => flush(items));
    return items;
  },
});

export type Job<T> = (batch: Batch) => Promise<T> | T;

/** A macrotask hop: events already queued by the runtime run before it resolves. */
const yieldToEvents = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Most jobs committed in one storage write, to bound a batch's size and latency. */
export const MAX_JOBS_PER_BATCH = 256;

export interface CommitQueue {
  run<T>(job: Job<T>): Promise<T>;
  /** True when no job is queued and no group is being prepared or written: memory is what storage holds. */
  idle(): boolean;
}

interface Queued {
  job: Job<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** One commit group being prepared: its entries, and a journal to take a failed job back. */
const createGroupBatch = (nextSeq: number) => {
  const entries = new Map<string, unknown>();
  const journal: [key: string, previous: unknown][] = [];
  const undo: (() => void)[] = [];
  const effects: (() => void)[] = [];
  const parts = new Map<GroupPart<unknown>, unknown>();
  const record = (key: string, value: unknown) => {
    journal.push([key, entries.has(key) ? entries.get(key) : ABSENT]);
    entries.set(key, value);
  };
  const batch: Batch = {
    nextSeq,
    put: record,
    delete: (key) => record(key, DELETE),
    pending: (key) => (entries.get(key) === DELETE ? undefined : entries.get(key)),
    onUndo: (step) => void undo.push(step),
    onCommit: (effect) => void effects.push(effect),
    part: <T>(part: GroupPart<T>): T => {
      if (!parts.has(part)) parts.set(part, part.create(batch));
      return parts.get(part) as T;
    },
  };
  const mark = () => ({ journal: journal.length, undo: undo.length, effects: effects.length, parts: parts.size, nextSeq: batch.nextSeq });
  /** Takes back everything recorded since `at`, newest first. */
  const rollBack = (at: ReturnType<typeof mark>) => {
    while (journal.length > at.journal) {
      const [key, previous] = journal.pop()!;
      if (previous === ABSENT) entries.delete(key);
      else entries.set(key, previous);
    }
    while (undo.length > at.undo) undo.pop()!();
    effects.length = at.effects;
    for (const part of [...parts.keys()].slice(at.parts)) parts.delete(part);
    batch.nextSeq = at.nextSeq;
  };
  return { batch, entries, undo, effects, mark, rollBack };
};

export const createCommitQueue = (options: {
  storage: RoomStorage;
  /** Head seq when the group starts (the last seq committed). */
  head: () => number;
  /** Adds what every group writes (the meta key) once its jobs are prepared. */
  seal: (batch: Batch) => void;
  log: (error: unknown) => void;
}): CommitQueue => {
  const queue: Queued[] = [];
  let draining = false;

  const commitGroup = async (group: Queued[]): Promise<void> => {
    const prepared = createGroupBatch(options.head() + 1);
    const start = prepared.mark();
    const settled: { resolve: (value: unknown) => void; reject: (error: unknown) => void; value: unknown }[] = [];
    for (const { job, resolve, reject } of group) {
      const mark = prepared.mark();
      try {
        settled.push({ resolve, reject, value: await job(prepared.batch) });
      } catch (error) {
        prepared.rollBack(mark);
        reject(error);
      }
    }
    if (prepared.entries.size > 0) {
      try {
        options.seal(prepared.batch);
        const puts = new Map<string, unknown>();
        const deletes: string[] = [];
        for (const [key, value] of prepared.entries) {
          if (value === DELETE) deletes.push(key);
          else puts.set(key, value);
        }
        await options.storage.write(puts, deletes);
      } catch (error) {
        options.log(error);
        prepared.rollBack(start);
        const failure = new RoomError("internal", "The room could not store this write; nothing of it was kept.");
        for (const { reject } of settled) reject(failure);
        return;
      }
    }
    for (const { resolve, value } of settled) resolve(value);
    for (const effect of prepared.effects) {
      try {
        effect();
      } catch (error) {
        options.log(error);
      }
    }
  };

  const drain = async (): Promise<void> => {
    draining = true;
    while (queue.length > 0) {
      // Let the frames and requests already waiting be delivered first, so that they join this
      // group: one storage write and one broadcast frame per connection for all of them.
      await yieldToEvents();
      await commitGroup(queue.splice(0, MAX_JOBS_PER_BATCH));
    }
    draining = false;
  };

  return {
    run: <T>(job: Job<T>) =>
      new Promise<T>((resolve, reject) => {
        queue.push({ job, resolve: resolve as (value: unknown) => void, reject });
        if (!draining) void drain();
      }),
    idle: () => !draining && queue.length === 0,
  };
};
