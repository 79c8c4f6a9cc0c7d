// Serializes every write to the room and commits them in groups: jobs that arrive while a storage
// write is in flight are prepared one after another against the in-memory state, then written in
// one atomic storage write (group commit). A job's effects (replies, broadcasts) run only after its
// write is durable; if the write fails, every job of the group is undone and rejected.
//
// A job must do all of its awaiting (hooks, storage reads) before it changes anything: its
// synchronous tail records storage entries, undo steps and after-commit effects in the batch.
import type { RoomStorage } from "./storage.ts";

/** Marks a key deleted in a batch, so that the last write of a key in a group wins. */
const DELETE = Symbol("delete");

export interface Batch {
  /** Next seq to assign; advanced by the jobs of this group. */
  nextSeq: number;
  put(key: string, value: unknown): void;
  delete(key: string): void;
  /** A value put earlier in this group, for reads that must see uncommitted jobs. */
  pending(key: string): unknown;
  onUndo(step: () => void): void;
  onCommit(effect: () => void): void;
}

export type Job<T> = (batch: Batch) => Promise<T> | T;

/** A macrotask hop: events already queued by the runtime run before it resolves. */
const yieldToEvents = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Most jobs committed in one storage write, to bound a batch's size and latency. */
export const MAX_JOBS_PER_BATCH = 256;

export interface CommitQueue {
  run<T>(job: Job<T>): Promise<T>;
}

export const createCommitQueue = (options: {
  storage: RoomStorage;
  /** Head seq when the group starts (the last seq committed). */
  head: () => number;
  /** Adds what every group writes (the meta key) once its jobs are prepared. */
  seal: (batch: Batch) => void;
  log: (error: unknown) => void;
}): CommitQueue => {
  const queue: { job: Job<unknown>; resolve: (value: unknown) => void; reject: (error: unknown) => void }[] = [];
  let draining = false;

  const drain = async (): Promise<void> => {
    draining = true;
    while (queue.length > 0) {
      // Let the frames and requests already waiting be delivered first, so that they join this
      // group: one storage write and one broadcast frame per connection for all of them.
      await yieldToEvents();
      const group = queue.splice(0, MAX_JOBS_PER_BATCH);
      const entries = new Map<string, unknown>();
      const undo: (() => void)[] = [];
      const effects: (() => void)[] = [];
      const batch: Batch = {
        nextSeq: options.head() + 1,
        put: (key, value) => void entries.set(key, value),
        delete: (key) => void entries.set(key, DELETE),
        pending: (key) => (entries.get(key) === DELETE ? undefined : entries.get(key)),
        onUndo: (step) => void undo.push(step),
        onCommit: (effect) => void effects.push(effect),
      };
      const settled: { resolve: (value: unknown) => void; value: unknown }[] = [];
      for (const { job, resolve, reject } of group) {
        try {
          settled.push({ resolve, value: await job(batch) });
        } catch (error) {
          reject(error);
        }
      }
      if (entries.size > 0) {
        options.seal(batch);
        const puts = new Map<string, unknown>();
        const deletes: string[] = [];
        for (const [key, value] of entries) {
          if (value === DELETE) deletes.push(key);
          else puts.set(key, value);
        }
        try {
          const written = options.storage.write(puts, deletes);
          if (options.storage.gated) {
            // The runtime's output gate holds every reply and broadcast until this write is durable,
            // and resets the object if it fails: go on at once, so the next group overlaps the flush.
            written.catch(options.log);
          } else {
            await written;
          }
        } catch (error) {
          options.log(error);
          for (let i = undo.length - 1; i >= 0; i--) undo[i]();
          for (const { resolve } of settled) resolve(Promise.reject(error));
          continue;
        }
      }
      for (const { resolve, value } of settled) resolve(value);
      for (const effect of effects) {
        try {
          effect();
        } catch (error) {
          options.log(error);
        }
      }
    }
    draining = false;
  };

  return {
    run: <T>(job: Job<T>) =>
      new Promise<T>((resolve, reject) => {
        queue.push({ job, resolve: resolve as (value: unknown) => void, reject });
        if (!draining) void drain();
      }),
  };
};
