// What every write operation of the room gets as its first argument: the room's storage, keys,
// config and hooks, the clock, the id source and the logger (resolved once, room-core.ts), the room's
// state (state.ts, the only place it changes), the log as readers see it, the commit queue every
// write runs in, and the broadcaster; never the whole room. Also the few steps the writes share:
// numbering events in a batch, and telling listeners and asking for the retention alarm once a
// group is committed.
import type { Broadcaster } from "../live/broadcast.ts";
import type { Batch, CommitQueue } from "../storage/commit-queue.ts";
import type { RoomConfig } from "../room/config.ts";
import type { AppendContext, StoredEvent } from "../storage/event-log.ts";
import type { RoomHooks } from "../room/hooks.ts";
import type { Keys } from "../storage/keys.ts";
import { hasRetention, RETENTION_DELAY_MS } from "../log/retention.ts";
import type { RoomState } from "./state.ts";
import type { LogReader, RoomContext } from "../room/types.ts";
import type { RoomStorage } from "../storage/room-storage.ts";

export interface WriteContext {
  readonly storage: RoomStorage;
  readonly keys: Keys;
  readonly config: RoomConfig;
  readonly hooks: RoomHooks;
  readonly options: RoomContext;
  readonly now: () => number;
  readonly newId: () => string;
  /** Logs a failed storage write or alarm request (nothing else is logged from here). */
  readonly logError: (error: unknown) => void;
  readonly state: RoomState;
  /** The log as its readers see it (retention, delivery): positions and committed events. */
  readonly log: LogReader;
  /** The commit queue, refusing every job while the room is write-locked (storage/write-lock.ts). */
  readonly queue: CommitQueue;
  /** Queues a group's changesets in its batch, to broadcast once it is durable (live/broadcast.ts). */
  readonly broadcaster: Broadcaster;
  /** Validation requests started as their frames arrived and not yet answered (write/apply-changes.ts). */
  readonly earlyAsks: { inFlight: number };
}

/** Where the events of a batch are numbered from: the batch's next seq, at the clock's time now. */
export const eventContext = (ctx: WriteContext, batch: Batch): AppendContext => ({
  keys: ctx.keys,
  room: ctx.options.name,
  seq: batch.nextSeq,
  ts: new Date(ctx.now()).toISOString(),
  newId: ctx.newId,
  put: batch.put,
});

/**
 * Once the batch commits: tells the listeners of the events, and asks for the retention alarm
 * if the room retains and has not asked since the last alarm ran.
 */
export const emitAfterCommit = (ctx: WriteContext, batch: Batch, events: StoredEvent[]): void =>
  batch.onCommit(() => {
    ctx.state.emit(events);
    if (hasRetention(ctx.config.retention) && ctx.options.scheduleAlarm && ctx.state.claimAlarm()) {
      void Promise.resolve(ctx.options.scheduleAlarm(ctx.now() + RETENTION_DELAY_MS)).catch(ctx.logError);
    }
  });
