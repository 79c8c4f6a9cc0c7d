// The protocol's reads: HEAD answers a stream's metadata; GET reads it in one of four modes, one
// function each: catch-up (a chunk from an offset), `offset=now` (the tail, nothing to read),
// `live=long-poll` (a chunk, or a wait for one) and `live=sse` (sse.ts). Every answer's position
// headers are set by `setPosition` (requests.ts).
import { RoomError } from "../common/errors.ts";
import { found, resolve, touch, watch, type Streams } from "./context.ts";
import { mediaType } from "./payload.ts";
import { formatOffset, parseOffset, readChunk, responseCursor, startOf, type Chunk, type Source } from "./read.ts";
import { setPosition } from "./requests.ts";
import { sseResponse } from "./sse.ts";

/** Data behind an offset never changes: a response that is not at the tail may be cached. */
const CACHE_IMMUTABLE = "private, max-age=60, stale-while-revalidate=300";

/** One GET: the stream it reads, from where, and the request's parameters. */
interface Read {
  request: Request;
  name: string;
  params: URLSearchParams;
  source: Source;
  /** The seq the read starts after. */
  from: number;
  headers: Headers;
}

/** HEAD: the stream's content type, tail, TTL and expiry, and an ETag of its position. */
export const headRequest = async (streams: Streams, name: string, headers: Headers): Promise<Response> => {
  const source = await found(streams, name);
  const meta = source.meta;
  headers.set("Cache-Control", "no-store");
  setPosition(headers, { next: source.tail, contentType: source.contentType, closed: meta?.closed });
  if (meta?.ttlSeconds !== undefined) headers.set("Stream-TTL", String(meta.ttlSeconds));
  if (meta?.expiresAt !== undefined) headers.set("Stream-Expires-At", meta.expiresAt);
  headers.set("ETag", `"${source.incarnation}:-1:${formatOffset(source.tail)}${meta?.closed ? ":c" : ""}"`);
  return new Response(null, { status: 200, headers });
};

/** GET: validates the mode first, then reads in it. */
export const readRequest = async (streams: Streams, request: Request, name: string, headers: Headers): Promise<Response> => {
  const params = new URL(request.url).searchParams;
  const offset = parseOffset(params);
  const live = params.get("live");
  if ((live === "long-poll" || live === "sse") && !params.has("offset")) {
    throw new RoomError("bad_request", `live=${live} needs an offset (-1 for the start, now for the tail).`);
  }
  const source = await found(streams, name);
  touch(streams, name, source.meta);
  const read: Read = { request, name, params, source, from: startOf(streams.port.log, source, offset), headers };
  if (live === "sse") return readSse(streams, read);
  if (live === "long-poll") return readLongPoll(streams, read);
  if (offset.kind === "now") return readNow(read);
  return chunkResponse(read, await readChunk(streams.port.log, source, read.from));
};

/** `offset=now`: the tail, with nothing read (an empty JSON array for a JSON stream). */
const readNow = ({ source, from, headers }: Read): Response => {
  headers.set("Cache-Control", "no-store");
  setPosition(headers, { next: from, contentType: source.contentType, upToDate: true, closed: source.meta?.closed });
  return new Response(mediaType(source.contentType) === "application/json" ? "[]" : null, { status: 200, headers });
};

/** `live=long-poll`: what there is, else a wait of at most longPollTimeoutMs for it; 204 when nothing came. */
const readLongPoll = async (streams: Streams, read: Read): Promise<Response> => {
  const { name, from, headers } = read;
  headers.set("Stream-Cursor", responseCursor(read.params.get("cursor"), streams.port.options.now()));
  let source = read.source;
  const pending = watch(streams, source.logStream);
  try {
    let chunk = await readChunk(streams.port.log, source, from);
    if (chunk.empty && !source.meta?.closed) {
      const woken = await pending.wait(streams.port.options.config.limits.longPollTimeoutMs);
      const latest = await resolve(streams, name);
      if (!latest || latest.incarnation !== source.incarnation) throw new RoomError("not_found", "The stream was deleted.");
      source = latest;
      touch(streams, name, source.meta);
      if (woken) chunk = await readChunk(streams.port.log, source, from);
    }
    if (!chunk.empty) return chunkResponse({ ...read, source }, chunk);
    setPosition(headers, { next: from, upToDate: true, closed: source.meta?.closed });
    return new Response(null, { status: 204, headers });
  } finally {
    pending.cancel();
  }
};

/** `live=sse`: the stream from `from` on as Server-Sent Events, until it is deleted or the client leaves (sse.ts). */
const readSse = (streams: Streams, { name, params, source, from, headers }: Read): Response => {
  const { options, log } = streams.port;
  return sseResponse({
    reader: log,
    longPollTimeoutMs: options.config.limits.longPollTimeoutMs,
    watch: watch(streams, source.logStream),
    resolve: () => resolve(streams, name),
    source,
    from,
    cursor: params.get("cursor"),
    headers,
    now: options.now,
    log: (error) => options.logger.error("roomstore: stream request failed", error),
  });
};

/** A 200 with a chunk, or 304 when the client has it already. */
const chunkResponse = ({ request, source, headers }: Read, chunk: Chunk): Response => {
  const next = formatOffset(chunk.last);
  const closed = source.meta?.closed === true && chunk.upToDate;
  setPosition(headers, { next: chunk.last, contentType: source.contentType, upToDate: chunk.upToDate, closed });
  headers.set("Cache-Control", chunk.upToDate ? "no-store" : CACHE_IMMUTABLE);
  const from = new URL(request.url).searchParams.get("offset") ?? "-1";
  const etag = `"${source.incarnation}:${from}:${next}${closed ? ":c" : ""}"`;
  headers.set("ETag", etag);
  if (request.headers.get("If-None-Match") === etag) return new Response(null, { status: 304, headers });
  const body = chunk.json ? `[${chunk.json.join(",")}]` : chunk.bytes!;
  return new Response(body, { status: 200, headers });
};
