// The gate in front of every room, shared by both entries. It runs before a request or socket
// reaches a room (partyserver's onBeforeRequest/onBeforeConnect; PartyKit's static hooks of the
// same names) and either answers it or admits it, in this order:
//   1. the room name: one canonical form (protocol.ts, canonicalRoomName), else 400; a socket
//      only at a socket path of the room (core/room/http.ts, assertSocketPath), else 404;
//   2. the origin: a request whose Origin is not in ALLOWED_ORIGINS gets 403;
//   3. CORS preflights are answered here, never passed on (browsers send them without credentials);
//   4. a body declared larger than MAX_BODY_BYTES gets 413, after it has been read to its end;
//   5. the token decides the role (core/room/auth.ts): 401/403, or the request goes on with the role
//      in ROLE_HEADER (and a signed token's expiry in TOKEN_EXPIRY_HEADER), at the canonical room
//      URL, without its token.
// Everything refused here is a JSON error from the one error helper (core/room/http.ts). The room
// checks the role and the origin again with its full config (a subclass may set it in code).
import { authConfigFromEnv, authorizeToken, tokenOf, withAdmission } from "./core/room/auth.ts";
import { resolveConfig, type RoomConfig } from "./core/room/config.ts";
import { RoomError } from "./core/common/errors.ts";
import { assertOriginAllowed, assertSocketPath, discardBody, errorResponse, isUpgrade, MAX_DRAINED_BODY_BYTES, preflight } from "./core/room/http.ts";
import { canonicalRoomName, PARTY_NAME, parseRoomPath, ROOM_NAME_RULE, roomSegment } from "./protocol.ts";

/** The canonical name of a room from its URL segment, or a `bad_request` RoomError. */
export const parseRoomSegment = (segment: string): string => {
  const name = canonicalRoomName(segment);
  if (name === undefined) throw new RoomError("bad_request", ROOM_NAME_RULE);
  return name;
};

/** What both runtimes answer at a path that is no room's: a JSON 404. */
export const notARoomPath = (): RoomError => new RoomError("not_found", `Rooms live at /parties/${PARTY_NAME}/:room.`);

/** `url` with its room segment (`/parties/:party/:room`, or PartyKit's `/party/:room`) spelled canonically. */
export const canonicalRoomUrl = (url: string, name: string): string => {
  const target = new URL(url);
  const path = parseRoomPath(target.pathname);
  if (!path) return url;
  target.pathname = path.prefix + roomSegment(name) + path.rest;
  return target.toString();
};

/** Each environment's config, resolved once: the runtime hands the same environment to every request of an isolate. */
const configs = new WeakMap<Record<string, unknown>, RoomConfig>();
const configOf = (env: Record<string, unknown>): RoomConfig => {
  let config = configs.get(env);
  if (!config) configs.set(env, (config = resolveConfig(env)));
  return config;
};

/** Admits `request` to the room whose URL segment is `segment`, or answers it. */
export const gate = async (request: Request, env: Record<string, unknown>, segment: string): Promise<Request | Response> => {
  try {
    const name = parseRoomSegment(segment);
    if (isUpgrade(request)) assertSocketPath(request);
    const config = configOf(env);
    assertOriginAllowed(config.allowedOrigins, request);
    if (request.method === "OPTIONS") return preflight(config, request);
    if (Number(request.headers.get("Content-Length")) > config.limits.maxBodyBytes) {
      await discardBody(request, MAX_DRAINED_BODY_BYTES);
      throw new RoomError("too_large", `The body is larger than ${config.limits.maxBodyBytes} bytes.`);
    }
    const admission = await authorizeToken(authConfigFromEnv(env), tokenOf(request), name, Date.now() / 1000);
    return withAdmission(request, admission, canonicalRoomUrl(request.url, name));
  } catch (error) {
    await discardBody(request, MAX_DRAINED_BODY_BYTES);
    return errorResponse(error, new Headers({ "Access-Control-Allow-Origin": "*" }));
  }
};
