// A room inside either runtime: what both adapters (party/worker.ts on partyserver, party/partykit.ts
// on PartyKit) do with their room, so that each keeps only what is its runtime's: where the room's
// name, storage and sockets come from, how an upgrade is accepted or refused, and how a client's
// Close frame is answered. Imports no runtime; the adapter hands it the room's parts as values.
// - Start-up runs once, and again after a failure (starter.ts). `start` never throws: both runtimes
//   would show a thrown start-up error to the client.
// - A request the room cannot answer (it could not start, or a handler threw) is answered with the
//   room's JSON error, its body drained first so that the connection stays usable.
// - A socket, a frame, a close or an error goes to the room; a socket of a room that could not start
//   is closed with CLOSE_INTERNAL. The alarm throws when the room cannot start, so that the runtime
//   retries it.
import { createDurableStorage, type KeyValueStorage } from "./durable-storage.ts";
import { createStarter } from "./starter.ts";
import { createAlarmScheduler, createDirectoryRoom, createRoom, resolveConfig, type Room, type RoomConfig, type RoomConfigInput, type RoomConnection, type RoomHooks, type RoomLinks } from "../core/index.ts";
import type { AlarmStorage } from "../core/room/alarm-scheduler.ts";
import { discardBody, errorResponse, MAX_DRAINED_BODY_BYTES } from "../core/room/http.ts";
import type { RoomStorage } from "../core/storage/room-storage.ts";
import { CLOSE_INTERNAL } from "../protocol.ts";

/** Who an object is: a room, by its name, or its party's directory of rooms (core/directory/). */
export type Identity = { room: string } | { directory: true };

/** What a runtime gives its room, read when the room starts (a subclass's `config` is set by then). */
export interface RoomParts {
  /** The object's storage: Workers' DurableObjectStorage or PartyKit's Party.Storage. */
  storage: KeyValueStorage & AlarmStorage;
  env: Record<string, unknown>;
  config: RoomConfigInput;
  hooks: RoomHooks;
  connections: () => Iterable<RoomConnection>;
  /** Who this object is, told by the runtime (a name routing gave, or one the room recorded). */
  identify(storage: RoomStorage, config: RoomConfig): Promise<Identity>;
  /** How a room reaches its party's directory on this runtime. */
  links(): RoomLinks;
}

export interface RoomHost {
  /** The started room; throws before it started (`Room.room` read too early). */
  readonly room: Room;
  /** Starts the room, again if it failed before; never throws. */
  start(): Promise<void>;
  /**
   * Whether a socket opened by `request` may be accepted: an error answer (the room cannot start,
   * or refuses the socket), `full` past the connection limit, else undefined once the room has made
   * ready what the socket needs from its first frame (Room.prepareSocket).
   */
  vetSocket(request: Request): Promise<Response | "full" | undefined>;
  request(request: Request): Promise<Response>;
  /** Hands an accepted socket to the room, or closes it when the room has not started: false then. */
  connect(connection: RoomConnection, request: Request): boolean;
  message(connection: RoomConnection, message: string | ArrayBuffer | ArrayBufferView): Promise<void>;
  /** A socket that closed or failed. */
  close(connection: RoomConnection): void;
  alarm(): Promise<void>;
}

const NOT_STARTED_REASON = "The room could not start.";

/** Builds the room (or the party's directory) from what the runtime gives it, and loads it. */
const startRoom = async (parts: RoomParts): Promise<Room> => {
  const storage = createDurableStorage(parts.storage);
  const config = resolveConfig(parts.env, parts.config);
  const identity = await parts.identify(storage, config);
  // The party's directory of rooms lives in an object of the party's class that no URL reaches.
  if ("directory" in identity) return createDirectoryRoom({ storage, config, logger: console });
  const room = createRoom(
    {
      name: identity.room,
      storage,
      config,
      hooks: parts.hooks,
      connections: parts.connections,
      logger: console,
      scheduleAlarm: createAlarmScheduler(parts.storage),
    },
    parts.links(),
  );
  await room.load();
  return room;
};

export const createRoomHost = (parts: () => RoomParts): RoomHost => {
  // Async, so that a part the runtime cannot give yet (partyserver's `name`) rejects, never throws.
  const starter = createStarter(async () => startRoom(parts()), (error) => console.error("roomstore: the room could not start", error));
  return {
    get room() {
      const room = starter.current;
      if (!room) throw new Error("The room is used before onStart.");
      return room;
    },
    start: () => starter.ready().then(() => undefined, () => undefined),
    async vetSocket(request) {
      try {
        const room = await starter.ready();
        const refused = room.socketRefusal(request);
        if (refused) return errorResponse(refused);
        if (room.isFull()) return "full";
        await room.prepareSocket(request);
        return undefined;
      } catch (error) {
        return errorResponse(error);
      }
    },
    async request(request) {
      try {
        return await (await starter.ready()).handleRequest(request);
      } catch (error) {
        await discardBody(request, MAX_DRAINED_BODY_BYTES);
        return errorResponse(error);
      }
    },
    connect(connection, request) {
      const room = starter.current;
      if (room) room.handleConnect(connection, request);
      else connection.close(CLOSE_INTERNAL, NOT_STARTED_REASON);
      return room !== undefined;
    },
    async message(connection, message) {
      const room = await starter.ready().catch(() => undefined);
      if (room) await room.handleMessage(connection, message);
      else connection.close(CLOSE_INTERNAL, NOT_STARTED_REASON);
    },
    close(connection) {
      starter.current?.handleClose(connection);
    },
    async alarm() {
      await (await starter.ready()).handleAlarm();
    },
  };
};
