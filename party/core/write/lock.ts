// Takes the room's write lock (storage/write-lock.ts) for an import or a DELETE.
// Postconditions: the lock is taken in a commit group, after every write queued before it, and
// holds once that group is durable (an import's lock is then also in the stored meta); with
// `ifEmpty`, a room with a store or events refuses it (409) and nothing changes.
import { RoomError } from "../common/errors.ts";
import type { WriteContext } from "./context.ts";
import type { WriteLock } from "../storage/write-lock.ts";

export const lockWrites = (ctx: WriteContext, lock: WriteLock, { ifEmpty = false }: { ifEmpty?: boolean } = {}): Promise<void> =>
  ctx.queue.run((batch) => {
    if (ifEmpty && (batch.nextSeq - 1 !== 0 || ctx.state.model.hasStore)) {
      throw new RoomError("conflict", "This room has data: import only into a new room (DELETE it first to replace it).");
    }
    ctx.state.lock(batch, lock);
  });
