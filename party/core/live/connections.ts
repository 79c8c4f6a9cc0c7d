// The room's open connections, kept in memory between a wake-up and the next hibernation, each
// known by an id the room gave it.
//
// Socket identity: both runtimes take a connection's `id` from the client's `_pk` query parameter
// (PartySocket sends one and keeps it across reconnects), so two sockets may share one, and a
// client may pick another client's. Nothing the room keeps is keyed by it: each socket gets a
// random id of its own when the room first sees it (socketIdOf), kept in its state (the
// attachment, so it survives hibernation). Open sockets, rate limits, subscriptions and
// broadcast senders are keyed by that id; `connection.id` is only a label (hooks and logs see it).
// A client that reconnects with the same `_pk` is a new socket, with its own limits, role and
// subscriptions (the client library resubscribes after the last seq it saw); the old socket keeps
// its own until it closes.
//
// partyserver's hibernating `getConnections()` asks the runtime for every socket and deserializes
// each one's attachment on every call, so a broadcast cost grew with the number of sockets times
// the number of frames. This reads them once per wake-up and then follows connects and closes.
import { stateOf, updateState, type RoomConnection } from "../room/types.ts";

/** WebSocket.OPEN, spelled out: the core runs where `WebSocket` may not exist (tests, Node). */
const OPEN = 1;

/**
 * Socket ids by connection object, so that a broadcast does not read every socket's attachment
 * again; also the only record for a socket whose runtime keeps no state (a test double might not).
 */
const knownIds = new WeakMap<RoomConnection, string>();

/** The room's own id of a socket, given on first sight and kept in the socket's state. */
export const socketIdOf = (connection: RoomConnection): string => {
  let id = knownIds.get(connection) ?? stateOf(connection).socketId;
  if (id === undefined) {
    id = crypto.randomUUID();
    if (connection.setState) updateState(connection, { socketId: id });
  }
  knownIds.set(connection, id);
  return id;
};

export interface OpenConnections extends Iterable<RoomConnection> {
  add(connection: RoomConnection): void;
  delete(connection: RoomConnection): void;
  /** How many are known open, without asking the runtime again (the room's stats). */
  readonly size: number;
}

export const createOpenConnections = (load: () => Iterable<RoomConnection>): OpenConnections => {
  let bySocket: Map<string, RoomConnection> | undefined;
  const current = (): Map<string, RoomConnection> => {
    if (!bySocket) {
      bySocket = new Map();
      for (const connection of load()) bySocket.set(socketIdOf(connection), connection);
    }
    return bySocket;
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
    // Always recorded, not only when the runtime lists it: a runtime that keeps its sockets in a
    // map by `_pk` (partyserver and PartyKit without hibernation) lists one socket per `_pk`.
    add: (connection) => void current().set(socketIdOf(connection), connection),
    delete: (connection) => void bySocket?.delete(socketIdOf(connection)),
    get size() {
      return current().size;
    },
  };
};
