// The room as adapters use it: one call builds the core and its HTTP and WebSocket handlers.
import { createOpenConnections } from "./connections.ts";
import { createSocketHandlers } from "./sockets.ts";
import { createRequestHandler } from "./routes.ts";
import { createRoomCore, type RoomConnection, type RoomCore, type RoomOptions } from "./room.ts";
import { createSubscriptions } from "./subscriptions.ts";
import { createMergeablePeer } from "./mergeable-peer.ts";
import { createSyncRoom, isSyncConnection } from "./sync-room.ts";
import { SYNC_PATH } from "../protocol.ts";
import { subPath } from "./http.ts";

export interface Room {
  readonly core: RoomCore;
  /** Loads the store from storage; call once before anything else (adapters do, in onStart). */
  load(): Promise<void>;
  handleRequest(request: Request): Promise<Response>;
  /** True when the room has no room for one more socket (`maxConnections`). */
  isFull(): boolean;
  /** Admits a socket opened by `request` (room capacity, role). */
  handleConnect(connection: RoomConnection, request: Request): void;
  handleMessage(connection: RoomConnection, message: string | ArrayBuffer | ArrayBufferView): Promise<void>;
  handleAlarm(): Promise<void>;
  /** Ends what a closed connection held (its subscriptions). */
  handleClose(connection: RoomConnection): void;
}

export const createRoom = (options: RoomOptions): Room => {
  const open = createOpenConnections(options.connections);
  // Synchronizer sockets hear the store in their own protocol (sync-room.ts), not in TinyBase frames.
  const only = (sync: boolean) =>
    function* (): Generator<RoomConnection> {
      for (const connection of open) if (isSyncConnection(connection) === sync) yield connection;
    };
  const core = createRoomCore({ ...options, connections: only(false), onStoreWrite: (...write) => sync.onStoreWrite(...write) });
  const peer = createMergeablePeer({ storage: options.storage, storagePrefix: core.options.config.storagePrefix, model: core.model, name: options.name, now: options.now ?? Date.now });
  const sync = createSyncRoom(core, peer, only(true));
  const subscriptions = createSubscriptions(core);
  const sockets = createSocketHandlers(core, subscriptions);
  return {
    core,
    async load() {
      await core.load();
      await peer.load();
      subscriptions.resetOrphans(open);
    },
    handleRequest: createRequestHandler(core),
    isFull: sockets.isFull,
    handleConnect(connection, request) {
      open.add(connection);
      if (subPath(new URL(request.url).pathname) === SYNC_PATH) sync.connect(connection);
      sockets.connect(connection, request);
    },
    handleMessage: (connection, message) => (isSyncConnection(connection) ? sync.message(connection, message) : sockets.message(connection, message)),
    handleClose(connection) {
      open.delete(connection);
      sockets.close(connection);
      sync.close(connection);
    },
    handleAlarm: () => core.handleAlarm(),
  };
};

export type { RoomConnection, RoomCore, RoomOptions } from "./room.ts";
export type { RoomHooks } from "./hooks.ts";
export { resolveConfig, type RoomConfig, type RoomConfigInput } from "./config.ts";
