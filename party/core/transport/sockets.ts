// WebSocket connections and frames: TinyBase changesets (`{prefix}s…`) and roomstore's own
// messages (`{prefix}x…`: their grammar in messages.ts, what they do in room-messages.ts). What a client can recover from gets an error
// frame; what shows a broken client (bad JSON, a wrong shape, a frame over the size limit) closes
// the socket with 1007 or 1009. Nothing is applied unless the whole frame is valid and allowed; a
// TinyBase client whose changeset is refused is sent the room's values so it converges again.
// Once the room has closed a socket, frames that were already on their way from it are ignored:
// the runtime still delivers them until the client has seen the close. A socket is admitted only
// with a role the gate decided and from an allowed origin (else closed with 1008), and is limited
// and counted by the room's own id of it (live/connections.ts), never by the id the client chose. An
// `auth` frame refreshes the socket's token (live/token-expiry.ts, which also closes it at `exp`).
import { CLOSE_POLICY, CLOSE_TRY_AGAIN, decodeFrame, encodeServerMessage, exceedsBytes, ROOM_MESSAGE, SET_CHANGES } from "../../protocol.ts";
import { roleOf } from "../room/auth.ts";
import { socketIdOf } from "../live/connections.ts";
import { assertOriginAllowed, assertSocketPath } from "../room/http.ts";
import { parseChanges, type Changes } from "../store/changes.ts";
import { errorBody, RoomError, toRoomError } from "../common/errors.ts";
import { sendCurrent } from "../live/broadcast.ts";
import { closeByRoom, closeForError, stateOf, updateState, type ApplyOptions, type ChangesResult, type RoomConnection, type RoomContext } from "../room/types.ts";
import type { StoreModel } from "../store/model.ts";
import type { SubscriptionHandlers } from "../live/subscriptions.ts";
import { assertCellCount, assertWriter, parseClientMessage } from "./messages.ts";
import type { RoomMessages } from "./room-messages.ts";

/** What `parse` returns, or undefined when it refuses its input. */
const validOrUndefined = <T>(parse: () => T): T | undefined => {
  try {
    return parse();
  } catch {
    return undefined;
  }
};

/** A token bucket per connection: `rate` frames a second on average, `burst` at once. */
export const createRateLimiter = (rate: number, burst: number, now: () => number) => {
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

/** What the socket handlers use of the room: its config, clock and logger, the store, and the changeset write. */
export interface SocketPort {
  readonly options: Pick<RoomContext, "config" | "now" | "logger">;
  readonly model: Pick<StoreModel, "hasStore" | "currentOf">;
  applyChanges(changes: Changes, origin: unknown, options?: ApplyOptions): Promise<ChangesResult>;
}

/** What the socket handlers use besides the room. */
export interface SocketParts {
  /** roomstore's own messages (room-messages.ts). */
  messages: RoomMessages;
  /** A closed socket's subscriptions end with it. */
  subscriptions: Pick<SubscriptionHandlers, "close">;
  /**
   * Every open socket of the room, whatever its protocol (synchronizer sockets are not among the
   * core's connections, but count against `maxConnections` all the same).
   */
  countOpen: () => number;
}

/** The main sockets of a room: its port and parts, and the frame rate limiter they share. */
interface Sockets {
  readonly port: SocketPort;
  readonly parts: SocketParts;
  readonly limiter: ReturnType<typeof createRateLimiter>;
}

const logFailure = (sockets: Sockets, error: unknown) => sockets.port.options.logger.error("roomstore: message failed", error);

const sendError = (sockets: Sockets, connection: RoomConnection, error: RoomError) =>
  connection.send(encodeServerMessage(sockets.port.options.config.messagePrefix, { t: "error", ...errorBody(error) }));

/** Refuses a whole changeset: says why, and sends the room's values back. */
const refuse = (sockets: Sockets, connection: RoomConnection, { error, changes }: { error: RoomError; changes: unknown }) => {
  sendError(sockets, connection, error);
  sendCurrent(connection, sockets.port.options.config.messagePrefix, sockets.port.model, changes as Changes);
};

/**
 * A frame's JSON, or undefined when it is not JSON: that shows a broken client, whatever the
 * frame's kind, and the socket is closed with 1007.
 */
const jsonOf = (connection: RoomConnection, payload: string, what: "changeset" | "message"): { parsed: unknown } | undefined => {
  try {
    return { parsed: JSON.parse(payload) };
  } catch {
    closeForError(connection, new RoomError("invalid_json", `The ${what} is not valid JSON.`));
    return undefined;
  }
};

/** A TinyBase changeset frame: applied as the room's rules allow, the rest put back at the sender. */
const onChanges = async (sockets: Sockets, connection: RoomConnection, payload: string) => {
  const json = jsonOf(connection, payload, "changeset");
  if (!json) return;
  const { parsed } = json;
  let changes: Changes;
  try {
    changes = parseChanges(parsed);
    assertCellCount(changes, sockets.port.options.config.limits.maxCellsPerChange);
    assertWriter(connection);
  } catch (error) {
    const roomError = toRoomError(error);
    // A wrong shape shows a broken client; a limit or a role is something it can live with.
    if (roomError.code === "invalid_content" || roomError.code === "internal") return closeForError(connection, roomError);
    return refuse(sockets, connection, { error: roomError, changes: parsed });
  }
  try {
    await sockets.port.applyChanges(changes, connection, { sender: connection });
  } catch (error) {
    // Nothing was applied (a hook threw, or no store yet): the sender must reconverge all the same.
    const roomError = toRoomError(error);
    if (roomError.code === "internal") logFailure(sockets, error);
    refuse(sockets, connection, { error: roomError, changes });
  }
};

/**
 * Over the rate limit nothing is carried out, and the sender is told so whatever the frame held
 * (never with a close: the client is fast, not broken). A valid changeset's sender also gets the
 * room's values back, and an acknowledged write is nacked by its mid, so that the client knows
 * which write failed.
 */
const refuseOverLimit = (sockets: Sockets, connection: RoomConnection, { frame, error }: { frame: ReturnType<typeof decodeFrame>; error: RoomError }) => {
  const parsed: unknown = frame && validOrUndefined(() => JSON.parse(frame.payload));
  if (frame?.type === SET_CHANGES) {
    const changes = validOrUndefined(() => parseChanges(parsed));
    return changes ? refuse(sockets, connection, { error, changes }) : sendError(sockets, connection, error);
  }
  const message = frame?.type === ROOM_MESSAGE ? validOrUndefined(() => parseClientMessage(parsed)) : undefined;
  return message ? sockets.parts.messages.refuse(connection, message, error) : sendError(sockets, connection, error);
};

/** A roomstore message frame: parsed (messages.ts), then handed to room-messages.ts. */
const onRoomMessage = async (sockets: Sockets, connection: RoomConnection, payload: string) => {
  const json = jsonOf(connection, payload, "message");
  if (json) await sockets.parts.messages.handle(connection, parseClientMessage(json.parsed));
};

/** Why a socket opened by `request` may not join, if it may not: no socket path, no role from the gate, or a foreign origin. */
const refusal = (sockets: Sockets, request: Request): RoomError | undefined => {
  try {
    assertSocketPath(request);
    if (roleOf(request) === undefined) return new RoomError("forbidden", "No gate admitted this socket.");
    assertOriginAllowed(sockets.port.options.config.allowedOrigins, request);
  } catch (error) {
    return toRoomError(error);
  }
  return undefined;
};

/**
 * Admits a new socket (already among the open ones): its origin and role, then room capacity;
 * the role is kept with the socket. False when it closed the socket instead.
 */
const connect = (sockets: Sockets, connection: RoomConnection, request: Request): boolean => {
  const refused = refusal(sockets, request);
  if (refused) {
    closeByRoom(connection, CLOSE_POLICY, refused.message);
    return false;
  }
  if (sockets.parts.countOpen() > sockets.port.options.config.limits.maxConnections) {
    closeByRoom(connection, CLOSE_TRY_AGAIN, "The room is full; try again later.");
    return false;
  }
  updateState(connection, { role: roleOf(request) });
  return true;
};

/** One frame from a socket: checked for what it is, then handed to its kind's handler. */
const onMessage = async (sockets: Sockets, connection: RoomConnection, message: string | ArrayBuffer | ArrayBufferView): Promise<void> => {
  const { config } = sockets.port.options;
  const { limits } = config;
  const state = stateOf(connection);
  if (state.closedByRoom) return;
  // A socket the room never admitted (its connect was refused, or never ran) does nothing.
  if (state.role === undefined) return closeByRoom(connection, CLOSE_POLICY, "No gate admitted this socket.");
  try {
    if (typeof message !== "string") {
      return closeForError(connection, new RoomError("bad_request", "Frames must be text."));
    }
    if (exceedsBytes(message, limits.maxFrameBytes)) {
      return closeForError(connection, new RoomError("too_large", `Frames are limited to ${limits.maxFrameBytes} bytes.`));
    }
    const frame = decodeFrame(config.messagePrefix, message);
    if (!sockets.limiter.allow(socketIdOf(connection))) {
      const error = new RoomError("rate_limited", `At most ${limits.maxMessagesPerSecond} frames a second.`);
      return refuseOverLimit(sockets, connection, { frame, error });
    }
    if (frame?.type === SET_CHANGES) return await onChanges(sockets, connection, frame.payload);
    if (frame?.type === ROOM_MESSAGE) return await onRoomMessage(sockets, connection, frame.payload);
    sendError(sockets, connection, new RoomError("bad_request", "Unknown frame: expected a TinyBase changeset or a roomstore message."));
  } catch (error) {
    const roomError = toRoomError(error);
    if (roomError.code === "internal") logFailure(sockets, error);
    sendError(sockets, connection, roomError);
  }
};

export const createSocketHandlers = (port: SocketPort, parts: SocketParts) => {
  const { limits } = port.options.config;
  const sockets: Sockets = { port, parts, limiter: createRateLimiter(limits.maxMessagesPerSecond, limits.messageBurst, port.options.now) };
  return {
    /** True when one more socket would be over `maxConnections`: an adapter may refuse it before accepting it. */
    isFull: (): boolean => parts.countOpen() >= limits.maxConnections,
    refusal: (request: Request) => refusal(sockets, request),
    connect: (connection: RoomConnection, request: Request) => connect(sockets, connection, request),
    message: (connection: RoomConnection, message: string | ArrayBuffer | ArrayBufferView) => onMessage(sockets, connection, message),
    close(connection: RoomConnection): void {
      sockets.limiter.forget(socketIdOf(connection));
      parts.subscriptions.close(connection);
    },
  };
};
