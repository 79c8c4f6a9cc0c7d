// Applies a changeset from a connection (a TinyBase client) or a request (PATCH, the synchronizer):
// the validation webhook, the room's hooks, the write, the broadcast and the sender's correction.
// Postconditions:
// - The store writes, their $changes event, audit entries and synchronizer stamps are in one
//   commit group (one atomic storage write); the answer, the broadcast, the sender's correction and
//   the listeners' calls all come after that write is durable, in that group's commit order.
// - A changeset with an `id` already applied is answered as a duplicate, with nothing written.
// - A rejection (no store, If-Match, webhook, `allOrNothing`) or a failed write leaves memory and
//   storage as they were; with a sender, what the room did not keep is corrected on the sender only.
import { changesForLog, EVENT_CHANGES, STORE_STREAM } from "../../protocol.ts";
import { isEmptyChanges, type Changes } from "../store/changes.ts";
import { socketIdOf } from "../live/connections.ts";
import { RoomError } from "../common/errors.ts";
import { sendCurrent } from "../live/broadcast.ts";
import { filterChanges } from "../room/hooks.ts";
import type { ApplyOptions, ChangesResult } from "../room/types.ts";
import { commitStore, vet } from "./store-commit.ts";
import { validateWrite } from "./validation-webhook.ts";
import type { WriteContext } from "./context.ts";

/** Validation requests a room starts ahead of their jobs, at most (a browser's connections per host, about). */
const MAX_EARLY_ASKS = 16;

export const applyChanges = (
  ctx: WriteContext,
  changes: Changes,
  origin: unknown,
  { sender, allOrNothing = false, id, stamps, resolve, ifMatch }: ApplyOptions = {},
): Promise<ChangesResult> => {
  const { keys, storage, state, hooks, broadcaster } = ctx;
  const { model } = state;
  const kind = sender ? "changes" : "patch";
  // A client's frame is asked about as it arrives, not when its job comes up: the frames of one
  // group then wait for their answers together, each job still awaiting its own in commit order.
  // Asked in the job, as before: what may turn out stale there (a PATCH's If-Match, a resend of a
  // message id, no store yet), so that the service never sees it, and a changeset resolved against
  // the store (`resolve`), known only there; and none while the room is locked (an import, a
  // DELETE), whose job refuses it. At most MAX_EARLY_ASKS at once: past that a frame is asked in its
  // job, so that a burst does not open more requests than the runtime runs at once.
  const early =
    sender !== undefined && id === undefined && !resolve && model.hasStore && !state.meta.writeLock &&
    ctx.config.webhooks.validate !== undefined && ctx.earlyAsks.inFlight < MAX_EARLY_ASKS;
  let asked: Promise<Changes> | undefined;
  if (early) {
    ctx.earlyAsks.inFlight++;
    asked = validateWrite(ctx.options, kind, changes, origin).finally(() => ctx.earlyAsks.inFlight--);
    // A job that ends before it reads the answer (a duplicate, no store) leaves it unread.
    asked.catch(() => undefined);
  }
  return ctx.queue.run(async (batch) => {
    if (id !== undefined) {
      const key = keys.eventId(STORE_STREAM, id);
      const known = batch.pending(key) ?? (await storage.get([key])).get(key);
      if (known !== undefined) return { seq: known as number, accepted: [{}, {}, 1] as Changes, rejected: false, duplicate: true };
    }
    if (!model.hasStore) throw new RoomError("conflict", "The room has no store yet: PUT it first.");
    const { storeSeq } = state.meta;
    if (ifMatch !== undefined && ifMatch !== storeSeq) throw new RoomError("precondition_failed", `The store is at seq ${storeSeq}, not ${ifMatch}.`);
    if (resolve) changes = resolve(changes);
    const vetted = await vet(ctx, await (asked ?? validateWrite(ctx.options, kind, changes, origin)), false, origin);
    const { accepted, rejected } = vetted
      ? await filterChanges(hooks, vetted, { initialSave: false, origin, model })
      : { accepted: [{}, {}, 1] as Changes, rejected: true };
    if (allOrNothing && (rejected || vetted !== changes)) {
      throw new RoomError("forbidden", "The room's rules did not accept this changeset as sent.");
    }
    let seq: number | undefined;
    if (!isEmptyChanges(accepted)) {
      const writes = model.plan(accepted);
      seq = commitStore(ctx, batch, { writes, type: EVENT_CHANGES, data: changesForLog(accepted), id, stamps }).event.seq;
      broadcaster.queue(batch, { changes: accepted, writes, sender });
    }
    if ((rejected || vetted !== changes) && sender) {
      // Reconverge the sender: it applied its whole changeset locally, not what the room kept.
      // Its own next write to these cells is then echoed too (see live/broadcast.ts).
      broadcaster.noteCorrection(model.plan(changes), socketIdOf(sender));
      batch.onCommit(() => {
        sendCurrent(sender, ctx.config.messagePrefix, model, changes);
        if (vetted && vetted !== changes) sendCurrent(sender, ctx.config.messagePrefix, model, accepted);
      });
    }
    return { seq, accepted, rejected };
  });
};
