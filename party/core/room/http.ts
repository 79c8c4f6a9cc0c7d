// HTTP responses and request bodies: JSON, errors, CORS and bounded reads. Fetch API only, so the
// same code runs in workerd, under PartyKit and in Node.
import { parseEtag, parseRoomPath, ROLE_RESPONSE_HEADER, SYNC_PATH, type ErrorBody } from "../../protocol.ts";
import type { RoomConfig } from "./config.ts";
import { errorBody, RoomError, toRoomError } from "../common/errors.ts";

const JSON_TYPE = "application/json; charset=utf-8";
/** How long a browser may cache a preflight answer. */
const PREFLIGHT_MAX_AGE_SECONDS = 86_400;
const ALLOWED_METHODS = "GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS";
const EXPOSED_HEADERS = `ETag, Location, ${ROLE_RESPONSE_HEADER}`;

/**
 * CORS headers for a response to `request`. A configured `responseHeaders` replaces them, as in
 * TinyBase's server; otherwise `allowedOrigins` decides (default `*`).
 */
export const corsHeaders = (config: RoomConfig, request: Request): Headers => {
  if (config.responseHeaders) return new Headers(config.responseHeaders);
  const headers = new Headers({ "Access-Control-Expose-Headers": EXPOSED_HEADERS });
  const origin = request.headers.get("Origin");
  if (config.allowedOrigins === "*") {
    headers.set("Access-Control-Allow-Origin", "*");
  } else if (origin && config.allowedOrigins.includes(origin)) {
    headers.set("Access-Control-Allow-Origin", origin);
    headers.set("Vary", "Origin");
  }
  return headers;
};

/** The answer to a CORS preflight: no body, just what the browser asked for. */
export const preflight = (config: RoomConfig, request: Request): Response => {
  const headers = corsHeaders(config, request);
  if (!config.responseHeaders) {
    headers.set("Access-Control-Allow-Methods", ALLOWED_METHODS);
    headers.set("Access-Control-Allow-Headers", request.headers.get("Access-Control-Request-Headers") ?? "*");
    headers.set("Access-Control-Max-Age", String(PREFLIGHT_MAX_AGE_SECONDS));
  }
  return new Response(null, { status: 204, headers });
};

export const respond = (status: number, body: string | null, headers: Headers, type = JSON_TYPE): Response => {
  if (body !== null && body !== "") headers.set("Content-Type", type);
  return new Response(body, { status, headers });
};

export const jsonResponse = (status: number, body: unknown, headers: Headers): Response =>
  respond(status, JSON.stringify(body), headers);

/**
 * The one JSON error response, for the worker, the gate and the room alike: anything thrown
 * becomes `{ "error": { code, message } }` with its code's status; an unknown error is logged and
 * never shown.
 */
export const errorResponse = (error: unknown, headers = new Headers(), log: (error: unknown) => void = logUnknown): Response => {
  const roomError = toRoomError(error);
  if (roomError !== error) log(error);
  const body: ErrorBody = errorBody(roomError);
  return jsonResponse(roomError.status, body, headers);
};

const logUnknown = (error: unknown) => console.error("roomstore: request failed", error);

/**
 * Refuses a request whose `Origin` the room does not allow (`allowedOrigins` other than `*`):
 * CORS headers only stop a browser from reading an answer, not a write or a socket from
 * happening. A request without `Origin` (not from a browser page) is not concerned.
 */
export const assertOriginAllowed = (allowedOrigins: RoomConfig["allowedOrigins"], request: Request): void => {
  const origin = request.headers.get("Origin");
  if (allowedOrigins === "*" || origin === null || allowedOrigins.includes(origin)) return;
  throw new RoomError("forbidden", `Origin ${origin} may not use this room.`);
};

/** The request's `If-Match` as a seq; undefined when absent; a malformed one is refused. */
export const readIfMatch = (request: Request): number | undefined => {
  const header = request.headers.get("If-Match");
  const seq = parseEtag(header);
  if (header !== null && seq === undefined) throw new RoomError("bad_request", 'If-Match must be a seq as the ETag gives it, e.g. "12".');
  return seq;
};

/** Reads a request body as bytes, refusing more than `maxBytes` without buffering it all. */
export const readBodyBytes = async (request: Request, maxBytes: number): Promise<Uint8Array> => {
  const tooLarge = () => new RoomError("too_large", `The body is larger than ${maxBytes} bytes.`);
  const declared = Number(request.headers.get("Content-Length") ?? NaN);
  if (declared > maxBytes) {
    await discardBody(request, MAX_DRAINED_BODY_BYTES);
    throw tooLarge();
  }
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await drain(reader, MAX_DRAINED_BODY_BYTES);
      throw tooLarge();
    }
    parts.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
};

/** Reads a request body as UTF-8 text, refusing more than `maxBytes` without buffering it all. */
export const readBody = async (request: Request, maxBytes: number): Promise<string> => {
  const bytes = await readBodyBytes(request, maxBytes);
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new RoomError("bad_request", "The body is not valid UTF-8.");
  }
};

/**
 * Most bytes of a refused body read (and dropped) before answering. An answer sent while the
 * client is still sending makes both runtimes reset the connection (workerd under wrangler dev
 * 4.164 and partykit dev 0.0.115: ECONNRESET, or "Can't read from request stream after response
 * has been sent"), so a refused body is read to its end first. The Workers platform takes request
 * bodies up to 100 MB (500 MB on Enterprise), so this bound is reached only by larger bodies,
 * which are cancelled.
 */
export const MAX_DRAINED_BODY_BYTES = 128 * 1024 * 1024;

/**
 * Reads what is left of a request body that was answered without being read (a 405, a bad
 * If-Match, a 404), up to `maxBytes`, and cancels the rest. An unread body breaks the next request
 * on the same keep-alive connection under `partykit dev` 0.0.115: it answers that request with a
 * reset (ECONNRESET). A body larger than any the room accepts is cancelled, as readBody does.
 */
export const discardBody = async (request: Request, maxBytes: number): Promise<void> => {
  if (request.body !== null && !request.bodyUsed) await drain(request.body.getReader(), maxBytes);
};

/** Reads and drops up to `maxBytes` more of a body, then cancels what is left. */
const drain = async (reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes: number): Promise<void> => {
  try {
    for (let size = 0; size <= maxBytes; ) {
      const { done, value } = await reader.read();
      if (done) return;
      size += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away mid-body: there is no connection left to keep usable.
  }
};

/** The part of a URL path after `/parties/:party/:room` (or PartyKit's `/party/:room`), or the whole path elsewhere. */
export const subPath = (pathname: string): string => {
  const path = parseRoomPath(pathname);
  return path && path.segment !== "" ? path.rest || "/" : pathname;
};

/** A room's WebSocket sub-paths: the room itself (its main socket) and `{room}/sync`. */
const SOCKET_PATHS = new Set(["/", SYNC_PATH]);

/**
 * Refuses a WebSocket upgrade to any other sub-path of a room (`{room}/<unknown>`, or `a/b` from a
 * client that did not encode the name `a/b`) with `404`: opening a main socket of the room `a` for
 * it would let that client write into a room it never named.
 */
export const assertSocketPath = (request: Request): void => {
  if (!SOCKET_PATHS.has(subPath(new URL(request.url).pathname))) {
    throw new RoomError("not_found", `No socket at this path: a room's sockets open at {room} and {room}${SYNC_PATH}, with the room name percent-encoded.`);
  }
};

export const isUpgrade = (request: Request): boolean => request.headers.get("Upgrade")?.toLowerCase() === "websocket";

export const methodNotAllowed = (allow: string): RoomError =>
  new RoomError("method_not_allowed", `This resource answers ${allow} only.`);
