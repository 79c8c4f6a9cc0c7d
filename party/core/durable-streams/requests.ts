// Durable Streams requests: the stream name, the headers of a create (config, fork), an append's
// producer headers, the headers every answer carries, and the position headers a stream's answers
// carry (Stream-Next-Offset is set in `setPosition` only). Everything is checked here, before any
// state changes.
import type { RoomConfig } from "../room/config.ts";
import { RoomError } from "../common/errors.ts";
import { corsHeaders } from "../room/http.ts";
import type { ProducerTuple } from "./producers.ts";
import { formatOffset, seqOfOffset } from "./read.ts";
import { DEFAULT_CONTENT_TYPE, MAX_STREAM_NAME_CHARS, type ForkRequest, type StreamConfig } from "./model.ts";

/** Where streams live under a room. */
export const STREAM_ROUTE = "/v1/stream/";
/** Largest body one append or create takes; larger ones are 413. */
export const MAX_APPEND_BYTES = 1024 * 1024;

/** What a stream answers to every method, and to the methods of a view of the log. */
export const ALLOWED_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS";
export const READ_ONLY_METHODS = "GET, HEAD, OPTIONS";

/** Where a stream stands after a request: the answer's position headers. */
export interface Position {
  /** The seq the next read starts after (Stream-Next-Offset). */
  next: number;
  /** The stream's content type, where the answer carries one. */
  contentType?: string;
  /** Nothing is left to read (Stream-Up-To-Date). */
  upToDate?: boolean;
  /** The stream takes no more appends (Stream-Closed). */
  closed?: boolean;
}

/** Sets the position headers: the one place an answer gets its Stream-Next-Offset. */
export const setPosition = (headers: Headers, { next, contentType, upToDate = false, closed = false }: Position): void => {
  if (contentType !== undefined) headers.set("Content-Type", contentType);
  headers.set("Stream-Next-Offset", formatOffset(next));
  if (upToDate) headers.set("Stream-Up-To-Date", "true");
  if (closed) headers.set("Stream-Closed", "true");
};

/** Longest value of a header a stream keeps in its metadata (Content-Type, Stream-Expires-At, Stream-Seq). */
export const MAX_KEPT_HEADER_CHARS = 256;

/** A header whose value the stream keeps; 400 when it is longer than MAX_KEPT_HEADER_CHARS. */
export const keptHeader = (request: Request, name: string): string | null => {
  const value = request.headers.get(name);
  if (value !== null && value.length > MAX_KEPT_HEADER_CHARS) throw new RoomError("bad_request", `${name} has at most ${MAX_KEPT_HEADER_CHARS} characters.`);
  return value;
};

const EXPOSED_HEADERS =
  "Stream-Next-Offset, Stream-Cursor, Stream-Up-To-Date, Stream-Closed, Stream-TTL, Stream-Expires-At, Stream-SSE-Data-Encoding, Producer-Epoch, Producer-Seq, Producer-Expected-Seq, Producer-Received-Seq, ETag, Location, Content-Type";
const TTL = /^(0|[1-9]\d*)$/;
const COUNTER = /^\d+$/;
const MEDIA_TYPE = /^[\w.+-]+\/[\w.+-]+/;

/** CORS and the browser security headers of PROTOCOL.md 10.7, on every answer. */
export const baseHeaders = (config: RoomConfig, request: Request): Headers => {
  const headers = corsHeaders(config, request);
  if (!config.responseHeaders) headers.set("Access-Control-Expose-Headers", EXPOSED_HEADERS);
  headers.set("X-Content-Type-Options", "nosniff");
  headers.set("Cross-Origin-Resource-Policy", "cross-origin");
  return headers;
};

/** The fork a PUT asks for: `Stream-Forked-From` is a stream path relative to the room. */
const parseFork = (request: Request): ForkRequest | undefined => {
  const from = request.headers.get("Stream-Forked-From");
  const offset = request.headers.get("Stream-Fork-Offset");
  const subOffset = request.headers.get("Stream-Fork-Sub-Offset");
  if (from === null) {
    if (subOffset !== null) throw new RoomError("bad_request", "Stream-Fork-Sub-Offset needs Stream-Forked-From.");
    return undefined;
  }
  if (!from.startsWith(STREAM_ROUTE)) throw new RoomError("bad_request", `Stream-Forked-From is a stream path in this room, ${STREAM_ROUTE}<name>.`);
  const fork: ForkRequest = { from: streamNameOf(from) };
  if (offset !== null) {
    const seq = seqOfOffset(offset);
    if (!Number.isSafeInteger(seq)) throw new RoomError("bad_request", "Stream-Fork-Offset is an offset of the source stream.");
    Object.assign(fork, { offset, seq });
  }
  if (subOffset !== null) {
    if (!TTL.test(subOffset) || !Number.isSafeInteger(Number(subOffset))) throw new RoomError("bad_request", "Stream-Fork-Sub-Offset is a whole number.");
    fork.subOffset = Number(subOffset);
  }
  return fork;
};

export const parseConfig = (request: Request): StreamConfig => {
  const given = keptHeader(request, "Content-Type")?.trim();
  const ttl = request.headers.get("Stream-TTL");
  const expiresAt = keptHeader(request, "Stream-Expires-At");
  if (ttl !== null && expiresAt !== null) throw new RoomError("bad_request", "Give Stream-TTL or Stream-Expires-At, not both.");
  if (ttl !== null && (!TTL.test(ttl) || !Number.isSafeInteger(Number(ttl)))) throw new RoomError("bad_request", "Stream-TTL is a whole number of seconds.");
  if (expiresAt !== null && Number.isNaN(Date.parse(expiresAt))) throw new RoomError("bad_request", "Stream-Expires-At is an RFC 3339 time.");
  const contentTypeGiven = given !== undefined && MEDIA_TYPE.test(given);
  const config: StreamConfig = {
    contentType: contentTypeGiven ? given! : DEFAULT_CONTENT_TYPE,
    contentTypeGiven,
    closed: request.headers.get("Stream-Closed") === "true",
  };
  const fork = parseFork(request);
  if (fork) config.fork = fork;
  if (ttl !== null) config.ttlSeconds = Number(ttl);
  if (expiresAt !== null) config.expiresAt = expiresAt;
  return config;
};

export const parseProducer = (request: Request): ProducerTuple | undefined => {
  const [id, epoch, seq] = ["Producer-Id", "Producer-Epoch", "Producer-Seq"].map((name) => request.headers.get(name));
  if (id === null && epoch === null && seq === null) return undefined;
  if (id === null || epoch === null || seq === null) throw new RoomError("bad_request", "Give Producer-Id, Producer-Epoch and Producer-Seq together.");
  if (id.length === 0 || id.length > MAX_STREAM_NAME_CHARS) throw new RoomError("bad_request", `Producer-Id has 1 to ${MAX_STREAM_NAME_CHARS} characters.`);
  for (const [name, value] of [["Producer-Epoch", epoch], ["Producer-Seq", seq]]) {
    if (!COUNTER.test(value!) || !Number.isSafeInteger(Number(value))) throw new RoomError("bad_request", `${name} is a whole number.`);
  }
  return { id, epoch: Number(epoch), seq: Number(seq) };
};

/** The stream name of a path under STREAM_ROUTE, decoded; 404 for none. */
export const streamNameOf = (path: string): string => {
  let name: string;
  try {
    name = decodeURIComponent(path.slice(STREAM_ROUTE.length));
  } catch {
    throw new RoomError("bad_request", "The stream name is not a valid URL path.");
  }
  if (name.length === 0) throw new RoomError("not_found", "Name a stream: /v1/stream/<name>.");
  if (name.length > MAX_STREAM_NAME_CHARS) throw new RoomError("bad_request", `A stream name has at most ${MAX_STREAM_NAME_CHARS} characters.`);
  return name;
};
