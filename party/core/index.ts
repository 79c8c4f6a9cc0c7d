// The room as adapters use it: one call builds the core and its HTTP and WebSocket handlers.
import { createOpenConnections } from "./connections.ts";
import type { RoomError } from "./errors.ts";
import { createSocketHandlers } from "./sockets.ts";
import { createRequestHandler } from "./routes.ts";
import { createRoomCore, type RoomConnection, type RoomCore, type RoomOptions } from "./room.ts";
import { createSubscriptions } from "./subscriptions.ts";
import { roomAdminResources } from "./room-admin.ts";
import { clearUnfinishedImport } from "./write-lock.ts";

export interface Room {
  readonly core: RoomCore;
  /** Loads the store from storage; call once before anything else (adapters do, in onStart). */
  load(): Promise<void>;
  handleRequest(request: Request): Promise<Response>;
  /** True when the room has no room for one more socket (`maxConnections`). */
  isFull(): boolean;
  /** Why a socket opened by `request` may not join (no role from the gate, a foreign origin), if it may not. */
  socketRefusal(request: Request): RoomError | undefined;
  /** Admits a socket opened by `request` (room capacity, role). */
  handleConnect(connection: RoomConnection, request: Request): void;
  handleMessage(connection: RoomConnection, message: string | ArrayBuffer | ArrayBufferView): Promise<void>;
  handleAlarm(): Promise<void>;
  /** Ends what a closed connection held (its subscriptions). */
  handleClose(connection: RoomConnection): void;
}

export const createRoom = (options: RoomOptions): Room => {
  const open = createOpenConnections(options.connections);
  /** The core and its handlers; built again from storage after an import or a DELETE. */
  const build = () => {
    const core = createRoomCore({ ...options, connections: () => open });
    const subscriptions = createSubscriptions(core);
    const sockets = createSocketHandlers(core, subscriptions);
    const admin = roomAdminResources(core, { connections: () => open, reload });
    return { core, subscriptions, sockets, handleRequest: createRequestHandler(core, admin) };
  };
  const load = async (room: ReturnType<typeof build>) => {
    // A room that stopped mid-import is erased before it loads (write-lock.ts).
    await clearUnfinishedImport(options.storage, room.core.keys);
    await room.core.load();
    room.subscriptions.resetOrphans(open);
  };
  let current = build();
  async function reload() {
    const next = build();
    await load(next);
    current = next;
  }
  return {
    get core() {
      return current.core;
    },
    load: () => load(current),
    handleRequest: (request) => current.handleRequest(request),
    isFull: () => current.sockets.isFull(),
    socketRefusal: (request) => current.sockets.refusal(request),
    handleConnect(connection, request) {
      open.add(connection);
      current.sockets.connect(connection, request);
    },
    handleMessage: (connection, message) => current.sockets.message(connection, message),
    handleClose(connection) {
      open.delete(connection);
      current.sockets.close(connection);
    },
    handleAlarm: () => current.core.handleAlarm(),
  };
};

export type { RoomConnection, RoomCore, RoomOptions } from "./room.ts";
export type { RoomHooks } from "./hooks.ts";
export { resolveConfig, type RoomConfig, type RoomConfigInput } from "./config.ts";
