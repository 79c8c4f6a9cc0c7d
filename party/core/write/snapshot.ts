// Keeps the store's snapshot close behind the store, so that waking up stays cheap (log/snapshot.ts).
// Postconditions: a snapshot is written in its own commit group, after the write or load that
// asked for it, never on its path; at most one is scheduled at a time; a failed one is logged and
// leaves the previous snapshot, which loading can still replay from.
import { putSnapshot } from "../log/snapshot.ts";
import type { WriteContext } from "./context.ts";

/** Writes a snapshot soon, off the path of the write or load that asked for it. */
export const scheduleSnapshot = (ctx: WriteContext): void => {
  const { state } = ctx;
  if (!state.snapshot.claim()) return;
  setTimeout(() => {
    void ctx.queue
      .run((batch) => {
        const previousChunks = state.snapshot.begin();
        state.snapshot.stored(putSnapshot(batch, ctx.keys, state.model, { seq: state.meta.storeSeq, previousChunks }));
      })
      .catch(ctx.logError);
  }, 0);
};
