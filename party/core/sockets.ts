// WebSocket connections and frames: TinyBase changesets (`{prefix}s…`) and roomstore's own
// messages (`{prefix}x…`, see subscriptions.ts). What a client can recover from gets an error
// frame; what shows a broken client (bad JSON, a wrong shape, a frame over the size limit) closes
// the socket with 1007 or 1009. Nothing is applied unless the whole frame is valid and allowed; a
// TinyBase client whose changeset is refused is sent the room's values so it converges again.
import { CLOSE_TRY_AGAIN, decodeFrame, encodeChangesFrame, encodeServerMessage, ROOM_MESSAGE, SET_CHANGES } from "../protocol.ts";
import { roleOf } from "./auth.ts";
import { parseChanges, type Changes } from "./changes.ts";
import { closeCodeOf, errorBody, RoomError, toRoomError } from "./errors.ts";
import { updateState, type RoomConnection, type RoomCore } from "./room.ts";
import { assertCellCount, assertWriter, parseClientMessage, type createSubscriptions } from "./subscriptions.ts";

/** UTF-8 size of a string, computed only when its length alone cannot decide. */
const exceeds = (text: string, maxBytes: number): boolean =>
  text.length > maxBytes || (text.length * 3 > maxBytes && new TextEncoder().encode(text).byteLength > maxBytes);

/** A token bucket per connection: `rate` frames a second on average, `burst` at once. */
const createRateLimiter = (rate: number, burst: number, now: () => number) => {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    allow(id: string): boolean {
      const time = now();
      const bucket = buckets.get(id) ?? { tokens: burst, at: time };
      bucket.tokens = Math.min(burst, bucket.tokens + ((time - bucket.at) / 1000) * rate);
      bucket.at = time;
      buckets.set(id, bucket);
      if (bucket.tokens < 1) return false;
      bucket.tokens--;
      return true;
    },
    forget: (id: string) => void buckets.delete(id),
  };
};

export const createSocketHandlers = (core: RoomCore, subscriptions: ReturnType<typeof createSubscriptions>) => {
  const { config } = core.options;
  const { limits } = config;
  const log = (error: unknown) => core.options.logger?.error("roomstore: message failed", error);
  const limiter = createRateLimiter(limits.maxMessagesPerSecond, limits.messageBurst, core.options.now ?? Date.now);

  const sendError = (connection: RoomConnection, error: RoomError) =>
    connection.send(encodeServerMessage(config.messagePrefix, { t: "error", ...errorBody(error) }));

  const closeWith = (connection: RoomConnection, error: RoomError) =>
    connection.close(closeCodeOf(error), error.message.slice(0, 120));

  /** Refuses a whole changeset: says why, and sends the room's values back. */
  const refuse = (connection: RoomConnection, error: RoomError, changes: unknown) => {
    sendError(connection, error);
    if (core.model.hasStore) connection.send(encodeChangesFrame(config.messagePrefix, core.model.currentOf(changes as Changes)));
  };

  const onChanges = async (connection: RoomConnection, payload: string) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return closeWith(connection, new RoomError("invalid_json", "The changeset is not valid JSON."));
    }
    let changes: Changes;
    try {
      changes = parseChanges(parsed);
      assertCellCount(changes, limits.maxCellsPerChange);
      assertWriter(connection);
    } catch (error) {
      const roomError = toRoomError(error);
      // A wrong shape shows a broken client; a limit or a role is something it can live with.
      if (roomError.code === "invalid_content" || roomError.code === "internal") return closeWith(connection, roomError);
      return refuse(connection, roomError, parsed);
    }
    try {
      await core.applyChanges(changes, connection, { sender: connection });
    } catch (error) {
      // Nothing was applied (a hook threw, or no store yet): the sender must reconverge all the same.
      const roomError = toRoomError(error);
      if (roomError.code === "internal") log(error);
      refuse(connection, roomError, changes);
    }
  };

  const onRoomMessage = async (connection: RoomConnection, payload: string) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      throw new RoomError("invalid_json", "The message is not valid JSON.");
    }
    await subscriptions.handle(connection, parseClientMessage(parsed));
  };

  return {
    /** Admits a new socket: room capacity, and the role the gate decided, kept with the socket. */
    connect(connection: RoomConnection, request: Request): void {
      let open = 0;
      for (const _ of core.options.connections()) open++;
      if (open > limits.maxConnections) {
        connection.close(CLOSE_TRY_AGAIN, "The room is full; try again later.");
        return;
      }
      updateState(connection, { role: roleOf(request) });
    },

    async message(connection: RoomConnection, message: string | ArrayBuffer | ArrayBufferView): Promise<void> {
      try {
        if (typeof message !== "string") {
          return closeWith(connection, new RoomError("bad_request", "Frames must be text."));
        }
        if (exceeds(message, limits.maxFrameBytes)) {
          return closeWith(connection, new RoomError("too_large", `Frames are limited to ${limits.maxFrameBytes} bytes.`));
        }
        const frame = decodeFrame(config.messagePrefix, message);
        if (!limiter.allow(connection.id)) {
          const error = new RoomError("rate_limited", `At most ${limits.maxMessagesPerSecond} frames a second.`);
          if (frame?.type === SET_CHANGES) return refuse(connection, error, JSON.parse(frame.payload));
          return sendError(connection, error);
        }
        if (frame?.type === SET_CHANGES) return await onChanges(connection, frame.payload);
        if (frame?.type === ROOM_MESSAGE) return await onRoomMessage(connection, frame.payload);
        sendError(connection, new RoomError("bad_request", "Unknown frame: expected a TinyBase changeset or a roomstore message."));
      } catch (error) {
        const roomError = toRoomError(error);
        if (roomError.code === "internal") log(error);
        sendError(connection, roomError);
      }
    },

    close(connection: RoomConnection): void {
      limiter.forget(connection.id);
      subscriptions.close(connection);
    },
  };
};
