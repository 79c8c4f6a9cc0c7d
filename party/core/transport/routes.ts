// The room's HTTP resources, in one table: `{storePath}` (TinyBase's persister protocol plus
// conditional requests) and `{eventsPath}` (the event log). Every body is validated before any
// state changes; every failure is a JSON error with one of protocol.ts's codes.
import { AT_PARAM, etagOf, parseEtag, ROLE_RESPONSE_HEADER, STATS_PATH, type RoomStats } from "../../protocol.ts";
import { roleOf } from "../room/auth.ts";
import { parseContent, parseJson } from "../store/changes.ts";
import { RoomError } from "../common/errors.ts";
import { parseAppendInputs } from "../storage/event-log.ts";
import { readHistory, readPage } from "../log/reads.ts";
import { storeAtPosition, type TimeTravelPort } from "../log/time-travel.ts";
import { assertOriginAllowed, corsHeaders, discardBody, errorResponse, jsonResponse, methodNotAllowed, preflight, readBody, readIfMatch, respond, subPath } from "../room/http.ts";
import type { LogReader, PutResult, RoomContext } from "../room/types.ts";
import type { StoreModel } from "../store/model.ts";
import type { EventInput, StoredEvent } from "../storage/event-log.ts";
import type { Content } from "../store/changes.ts";
import { createSseResponse, isEventStreamRequest, type SsePort } from "../live/sse.ts";
import { patchStore, type PatchPort } from "../write/patch.ts";
import { STREAM_ROUTE } from "../durable-streams/handler.ts";
import type { ReaderCount } from "../room/stats.ts";
import { endWithToken } from "../live/token-expiry.ts";

export type Handler = (request: Request, headers: Headers) => Promise<Response>;
export type Resource = Partial<Record<"GET" | "PUT" | "POST" | "PATCH" | "DELETE", Handler>>;

/** What the routes use of the room, and what they hand on to an SSE stream and a PATCH. */
export interface RoutePort extends SsePort, PatchPort, TimeTravelPort {
  readonly options: Pick<RoomContext, "config" | "now" | "logger">;
  readonly log: LogReader;
  readonly model: Pick<StoreModel, "hasStore" | "toJson" | "toJsonParts">;
  /** Resolves once every write queued before it has settled: a GET of the store sends only what is kept. */
  settled(): Promise<void>;
  putStore(content: Content, origin: unknown, ifMatch?: number): Promise<PutResult>;
  appendEvents(inputs: EventInput[], ifMatch?: number, mid?: string): Promise<StoredEvent[]>;
}

/** What the routes serve besides the store and the log, built by the room (index.ts). */
export interface RouteParts {
  /** The whole room's resources (admin/routes.ts, transport/presence-route.ts). */
  more: Iterable<[string, Resource]>;
  /** `{room}/v1/stream/<name>`: the Durable Streams handler (durable-streams/handler.ts). */
  streams: (request: Request, path: string) => Promise<Response>;
  stats: () => Promise<RoomStats>;
  sseReaders: ReaderCount;
}

/** The routes' state: the room's port, what the room adds, and the resource table built from them. */
interface Routes {
  readonly port: RoutePort;
  readonly parts: RouteParts;
  readonly config: RoomContext["config"];
  readonly resources: Map<string, Resource>;
  /** Hears a request that failed with no code of its own (a 500). */
  readonly logError: (error: unknown) => void;
}

/** A handler of the table, over the routes' state. */
type RouteHandler = (routes: Routes, request: Request, headers: Headers) => Promise<Response>;

const getStore: RouteHandler = async ({ port }, request, headers) => {
  const at = new URL(request.url).searchParams.get(AT_PARAM);
  if (at !== null) {
    // The store as of a log position (log/time-travel.ts): an empty body while no store existed yet.
    const { json, storeSeq } = await storeAtPosition(port, at);
    headers.set("ETag", etagOf(storeSeq));
    headers.set("Cache-Control", "no-store");
    return respond(200, json ?? "", headers);
  }
  await port.settled();
  headers.set("ETag", etagOf(port.log.storeSeq));
  headers.set("Cache-Control", "no-store");
  if (parseEtag(request.headers.get("If-None-Match")) === port.log.storeSeq) return respond(304, null, headers);
  // TinyBase's client reads an empty body as "no store yet".
  return respond(200, port.model.hasStore ? port.model.toJson() : "", headers);
};

const putStore: RouteHandler = async ({ port, config }, request, headers) => {
  const ifMatch = readIfMatch(request);
  const content = parseContent(parseJson(await readBody(request, config.limits.maxBodyBytes)));
  const { status, seq } = await port.putStore(content, request, ifMatch);
  headers.set("ETag", etagOf(seq));
  return respond(status, null, headers);
};

const getEvents: RouteHandler = async ({ port, parts, config }, request, headers) => {
  const { limits } = config;
  if (isEventStreamRequest(request)) {
    if (parts.sseReaders.size >= limits.maxSseReaders) {
      throw new RoomError("rate_limited", `This room has ${limits.maxSseReaders} SSE readers open already: retry later.`);
    }
    const response = createSseResponse(port, request, headers, port.options.now);
    return parts.sseReaders.track(response);
  }
  const page = await readPage(port.log, limits, new URL(request.url).searchParams);
  return respond(200, page, headers);
};

const getHistory: RouteHandler = async ({ port, config }, request, headers) =>
  respond(200, await readHistory(port.log, config.limits, new URL(request.url).searchParams), headers);

const postEvents: RouteHandler = async ({ port, config }, request, headers) => {
  const { limits } = config;
  const ifMatch = readIfMatch(request);
  const body = parseJson(await readBody(request, limits.maxBodyBytes));
  const list = Array.isArray(body) ? body : [body];
  const inputs = parseAppendInputs(list, limits);
  const stored = await port.appendEvents(inputs, ifMatch);
  headers.set("ETag", etagOf(port.log.head));
  return respond(201, '{"events":[' + stored.map(({ json }) => json).join(",") + "]}", headers);
};

const patch: RouteHandler = ({ port }, request, headers) => patchStore(port, request, headers);

const getStats: RouteHandler = async ({ parts }, _request, headers) => {
  headers.set("Cache-Control", "no-store");
  return jsonResponse(200, await parts.stats(), headers);
};

/** Fills the resource table: the store, the log, its history, what the room adds, and the stats. */
const addResources = (routes: Routes): void => {
  const { resources, config } = routes;
  const on = (handler: RouteHandler): Handler => (request, headers) => handler(routes, request, headers);
  resources.set(config.storePath, { GET: on(getStore), PUT: on(putStore), PATCH: on(patch) });
  resources.set(config.eventsPath, { GET: on(getEvents), POST: on(postEvents) });
  resources.set(config.eventsPath + "/history", { GET: on(getHistory) });
  for (const [path, resource] of routes.parts.more) resources.set(path, resource);
  resources.set(STATS_PATH, { GET: on(getStats) });
};

/** One request: its resource and method found, its origin and role checked, then handled; every failure a JSON error. */
const answer = async (routes: Routes, request: Request): Promise<Response> => {
  const { config } = routes;
  const path = subPath(new URL(request.url).pathname);
  if (path.startsWith(STREAM_ROUTE)) return routes.parts.streams(request, path);
  const headers = corsHeaders(config, request);
  try {
    const resource = routes.resources.get(path);
    if (!resource) throw new RoomError("not_found", "No such resource in this room.");
    assertOriginAllowed(config.allowedOrigins, request);
    if (request.method === "OPTIONS") return preflight(config, request);
    // Fail closed: only what a gate admitted, with a role, gets in (auth off: the gate says write).
    const role = roleOf(request);
    if (role === undefined) throw new RoomError("forbidden", "No gate admitted this request.");
    headers.set(ROLE_RESPONSE_HEADER, role);
    const method = request.method === "HEAD" ? "GET" : request.method;
    const handler = resource[method as keyof Resource];
    if (!handler) {
      const allow = ["OPTIONS", ...Object.keys(resource), ...(resource.GET ? ["HEAD"] : [])].join(", ");
      headers.set("Allow", allow);
      throw methodNotAllowed(allow);
    }
    if (method !== "GET" && role !== "write") throw new RoomError("forbidden", "This token may read, not write.");
    const response = await handler(request, headers);
    return request.method === "HEAD" ? new Response(null, response) : response;
  } catch (error) {
    return errorResponse(error, headers, routes.logError);
  }
};

export const createRequestHandler = (port: RoutePort, parts: RouteParts) => {
  const { config } = port.options;
  const routes: Routes = {
    port,
    parts,
    config,
    resources: new Map(),
    logError: (error) => port.options.logger.error("roomstore: request failed", error),
  };
  addResources(routes);
  // Every answer leaves the request body read, whether a handler read it or the request was
  // refused first (see discardBody). An SSE stream ends when the signed token that opened it does.
  return async (request: Request): Promise<Response> => {
    const response = await answer(routes, request);
    await discardBody(request, config.limits.maxBodyBytes);
    return endWithToken(request, response, port.options.now);
  };
};
