// `DELETE {room}`: erases the room's store, log and alarm, closes its sockets; the room is then
// new. The write lock (storage/write-lock.ts) is taken in the commit queue first, so every write queued
// before the DELETE is committed before the erase and every write after it is refused, until the
// adapter's room is rebuilt from the now empty storage (`reload`).
import { CLOSE_ROOM_DELETED } from "../../protocol.ts";
import type { RoomConnection } from "../room/types.ts";
import type { AdminPort } from "./export-import.ts";

export const deleteRoom = async (
  core: AdminPort,
  { connections, reload }: { connections: () => Iterable<RoomConnection>; reload: () => Promise<void> },
): Promise<void> => {
  await core.lockWrites("deleted");
  // Issued after the group above was written: Durable Object storage runs operations in order.
  try {
    await core.options.storage.deleteAll();
  } finally {
    for (const connection of [...connections()]) {
      try {
        connection.close(CLOSE_ROOM_DELETED, "The room was deleted.");
      } catch {
        // Already closed.
      }
    }
    await reload();
  }
};
