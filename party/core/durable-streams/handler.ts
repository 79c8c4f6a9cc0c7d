// `{room}/v1/stream/<name>`: the Durable Streams protocol (ElectricSQL's open HTTP protocol,
// PROTOCOL.md of github.com/durable-streams/durable-streams; checked by its conformance suite
// @durable-streams/server-conformance-tests 0.3.6). PUT creates (or forks), POST appends and closes, GET
// reads (catch-up, `live=long-poll`, `live=sse`), HEAD answers metadata, DELETE deletes.
// A name with no protocol stream but with events in the room's log (an application stream,
// `$store`) is a read-only JSON stream of those events.
//
// Every request is validated before any state changes; refusals are the room's JSON errors with
// the protocol's statuses and headers.
import { RESERVED_PREFIX } from "../../protocol.ts";
import { roleOf } from "../room/auth.ts";
import { RoomError } from "../common/errors.ts";
import { errorResponse, readBodyBytes } from "../room/http.ts";
import type { RoomContext } from "../room/types.ts";
import { encodePayload, mediaType } from "./payload.ts";
import { ProducerRefusal } from "./producers.ts";
import { isExpired, type StreamMeta } from "./model.ts";
import { StreamClosed, createStreamStore, type AppendRequest, type StreamStorePort } from "./store.ts";
import { baseHeaders, MAX_APPEND_BYTES, parseConfig, keptHeader, parseProducer, STREAM_ROUTE, streamNameOf } from "./requests.ts";
import {
  formatOffset,
  hasEvents,
  parseOffset,
  readChunk,
  responseCursor,
  startOf,
  streamSource,
  viewSource,
  watchLog,
  type Chunk,
  type LogWatch,
  type Source,
} from "./read.ts";
import { sseResponse } from "./sse.ts";

const ALLOWED_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS";
const READ_ONLY_METHODS = "GET, HEAD, OPTIONS";
const ALLOWED_HEADERS =
  "Content-Type, Authorization, If-None-Match, Stream-Seq, Stream-TTL, Stream-Expires-At, Stream-Closed, Producer-Id, Producer-Epoch, Producer-Seq, Stream-Forked-From, Stream-Fork-Offset, Stream-Fork-Sub-Offset";
const PREFLIGHT_MAX_AGE_SECONDS = 86_400;
/** Live reads (long-poll and SSE) one room holds at once; one more is 429 until one ends. */
export const MAX_LIVE_READS = 1_000;
/** Data behind an offset never changes: a response that is not at the tail may be cached. */
const CACHE_IMMUTABLE = "private, max-age=60, stale-while-revalidate=300";

export { STREAM_ROUTE };

/** What the protocol's handler uses of the room: the stream store's port, with the config and the logger. */
export interface StreamPort extends StreamStorePort {
  readonly options: Pick<RoomContext, "storage" | "now" | "config" | "logger">;
}

export const createDurableStreamHandler = (core: StreamPort) => {
  const { config } = core.options;
  const store = createStreamStore(core);
  const now = core.options.now;
  const log = (error: unknown) => core.options.logger.error("roomstore: stream request failed", error);
  /** Last read of each stream with a TTL: reads renew it too (a sliding TTL), without a write. */
  const lastReads = new Map<string, number>();
  const lastRead = (name: string) => () => lastReads.get(name) ?? 0;
  let liveReads = 0;

  /** A watch on a stream's log, counted against MAX_LIVE_READS until cancelled. */
  const watch = (logStream: string): LogWatch => {
    if (liveReads >= MAX_LIVE_READS) throw new RoomError("rate_limited", `The room holds ${MAX_LIVE_READS} live reads already: retry later.`);
    liveReads++;
    const inner = watchLog(core.log, logStream);
    let cancelled = false;
    return {
      wait: (timeoutMs) => inner.wait(timeoutMs),
      cancel() {
        inner.cancel();
        if (!cancelled) liveReads--;
        cancelled = true;
      },
    };
  };

  /** The stream a name reads: a live protocol stream, a view of a log stream, or none. */
  const resolve = async (name: string): Promise<Source | undefined> => {
    const meta = await store.load(name);
    if (meta) {
      if (!isExpired(meta, now(), lastReads.get(name))) return streamSource(name, meta);
      lastReads.delete(name);
      return undefined;
    }
    return (await hasEvents(core.log, name)) ? viewSource(core.log, name) : undefined;
  };

  const touch = (name: string, meta: StreamMeta | undefined) => {
    if (meta?.ttlSeconds !== undefined) lastReads.set(name, now());
  };

  const found = async (name: string): Promise<Source> => {
    const source = await resolve(name);
    if (!source) throw new RoomError("not_found", "No such stream.");
    if (source.meta?.softDeleted) throw new RoomError("gone", "The stream was deleted; its forks still read it.");
    return source;
  };

  const writable = (source: Source | undefined, headers: Headers) => {
    if (source?.meta?.softDeleted) throw new RoomError("gone", "The stream was deleted; its forks still read it.");
    if (source && !source.meta) {
      headers.set("Allow", READ_ONLY_METHODS);
      throw new RoomError("method_not_allowed", "This stream is a view of the room's log: read it, do not write it.");
    }
  };

  const setMeta = (headers: Headers, meta: StreamMeta, offset = meta.tail) => {
    headers.set("Content-Type", meta.contentType);
    headers.set("Stream-Next-Offset", formatOffset(offset));
    if (meta.closed) headers.set("Stream-Closed", "true");
  };

  const create = async (request: Request, name: string, headers: Headers): Promise<Response> => {
    if (name.startsWith(RESERVED_PREFIX)) throw new RoomError("reserved_name", `Stream names starting with "${RESERVED_PREFIX}" are the room's.`);
    const streamConfig = parseConfig(request);
    const body = await readBodyBytes(request, Math.min(MAX_APPEND_BYTES, config.limits.maxBodyBytes));
    const payload = encodePayload(streamConfig.contentType, body, true);
    if (!(await store.load(name)) && (await hasEvents(core.log, name))) {
      throw new RoomError("conflict", "An application stream of the room has this name: read it, or pick another name.");
    }
    const { created, meta } = await store.create(name, streamConfig, payload, lastRead(name));
    setMeta(headers, meta);
    if (!created) return new Response(null, { status: 200, headers });
    lastReads.delete(name);
    const url = new URL(request.url);
    headers.set("Location", url.origin + url.pathname);
    return new Response(null, { status: 201, headers });
  };

  const append = async (request: Request, name: string, headers: Headers): Promise<Response> => {
    const producer = parseProducer(request);
    const streamSeq = keptHeader(request, "Stream-Seq");
    const appendRequest: AppendRequest = {
      body: await readBodyBytes(request, Math.min(MAX_APPEND_BYTES, config.limits.maxBodyBytes)),
      close: request.headers.get("Stream-Closed") === "true",
      producer,
    };
    const contentType = request.headers.get("Content-Type");
    if (appendRequest.body.length > 0) {
      if (contentType === null) throw new RoomError("bad_request", "An append needs a Content-Type.");
      appendRequest.contentType = contentType;
    } else if (!appendRequest.close) {
      throw new RoomError("bad_request", "An append needs a body (or Stream-Closed: true to close).");
    }
    if (streamSeq !== null) appendRequest.streamSeq = streamSeq;
    writable(await resolve(name), headers);
    const result = await store.append(name, appendRequest, lastRead(name));
    headers.set("Stream-Next-Offset", formatOffset(result.meta.tail));
    if (result.meta.closed) headers.set("Stream-Closed", "true");
    if (producer) {
      headers.set("Producer-Epoch", String(producer.epoch));
      headers.set("Producer-Seq", String(result.status === "duplicate" ? result.lastSeq : producer.seq));
    }
    const status = producer && result.status === "appended" ? 200 : 204;
    return new Response(null, { status, headers });
  };

  const remove = async (name: string, headers: Headers): Promise<Response> => {
    writable(await resolve(name), headers);
    await store.delete(name, lastRead(name));
    lastReads.delete(name);
    return new Response(null, { status: 204, headers });
  };

  const head = async (name: string, headers: Headers): Promise<Response> => {
    const source = await found(name);
    headers.set("Cache-Control", "no-store");
    headers.set("Content-Type", source.contentType);
    headers.set("Stream-Next-Offset", formatOffset(source.tail));
    const meta = source.meta;
    if (meta?.closed) headers.set("Stream-Closed", "true");
    if (meta?.ttlSeconds !== undefined) headers.set("Stream-TTL", String(meta.ttlSeconds));
    if (meta?.expiresAt !== undefined) headers.set("Stream-Expires-At", meta.expiresAt);
    headers.set("ETag", `"${source.incarnation}:-1:${formatOffset(source.tail)}${meta?.closed ? ":c" : ""}"`);
    return new Response(null, { status: 200, headers });
  };

  /** A 200 with a chunk, or 304 when the client has it already. */
  const chunkResponse = (request: Request, source: Source, chunk: Chunk, headers: Headers): Response => {
    const next = formatOffset(chunk.last);
    const closed = source.meta?.closed === true && chunk.upToDate;
    headers.set("Content-Type", source.contentType);
    headers.set("Stream-Next-Offset", next);
    if (chunk.upToDate) headers.set("Stream-Up-To-Date", "true");
    if (closed) headers.set("Stream-Closed", "true");
    headers.set("Cache-Control", chunk.upToDate ? "no-store" : CACHE_IMMUTABLE);
    const from = new URL(request.url).searchParams.get("offset") ?? "-1";
    const etag = `"${source.incarnation}:${from}:${next}${closed ? ":c" : ""}"`;
    headers.set("ETag", etag);
    if (request.headers.get("If-None-Match") === etag) return new Response(null, { status: 304, headers });
    const body = chunk.json ? `[${chunk.json.join(",")}]` : chunk.bytes!;
    return new Response(body, { status: 200, headers });
  };

  const read = async (request: Request, name: string, headers: Headers): Promise<Response> => {
    const params = new URL(request.url).searchParams;
    const offset = parseOffset(params);
    const live = params.get("live");
    if ((live === "long-poll" || live === "sse") && !params.has("offset")) {
      throw new RoomError("bad_request", `live=${live} needs an offset (-1 for the start, now for the tail).`);
    }
    let source = await found(name);
    touch(name, source.meta);
    const from = startOf(core.log, source, offset);
    if (live === "sse") {
      return sseResponse({ reader: core.log, longPollTimeoutMs: config.limits.longPollTimeoutMs, watch: watch(source.logStream), resolve: () => resolve(name), source, from, cursor: params.get("cursor"), headers, now, log });
    }
    if (offset.kind === "now" && live !== "long-poll") {
      headers.set("Cache-Control", "no-store");
      headers.set("Content-Type", source.contentType);
      headers.set("Stream-Next-Offset", formatOffset(from));
      headers.set("Stream-Up-To-Date", "true");
      if (source.meta?.closed) headers.set("Stream-Closed", "true");
      return new Response(mediaType(source.contentType) === "application/json" ? "[]" : null, { status: 200, headers });
    }
    if (live !== "long-poll") return chunkResponse(request, source, await readChunk(core.log, source, from), headers);
    const cursor = responseCursor(params.get("cursor"), now());
    headers.set("Stream-Cursor", cursor);
    const pending = watch(source.logStream);
    try {
      let chunk = await readChunk(core.log, source, from);
      if (chunk.empty && !source.meta?.closed) {
        const woken = await pending.wait(config.limits.longPollTimeoutMs);
        const latest = await resolve(name);
        if (!latest || latest.incarnation !== source.incarnation) throw new RoomError("not_found", "The stream was deleted.");
        source = latest;
        touch(name, source.meta);
        if (woken) chunk = await readChunk(core.log, source, from);
      }
      if (!chunk.empty) return chunkResponse(request, source, chunk, headers);
      headers.set("Stream-Next-Offset", formatOffset(from));
      headers.set("Stream-Up-To-Date", "true");
      if (source.meta?.closed) headers.set("Stream-Closed", "true");
      return new Response(null, { status: 204, headers });
    } finally {
      pending.cancel();
    }
  };

  const preflight = (request: Request): Response => {
    const headers = baseHeaders(config, request);
    if (!config.responseHeaders) {
      headers.set("Access-Control-Allow-Methods", ALLOWED_METHODS);
      headers.set("Access-Control-Allow-Headers", request.headers.get("Access-Control-Request-Headers") ?? ALLOWED_HEADERS);
      headers.set("Access-Control-Max-Age", String(PREFLIGHT_MAX_AGE_SECONDS));
    }
    return new Response(null, { status: 204, headers });
  };

  /** Answers one request to `{room}/v1/stream/<name>`; `path` is that sub-path. */
  return async (request: Request, path: string): Promise<Response> => {
    if (request.method === "OPTIONS") return preflight(request);
    const headers = baseHeaders(config, request);
    try {
      const name = streamNameOf(path);
      if (request.method !== "GET" && request.method !== "HEAD" && roleOf(request) === "read") {
        throw new RoomError("forbidden", "This token may read, not write.");
      }
      switch (request.method) {
        case "PUT":
          return await create(request, name, headers);
        case "POST":
          return await append(request, name, headers);
        case "DELETE":
          return await remove(name, headers);
        case "HEAD":
          return await head(name, headers);
        case "GET":
          return await read(request, name, headers);
        default:
          headers.set("Allow", ALLOWED_METHODS);
          throw new RoomError("method_not_allowed", `A stream answers ${ALLOWED_METHODS} only.`);
      }
    } catch (error) {
      if (error instanceof ProducerRefusal) for (const [name, value] of Object.entries(error.headers)) headers.set(name, value);
      if (error instanceof StreamClosed) {
        headers.set("Stream-Closed", "true");
        headers.set("Stream-Next-Offset", formatOffset(error.meta.tail));
      }
      const response = errorResponse(error, headers, log);
      return request.method === "HEAD" ? new Response(null, response) : response;
    }
  };
};
