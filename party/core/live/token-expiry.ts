// Tokens that end: a connection admitted by a signed token lives no longer than the token.
//
// - The gate passes a signed token's `exp` on (TOKEN_EXPIRY_HEADER, room/auth.ts); a socket keeps it in
//   its state, which both runtimes keep in the socket's attachment, so it survives hibernation.
//   Shared tokens (AUTH_WRITE_TOKEN, AUTH_READ_TOKEN) and rooms without auth have no expiry.
// - When `exp` passes, the socket (main or `{room}/sync`) is closed with CLOSE_TOKEN_EXPIRED,
//   active or idle, hibernated or not: from the room's alarm, which wakes a hibernated room, and on
//   any frame that arrives after `exp` (an alarm may come late: no frame is served past `exp`).
// - The room asks for an alarm at the earliest `exp` of its sockets; the alarm is shared with
//   retention and delivery (room/alarm-scheduler.ts keeps the earliest of all needs, each need asks
//   again for its own time). Alarms are at least once: every alarm closes what has expired, and
//   asks again for the next `exp`, so one that comes early or twice closes nothing too soon.
// - An `auth` frame on the main socket replaces its token: the new one must open this room (the
//   gate's rules, authorizeToken), and then its role and `exp` apply; else a `nack`, and the old
//   token stays with its expiry.
// - An SSE stream (the event log's, Durable Streams') ends at `exp` after an `error` record.
import { CLOSE_TOKEN_EXPIRED, encodeServerMessage, SSE_ERROR, TOKEN_EXPIRED_REASON, type ClientMessage, type ServerMessage } from "../../protocol.ts";
import { authorizeToken, tokenExpiryOf, type AuthConfig } from "../room/auth.ts";
import { socketIdOf } from "./connections.ts";
import { errorBody, RoomError, toRoomError } from "../common/errors.ts";
import { closeByRoom, stateOf, updateState, type RoomConnection } from "../room/types.ts";
import { sseRecord } from "./sse.ts";

/** A line feed, the byte that ends SSE lines (sse.ts writes LF only). */
const LF = 0x0a;

/** WebSocket.OPEN, spelled out: the core runs where `WebSocket` may not exist (tests, Node). */
const OPEN = 1;

/** What the SSE `error` record at expiry says: the same code as a request with an expired token. */
export const tokenExpiredError = (): RoomError => new RoomError("unauthorized", TOKEN_EXPIRED_REASON);

export interface TokenExpiryContext {
  /** The room's canonical name: what a new token must open. */
  name: string;
  auth: AuthConfig;
  messagePrefix: string;
  now: () => number;
  /** Every open socket of the room, whatever its protocol. */
  connections: () => Iterable<RoomConnection>;
  scheduleAlarm?: (at: number) => Promise<void> | void;
  logError: (error: unknown) => void;
}

/** The state of the tokens' expiries: the sockets that have one, and the alarm asked for. */
interface Expiries {
  readonly ctx: TokenExpiryContext;
  /** Sockets with an expiry, by the room's own socket id: read from their states once per wake-up, then followed. */
  known?: Map<string, { connection: RoomConnection; exp: number }>;
  /** The earliest alarm this instance asked for and has not seen run. */
  requestedAt?: number;
}

const expiries = (state: Expiries): Map<string, { connection: RoomConnection; exp: number }> => {
  if (!state.known) {
    state.known = new Map();
    for (const connection of state.ctx.connections()) {
      const exp = stateOf(connection).tokenExp;
      if (exp !== undefined) state.known.set(socketIdOf(connection), { connection, exp });
    }
  }
  return state.known;
};

const askAlarm = (state: Expiries, at: number): void => {
  const { scheduleAlarm, logError } = state.ctx;
  if (!scheduleAlarm || (state.requestedAt !== undefined && state.requestedAt <= at)) return;
  state.requestedAt = at;
  void Promise.resolve(scheduleAlarm(at)).catch(logError);
};

/** Keeps a socket's expiry in its state and here, and asks for the alarm at it. */
const track = (state: Expiries, connection: RoomConnection, exp: number | undefined): void => {
  updateState(connection, { tokenExp: exp });
  if (exp === undefined) return void expiries(state).delete(socketIdOf(connection));
  expiries(state).set(socketIdOf(connection), { connection, exp });
  askAlarm(state, exp * 1000);
};

/** Closes a socket whose token expired before this frame: true when it did (the frame is not served). */
const endIfExpired = (state: Expiries, connection: RoomConnection): boolean => {
  const { tokenExp, closedByRoom } = stateOf(connection);
  if (closedByRoom || tokenExp === undefined || tokenExp * 1000 > state.ctx.now()) return false;
  closeByRoom(connection, CLOSE_TOKEN_EXPIRED, TOKEN_EXPIRED_REASON);
  return true;
};

/** From the alarm: closes every socket whose token expired, and asks for the alarm at the next expiry. */
const sweep = (state: Expiries): void => {
  state.requestedAt = undefined;
  const now = state.ctx.now();
  let next: number | undefined;
  for (const [id, { connection, exp }] of expiries(state)) {
    if (connection.readyState !== undefined && connection.readyState !== OPEN) {
      expiries(state).delete(id);
    } else if (exp * 1000 <= now) {
      expiries(state).delete(id);
      closeByRoom(connection, CLOSE_TOKEN_EXPIRED, TOKEN_EXPIRED_REASON);
    } else if (next === undefined || exp < next) {
      next = exp;
    }
  }
  if (next !== undefined) askAlarm(state, next * 1000);
};

const send = (ctx: TokenExpiryContext, connection: RoomConnection, message: ServerMessage): void =>
  connection.send(encodeServerMessage(ctx.messagePrefix, message));

/** An `auth` frame: the new token's role and expiry apply (`ok`), or nothing changes (`nack`). */
const refresh = async (state: Expiries, connection: RoomConnection, { mid, token }: Extract<ClientMessage, { t: "auth" }>): Promise<void> => {
  const { ctx } = state;
  try {
    const admission = await authorizeToken(ctx.auth, token, ctx.name, ctx.now() / 1000);
    // The room may have closed it while the signature was checked (its old token expired).
    if (stateOf(connection).closedByRoom) return;
    updateState(connection, { role: admission.role });
    track(state, connection, admission.exp);
    send(ctx, connection, { t: "ok", mid });
  } catch (error) {
    send(ctx, connection, { t: "nack", mid, ...errorBody(toRoomError(error)) });
  }
};

export const createTokenExpiry = (ctx: TokenExpiryContext) => {
  const state: Expiries = { ctx };
  return {
    /** Keeps the expiry of a socket the room admitted, as the gate passed it on. */
    admit(connection: RoomConnection, request: Request): void {
      const exp = tokenExpiryOf(request);
      if (exp !== undefined) track(state, connection, exp);
    },
    endIfExpired: (connection: RoomConnection): boolean => endIfExpired(state, connection),
    sweep: (): void => sweep(state),
    refresh: (connection: RoomConnection, message: Extract<ClientMessage, { t: "auth" }>): Promise<void> => refresh(state, connection, message),
    /** Forgets a closed socket. */
    forget(connection: RoomConnection): void {
      state.known?.delete(socketIdOf(connection));
    },
  };
};

export type TokenExpiry = ReturnType<typeof createTokenExpiry>;

/**
 * `response` (an SSE stream) ended at `expiresAtMs` after an `error` record. Pulled only as its
 * reader reads, so the stream's own queue stays the one that holds what a slow reader has not taken.
 * The record goes between records, never inside one: sse.ts writes a large record in pieces, so at
 * `exp` the stream may be part-way through one; it then ends after that record's last piece. A
 * record ends with an empty line, and no line of a record is empty, so "\n\n" marks exactly the
 * end of a record, wherever the pieces were cut.
 */
export const endAtExpiry = (response: Response, expiresAtMs: number, now: () => number): Response => {
  if (!response.body) return response;
  const reader = response.body.getReader();
  const encoder = new TextEncoder();
  let ended = false;
  let expired = false;
  /** The last two bytes passed on: the stream is between records when they are "\n\n" (or none yet). */
  let tail = [LF, LF];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const betweenRecords = () => tail[0] === LF && tail[1] === LF;
  const endWithError = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    ended = true;
    controller.enqueue(encoder.encode(sseRecord({ event: SSE_ERROR, data: JSON.stringify(errorBody(tokenExpiredError())) })));
    controller.close();
    void reader.cancel().catch(() => undefined);
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        timer = setTimeout(() => {
          if (ended) return;
          expired = true;
          if (betweenRecords()) endWithError(controller);
        }, Math.max(0, expiresAtMs - now()));
      },
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (ended) return;
          if (done) {
            ended = true;
            clearTimeout(timer);
            controller.close();
            return;
          }
          controller.enqueue(value);
          if (value.length >= 2) tail = [value[value.length - 2], value[value.length - 1]];
          else if (value.length === 1) tail = [tail[1], value[0]];
          if (expired && betweenRecords()) endWithError(controller);
        } catch (error) {
          if (ended) return;
          ended = true;
          clearTimeout(timer);
          controller.error(error);
        }
      },
      cancel(reason) {
        ended = true;
        clearTimeout(timer);
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, response);
};

/** A response to `request` as the room sends it: an SSE stream opened by a signed token ends when the token does. */
export const endWithToken = (request: Request, response: Response, now: () => number): Response => {
  const exp = tokenExpiryOf(request);
  const eventStream = response.headers.get("Content-Type")?.startsWith("text/event-stream") ?? false;
  return exp !== undefined && eventStream ? endAtExpiry(response, exp * 1000, now) : response;
};
