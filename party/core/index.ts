// The room as adapters use it: one call builds the core and its HTTP and WebSocket handlers.
import { createMessageHandler } from "./sockets.ts";
import { createRequestHandler } from "./routes.ts";
import { createRoomCore, type RoomConnection, type RoomCore, type RoomOptions } from "./room.ts";

export interface Room {
  readonly core: RoomCore;
  /** Loads the store from storage; call once before anything else (adapters do, in onStart). */
  load(): Promise<void>;
  handleRequest(request: Request): Promise<Response>;
  handleMessage(connection: RoomConnection, message: string | ArrayBuffer | ArrayBufferView): Promise<void>;
  handleAlarm(): Promise<void>;
}

export const createRoom = (options: RoomOptions): Room => {
  const core = createRoomCore(options);
  return {
    core,
    load: () => core.load(),
    handleRequest: createRequestHandler(core),
    handleMessage: createMessageHandler(core),
    handleAlarm: () => core.handleAlarm(),
  };
};

export type { RoomConnection, RoomCore, RoomOptions } from "./room.ts";
export type { RoomHooks } from "./hooks.ts";
export { resolveConfig, type RoomConfig, type RoomConfigInput } from "./config.ts";
