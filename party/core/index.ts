// The room as adapters use it: one call builds the core and its HTTP and WebSocket handlers.
import { createOpenConnections } from "./connections.ts";
import { createSocketHandlers } from "./sockets.ts";
import { createRequestHandler } from "./routes.ts";
import { countReaders, readStats, type WebhookStatusProvider } from "./stats.ts";
import { createRoomCore, type RoomConnection, type RoomCore, type RoomOptions } from "./room.ts";
import { createSubscriptions } from "./subscriptions.ts";

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

/** `webhookStatus`: the delivery webhook's status, shown in the room's stats when given. */
export const createRoom = (options: RoomOptions & { webhookStatus?: WebhookStatusProvider }): Room => {
  const open = createOpenConnections(options.connections);
  const core = createRoomCore({ ...options, connections: () => open });
  const subscriptions = createSubscriptions(core);
  const sockets = createSocketHandlers(core, subscriptions);
  const sseReaders = countReaders();
  const stats = () =>
    readStats({
      core,
      connections: () => open.size,
      subscriptions: () => subscriptions.size,
      sseReaders: () => sseReaders.size,
      webhook: options.webhookStatus,
    });
  return {
    core,
    async load() {
      await core.load();
      subscriptions.resetOrphans(open);
    },
    handleRequest: createRequestHandler(core, { stats, sseReaders }),
    isFull: sockets.isFull,
    handleConnect(connection, request) {
      open.add(connection);
      sockets.connect(connection, request);
    },
    handleMessage: sockets.message,
    handleClose(connection) {
      open.delete(connection);
      sockets.close(connection);
    },
    handleAlarm: () => core.handleAlarm(),
  };
};

export type { RoomConnection, RoomCore, RoomOptions } from "./room.ts";
export type { RoomHooks } from "./hooks.ts";
export { resolveConfig, type RoomConfig, type RoomConfigInput } from "./config.ts";
