// `GET /parties/<party>`, at the edge (the worker, PartyKit's onFetch), before it reaches the
// directory: the origin, CORS preflights, the method, and the token. Listing names every room, so
// with auth on it needs the write token or a signed token for room `*` (of either role): the
// shared read token, which apps hand to their clients, does not list, and neither does a token
// signed for one room. Admitted, it goes on to the directory's `…/rooms` with its query, without
// its token. Refused, it gets the one JSON error (room/http.ts).
import { authConfigFromEnv, authorizeToken, TOKEN_PARAM, tokenOf } from "../room/auth.ts";
import { resolveConfig } from "../room/config.ts";
import { RoomError } from "../common/errors.ts";
import { assertOriginAllowed, discardBody, errorResponse, MAX_DRAINED_BODY_BYTES, methodNotAllowed, preflight } from "../room/http.ts";
import { ROOMS_RESOURCE } from "./reports.ts";

/** The room a signed token names to open every room, and so to list them. */
export const EVERY_ROOM = "*";

/** The party of a listing's path, `/parties/<party>` (no room segment), or undefined. */
export const listedParty = (pathname: string): string | undefined => pathname.match(/^\/parties\/([^/]+)$/)?.[1];

/**
 * Admits a listing: the request to send on to the directory (`directoryUrl`, the path of its
 * `…/rooms` resource under which the runtime reaches it, plus the query), or the answer.
 */
export const admitListing = async (request: Request, env: Record<string, unknown>, directoryUrl: (resource: string) => string): Promise<Request | Response> => {
  try {
    const config = resolveConfig(env);
    assertOriginAllowed(config.allowedOrigins, request);
    if (request.method === "OPTIONS") return preflight(config, request);
    if (request.method !== "GET" && request.method !== "HEAD") throw methodNotAllowed("GET");
    const admission = await authorizeToken(authConfigFromEnv(env), tokenOf(request), EVERY_ROOM, Date.now() / 1000);
    // Shared tokens never expire and signed ones always do: a read role without expiry is the shared read token.
    if (admission.role === "read" && admission.exp === undefined) {
      throw new RoomError("forbidden", "Listing rooms needs the write token or a token signed for room \"*\".");
    }
    const search = new URL(request.url).searchParams;
    search.delete(TOKEN_PARAM);
    const query = search.toString() === "" ? "" : `?${search}`;
    const headers = new Headers(request.headers);
    headers.delete("Authorization");
    return new Request(directoryUrl(ROOMS_RESOURCE) + query, { method: request.method, headers });
  } catch (error) {
    await discardBody(request, MAX_DRAINED_BODY_BYTES);
    return errorResponse(error, new Headers({ "Access-Control-Allow-Origin": "*" }));
  }
};
