// The steps every write of the store shares (apply-changes.ts, put-store.ts): the hook that may
// veto or rewrite a changeset, and recording store writes with their $store event in a batch (the
// changeset's broadcast is queued in the same batch, live/broadcast.ts).
// Postconditions: everything is recorded in the batch (entries, undo steps, after-commit effects),
// so it is written, undone or sent with the commit group as a whole (storage/commit-queue.ts).
import { STORE_STREAM } from "../../protocol.ts";
import { parseChanges, type Changes } from "../store/changes.ts";
import type { Batch } from "../storage/commit-queue.ts";
import { putAudit, putEvent, type StoredEvent } from "../storage/event-log.ts";
import type { StoreWrite } from "../store/model.ts";
import { emitAfterCommit, eventContext, type WriteContext } from "./context.ts";
import { scheduleSnapshot } from "./snapshot.ts";
import { isCheckpointDue, putCheckpoint } from "../log/checkpoints.ts";

/** The whole-changeset hook: may reject, pass or rewrite (a rewrite is validated again). */
export const vet = async (ctx: WriteContext, changes: Changes, initialSave: boolean, origin: unknown): Promise<Changes | undefined> => {
  const { hooks } = ctx;
  const answer = hooks.canApplyChanges ? await hooks.canApplyChanges(changes, initialSave, origin) : true;
  return answer === true ? changes : answer === false ? undefined : parseChanges(answer);
};

/** Store writes and the $store event that says them. */
export interface StoreCommit {
  writes: StoreWrite[];
  /** The event's type ($changes, $init, $replace) and data. */
  type: string;
  data: unknown;
  /** The event's id (a changeset's message id), if it has one. */
  id?: string;
  /** Passed to `onStoreWrite` with the writes (a synchronizer client's stamps). */
  stamps?: unknown;
}

/** Records store writes and one $store event in the batch; returns the event. */
export const commitStore = (ctx: WriteContext, batch: Batch, { writes, type, data, id, stamps }: StoreCommit): StoredEvent => {
  const { keys, state } = ctx;
  state.commitStore(batch, writes);
  for (const write of writes) {
    const key = write.kind === "cell" ? keys.cell(...write.path) : keys.value(write.id);
    if (write.value === undefined) batch.delete(key);
    else batch.put(key, write.value);
  }
  const context = eventContext(ctx, batch);
  const stored = putEvent(context, { stream: STORE_STREAM, type, data, id });
  batch.nextSeq = context.seq;
  putAudit(keys, stored.event.seq, writes, batch.put);
  // A checkpoint when this event opens a new window of seqs, so that reads `?at=` stay short (log/checkpoints.ts).
  if (isCheckpointDue(state.meta.storeSeq, stored.event.seq, ctx.config.limits.checkpointEvents)) {
    putCheckpoint(batch, keys, { seq: stored.event.seq, json: state.model.toJson(), created: true });
  }
  // The synchronizer stamps these writes in the same batch (sync/room.ts).
  ctx.options.onStoreWrite?.(batch, writes, stamps);
  state.moveStore(stored.event.seq);
  emitAfterCommit(ctx, batch, [stored]);
  // Keep the snapshot close behind the store, so that waking up stays cheap.
  if (state.snapshot.noteWrite(writes.length)) batch.onCommit(() => scheduleSnapshot(ctx));
  return stored;
};
