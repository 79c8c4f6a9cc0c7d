// The room: the authoritative store and its event log, transport-free. Adapters give it storage,
// config, hooks and the open connections; it gives them `handleRequest` and `handleMessage`.
// This file only wires the room together: its state lives in write/state.ts, and each write is a
// plain function over an explicit context (write/context.ts) in a file of its own, with its
// postconditions at the top. What all of them share:
// Postconditions of every write operation: the store update and its event are in one atomic
// storage write; nothing is broadcast, acknowledged or answered before that write is durable; a
// rejected or failed operation leaves memory and storage as they were.
import { createBroadcaster } from "./live/broadcast.ts";
import { createCommitQueue } from "./storage/commit-queue.ts";
import { createKeys } from "./storage/keys.ts";
import { lockWrites } from "./write/lock.ts";
import { loadRoom } from "./write/load.ts";
import { createMemoryGauge } from "./room/memory.ts";
import { handleAlarm } from "./alarm.ts";
import { createRoomState } from "./write/state.ts";
import type { ApplyOptions, ChangesResult, LogReader, PutResult, RoomContext, RoomOptions } from "./room/types.ts";
import type { Changes, Content } from "./store/changes.ts";
import type { Batch, Job } from "./storage/commit-queue.ts";
import type { EventInput, StoredEvent } from "./storage/event-log.ts";
import type { Keys } from "./storage/keys.ts";
import type { MemoryGauge } from "./room/memory.ts";
import type { StoreModel } from "./store/model.ts";
import type { WriteLock } from "./storage/write-lock.ts";
import { applyChanges } from "./write/apply-changes.ts";
import type { WriteContext } from "./write/context.ts";
import { appendEvents, putEvents } from "./write/append-events.ts";
import { lockableQueue } from "./storage/write-lock.ts";
import { putStore } from "./write/put-store.ts";

export * from "./room/types.ts";

/**
 * The room core: what the entry (index.ts) wires into the HTTP and WebSocket surfaces. No other
 * module of the core is given it: each declares the few members it uses (its port), and the entry
 * hands it this object or a part of it, which the port's type then bounds.
 */
export interface RoomCore {
  readonly options: RoomContext;
  readonly log: LogReader;
  readonly keys: Keys;
  readonly model: StoreModel;
  load(): Promise<void>;
  /**
   * Applies a changeset from a connection or a request: hooks, write, broadcast. With an `id`,
   * it becomes the $changes event's id, and a changeset with an id already applied is not applied again.
   */
  applyChanges(changes: Changes, origin: unknown, options?: ApplyOptions): Promise<ChangesResult>;
  /** A PUT of the whole store: first save, or (with `ifMatch`, a seq or `"*"` for any) an atomic replace. */
  putStore(content: Content, origin: unknown, ifMatch?: number | "*"): Promise<PutResult>;
  /**
   * Appends application events, all or nothing; returns them (duplicates as first stored). With a
   * message id `mid`, an append with that mid already stored is answered with its events again.
   */
  appendEvents(inputs: EventInput[], ifMatch?: number, mid?: string): Promise<StoredEvent[]>;
  /**
   * Runs a job in the next commit group, with the room's writes (storage/commit-queue.ts): for modules
   * that put their own entries in the room's atomic writes (synchronizer stamps, Durable Streams).
   */
  run<T>(job: Job<T>): Promise<T>;
  /**
   * Resolves once every write queued before it has settled: stored, or failed and rolled back. The
   * store model changes while a group is prepared, before it is stored; what a read sends after
   * this is kept (GET {storePath}, a synchronizer client's answers).
   */
  settled(): Promise<void>;
  /**
   * Takes the write lock (storage/write-lock.ts) in a commit group, after every write queued before it;
   * with `ifEmpty`, only in a room with no store and no events (else 409 `conflict`).
   */
  lockWrites(lock: WriteLock, options?: { ifEmpty?: boolean }): Promise<void>;
  /** Puts events in a job's batch, next to the job's own keys; listeners hear them once it commits. */
  putEvents(batch: Batch, inputs: (EventInput & { stream: string })[]): StoredEvent[];
  /** Runs retention from the alarm; asks for another alarm while work is left. */
  handleAlarm(): Promise<void>;
  /** Bytes the room's reader queues hold (SSE streams, subscriptions). */
  readonly memory: MemoryGauge;
  /** Listens to every committed event, in seq order. */
  onEvents(listener: (events: StoredEvent[]) => void): () => void;
}

/** Resolves the options once: the clock and timers, the id source and the logger every module uses. */
export const createRoomContext = (options: RoomOptions): RoomContext => ({
  ...options,
  now: options.now ?? Date.now,
  setTimer: options.setTimer ?? ((run, ms) => void setTimeout(run, ms)),
  newId: options.newId ?? (() => crypto.randomUUID()),
  logger: options.logger ?? { error: () => {} },
});

export const createRoomCore = (rawOptions: RoomOptions): RoomCore => {
  const options = createRoomContext(rawOptions);
  const { storage, config, hooks, now, newId } = options;
  const keys = createKeys(config.storagePrefix);
  const state = createRoomState(keys);
  const { meta, model } = state;
  const logError = (error: unknown) => options.logger.error("roomstore: storage write failed", error);

  // Every write runs in this queue; its seal closes each commit group with the meta (write/state.ts).
  const queue = lockableQueue(
    createCommitQueue({ storage, head: () => meta.head, seal: (batch) => state.seal(batch, now()), log: logError }),
    meta,
  );

  const broadcaster = createBroadcaster({
    prefix: config.messagePrefix,
    connections: options.connections,
    currentOf: (changes) => model.currentOf(changes),
    now,
  });

  /** The log as readers see it: positions and committed events, nothing to change. */
  const logReader: LogReader = {
    storage,
    keys,
    get head() {
      return meta.head;
    },
    get first() {
      return meta.first;
    },
    get storeSeq() {
      return meta.storeSeq;
    },
    get createdAt() {
      return meta.createdAt;
    },
    get lastWrite() {
      return meta.lastWrite;
    },
    onEvents: (listener) => state.onEvents(listener),
  };

  const ctx: WriteContext = {
    storage,
    keys,
    config,
    hooks,
    options,
    now,
    newId,
    logError,
    state,
    queue,
    broadcaster,
    log: logReader,
    earlyAsks: { inFlight: 0 },
  };

  const core: RoomCore = {
    options,
    log: logReader,
    keys,
    model,
    run: (job) => queue.run(job),
    // A failed group has been rolled back when its jobs hear of it; a locked room prepares nothing.
    // An idle queue has nothing to wait for: a read then costs no trip through it (GET of the store).
    settled: () => (queue.idle() ? Promise.resolve() : queue.run(() => undefined).catch(() => undefined)),
    lockWrites: (lock, lockOptions) => lockWrites(ctx, lock, lockOptions),
    load: () => loadRoom(ctx),
    applyChanges: (changes, origin, applyOptions) => applyChanges(ctx, changes, origin, applyOptions),
    putStore: (content, origin, ifMatch) => putStore(ctx, content, origin, ifMatch),
    appendEvents: (inputs, ifMatch, mid) => appendEvents(ctx, inputs, ifMatch, mid),
    memory: createMemoryGauge(),
    putEvents: (batch, inputs) => putEvents(ctx, batch, inputs),
    handleAlarm: () => handleAlarm(ctx),
    onEvents: logReader.onEvents,
  };

  return core;
};
