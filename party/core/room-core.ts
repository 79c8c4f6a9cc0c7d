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
import type { LogReader, RoomContext, RoomCore, RoomOptions } from "./room/types.ts";
import { applyChanges } from "./write/apply-changes.ts";
import type { WriteContext } from "./write/context.ts";
import { appendEvents, putEvents } from "./write/append-events.ts";
import { lockableQueue } from "./storage/write-lock.ts";
import { putStore } from "./write/put-store.ts";

export * from "./room/types.ts";

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
    groupBroadcasts: new WeakMap(),
    room: () => core,
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
