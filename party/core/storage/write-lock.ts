// A room's write lock: while an import fills its storage, and after a DELETE erased it, the room
// refuses every other write (store changes, appends, snapshots, retention), so that nothing lands
// between an import's batches or in the storage of a room that is gone.
//
// The import lock is also kept in the stored meta: a room that restarts with it there was
// interrupted mid-import, and is erased before it loads (see clearUnfinishedImport).
import type { CommitQueue } from "./commit-queue.ts";
import { RoomError } from "../common/errors.ts";
import type { Keys } from "./keys.ts";
import type { RoomStorage } from "./room-storage.ts";

export type WriteLock = "import" | "deleted";

/** Where the lock is kept: the room's meta, in memory and in storage (room/types.ts `Meta`). */
export interface Lockable {
  writeLock?: WriteLock;
}

export const refuseWhileLocked = (meta: Lockable): void => {
  if (meta.writeLock === "import") throw new RoomError("conflict", "An import into this room is under way.");
  if (meta.writeLock === "deleted") throw new RoomError("conflict", "The room was deleted just now: try again.");
};

/** The commit queue, refusing every job while the room is locked. */
export const lockableQueue = (queue: CommitQueue, meta: Lockable): CommitQueue => ({
  run: (job) =>
    queue.run((batch) => {
      refuseWhileLocked(meta);
      return job(batch);
    }),
  idle: () => queue.idle(),
});

/** Erases a room whose stored meta says an import was under way when it stopped. True if it did. */
export const clearUnfinishedImport = async (storage: RoomStorage, keys: Keys): Promise<boolean> => {
  const meta = (await storage.get([keys.meta])).get(keys.meta) as Lockable | undefined;
  if (meta?.writeLock !== "import") return false;
  await storage.deleteAll();
  return true;
};
