// WebSocket frames: TinyBase changesets (`{prefix}s…`) and roomstore's own messages (`{prefix}x…`).
// What a client can recover from gets an error frame; what shows a broken client (bad JSON, a wrong
// shape, a frame over the size limit) closes the socket with 1007 or 1009. Nothing is applied
// unless the whole frame is valid.
import { decodeFrame, encodeChangesFrame, encodeServerMessage, ROOM_MESSAGE, SET_CHANGES } from "../protocol.ts";
import { parseChanges, type Changes } from "./changes.ts";
import { closeCodeOf, errorBody, RoomError, toRoomError } from "./errors.ts";
import type { RoomConnection, RoomCore } from "./room.ts";
import { parseClientMessage, type createSubscriptions } from "./subscriptions.ts";

/** UTF-8 size of a string, computed only when its length alone cannot decide. */
const exceeds = (text: string, maxBytes: number): boolean =>
  text.length > maxBytes || (text.length * 3 > maxBytes && new TextEncoder().encode(text).byteLength > maxBytes);

export const createMessageHandler = (core: RoomCore, subscriptions: ReturnType<typeof createSubscriptions>) => {
  const { config } = core.options;
  const log = (error: unknown) => core.options.logger?.error("roomstore: message failed", error);

  const sendError = (connection: RoomConnection, error: RoomError) =>
    connection.send(encodeServerMessage(config.messagePrefix, { t: "error", ...errorBody(error) }));

  const closeWith = (connection: RoomConnection, error: RoomError) =>
    connection.close(closeCodeOf(error), error.message.slice(0, 120));

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
    } catch (error) {
      const roomError = toRoomError(error);
      if (roomError.code !== "too_large") return closeWith(connection, roomError);
      // Well-formed but over a limit: refuse all of it, keep the socket, and reconverge the sender.
      sendError(connection, roomError);
      if (core.model.hasStore) connection.send(encodeChangesFrame(config.messagePrefix, core.model.currentOf(parsed as Changes)));
      return;
    }
    await core.applyChanges(changes, connection, { sender: connection });
  };

  return async (connection: RoomConnection, message: string | ArrayBuffer | ArrayBufferView): Promise<void> => {
    try {
      if (typeof message !== "string") {
        return closeWith(connection, new RoomError("bad_request", "Frames must be text."));
      }
      if (exceeds(message, config.limits.maxFrameBytes)) {
        return closeWith(connection, new RoomError("too_large", `Frames are limited to ${config.limits.maxFrameBytes} bytes.`));
      }
      const frame = decodeFrame(config.messagePrefix, message);
      if (frame?.type === SET_CHANGES) return await onChanges(connection, frame.payload);
      if (frame?.type === ROOM_MESSAGE) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(frame.payload);
        } catch {
          throw new RoomError("invalid_json", "The message is not valid JSON.");
        }
        return await subscriptions.handle(connection, parseClientMessage(parsed));
      }
      sendError(connection, new RoomError("bad_request", "Unknown frame: expected a TinyBase changeset or a roomstore message."));
    } catch (error) {
      const roomError = toRoomError(error);
      if (roomError.code === "internal") log(error);
      sendError(connection, roomError);
    }
  };
};
