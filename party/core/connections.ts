// The room's open connections, kept in memory between a wake-up and the next hibernation.
//
// partyserver's hibernating `getConnections()` asks the runtime for every socket and deserializes
// each one's attachment on every call, so a broadcast cost grew with the number of sockets times
// the number of frames. This reads them once per wake-up and then follows connects and closes.
import type { RoomConnection } from "./room-types.ts";

/** WebSocket.OPEN, spelled out: the core runs where `WebSocket` may not exist (tests, Node). */
const OPEN = 1;

export interface OpenConnections extends Iterable<RoomConnection> {
  add(connection: RoomConnection): void;
  delete(connection: RoomConnection): void;
  /** How many are known open, without asking the runtime again (the room's stats). */
  readonly size: number;
}

export const createOpenConnections = (load: () => Iterable<RoomConnection>): OpenConnections => {
  let byId: Map<string, RoomConnection> | undefined;
  const current = (): Map<string, RoomConnection> => {
    if (!byId) {
      byId = new Map();
      for (const connection of load()) byId.set(connection.id, connection);
    }
    return byId;
  };
  return {
    *[Symbol.iterator]() {
      const open = current();
      for (const [id, connection] of open) {
        // A socket the room closed, or that closed without a close event, leaves here.
        if (connection.readyState === undefined || connection.readyState === OPEN) yield connection;
        else open.delete(id);
      }
    },
    // Before the first read, the runtime's list already holds a new socket.
    add: (connection) => void byId?.set(connection.id, connection),
    // Only that socket: PartySocket reconnects with the same id, maybe before the old one's close.
    delete: (connection) => void (byId?.get(connection.id) === connection && byId.delete(connection.id)),
    get size() {
      return current().size;
    },
  };
};
