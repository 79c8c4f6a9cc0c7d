// The room's state, owned here and nowhere else: the meta (log positions, times, write lock), the
// store model, the event listeners and the snapshot bookkeeping. Every change to the meta or the
// model during a write goes through one of the operations below, each of which records its undo
// step in the commit group's batch, so that a group that fails leaves memory exactly as it found
// it (storage/commit-queue.ts). Everyone else reads through the getters.
import type { Batch } from "../storage/commit-queue.ts";
import type { StoredEvent } from "../storage/event-log.ts";
import type { Keys } from "../storage/keys.ts";
import type { Meta } from "../room/types.ts";
import { SNAPSHOT_EVERY_CELLS, SNAPSHOT_EVERY_EVENTS } from "../log/snapshot.ts";
import { stampWrite } from "../room/stats.ts";
import { createStoreModel, type StoreModel, type StoreWrite } from "../store/model.ts";
import type { WriteLock } from "../storage/write-lock.ts";

export interface RoomState {
  /** The store model. Writes change it only through `commitStore`; `load` fills it before any write. */
  readonly model: StoreModel;
  /** The meta as it is now, read-only. */
  readonly meta: Readonly<Meta>;
  /** Takes the stored meta when the room loads, before any write. */
  restore(stored: Meta): void;
  /** Closes a commit group: moves the head, stamps the write times and puts the meta in the batch. */
  seal(batch: Batch, nowMs: number): void;
  /** Applies store writes to the model; its undo step also restores `storeSeq`, which `moveStore` sets. */
  commitStore(batch: Batch, writes: StoreWrite[]): void;
  /** Sets the seq the store reflects; undone by the `commitStore` of the same write. */
  moveStore(seq: number): void;
  /** Takes the write lock; an import's lock is also put in the batch (see storage/write-lock.ts). */
  lock(batch: Batch, lock: WriteLock): void;
  /** Moves what retention keeps (see log/retention.ts), with the meta key. */
  retain(batch: Batch, retained: { first?: number; auditCursor?: string | undefined }): void;
  onEvents(listener: (events: StoredEvent[]) => void): () => void;
  /** Tells every listener of events that are committed. */
  emit(events: StoredEvent[]): void;
  /**
   * Snapshot bookkeeping (snapshot.ts): how far the store ran ahead of the last snapshot,
   * whether one is scheduled, and how many chunks the stored one has. Not undone with a failed
   * group: at worst a snapshot comes a little early or late.
   */
  readonly snapshot: SnapshotBookkeeping;
  /** Marks the retention alarm asked for; false if it already was since the last one ran. */
  claimAlarm(): boolean;
  /** The alarm runs: the next write may ask for one again. */
  alarmRan(): void;
}

export interface SnapshotBookkeeping {
  /** Counts a store write of `cells` cells; true once a snapshot is due. */
  noteWrite(cells: number): boolean;
  /** Marks a snapshot scheduled; false if one already is. */
  claim(): boolean;
  /** A scheduled snapshot starts: nothing is scheduled or pending; returns the stored chunk count. */
  begin(): number;
  /** The stored snapshot now has this many chunks (written, or found on load). */
  stored(chunks: number): void;
}

/** A flag that one caller at a time takes (`claim` is false while it is taken) until it is released. */
const createLatch = () => {
  let taken = false;
  return {
    claim(): boolean {
      if (taken) return false;
      taken = true;
      return true;
    },
    release(): void {
      taken = false;
    },
  };
};

/** The snapshot bookkeeping: counters and a latch, changed only through its four steps. */
const createSnapshotBookkeeping = (): SnapshotBookkeeping => {
  let events = 0;
  let cells = 0;
  let chunks = 0;
  const scheduled = createLatch();
  return {
    noteWrite(written) {
      events++;
      cells += written;
      return events >= SNAPSHOT_EVERY_EVENTS || cells >= SNAPSHOT_EVERY_CELLS;
    },
    claim: scheduled.claim,
    begin() {
      scheduled.release();
      events = cells = 0;
      return chunks;
    },
    stored(count) {
      chunks = count;
    },
  };
};

export const createRoomState = (keys: Keys): RoomState => {
  const model = createStoreModel();
  const meta: Meta = { head: 0, storeSeq: 0, created: false, first: 1 };
  const listeners = new Set<(events: StoredEvent[]) => void>();
  const alarmRequested = createLatch();
  return {
    model,
    meta,
    restore(stored) {
      Object.assign(meta, stored);
    },
    seal(batch, nowMs) {
      const previous = { ...meta };
      meta.head = batch.nextSeq - 1;
      meta.created = model.hasStore;
      stampWrite(batch, meta, previous.head, nowMs);
      batch.put(keys.meta, { ...meta });
      batch.onUndo(() => Object.assign(meta, previous));
    },
    commitStore(batch, writes) {
      const previous = model.read(writes);
      const hadStore = model.hasStore;
      const previousStoreSeq = meta.storeSeq;
      model.commit(writes);
      batch.onUndo(() => {
        model.revert(writes, previous, hadStore);
        meta.storeSeq = previousStoreSeq;
      });
    },
    moveStore(seq) {
      meta.storeSeq = seq;
    },
    lock(batch, lock) {
      meta.writeLock = lock;
      batch.onUndo(() => delete meta.writeLock);
      // An import's lock is stored, so that a room that stops mid-import is erased on restart.
      if (lock === "import") batch.put(keys.meta, { ...meta });
    },
    retain(batch, retained) {
      const previous = { first: meta.first, auditCursor: meta.auditCursor };
      Object.assign(meta, retained);
      batch.onUndo(() => Object.assign(meta, previous));
      batch.put(keys.meta, { ...meta });
    },
    onEvents(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit(events) {
      for (const listener of listeners) listener(events);
    },
    snapshot: createSnapshotBookkeeping(),
    claimAlarm: alarmRequested.claim,
    alarmRan: alarmRequested.release,
  };
};
