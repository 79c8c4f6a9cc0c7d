// The protocol's writes: PUT creates a stream (or a fork, or confirms one with the same config),
// POST appends and closes, DELETE deletes. Each validates its request first, then runs one job of
// the stream store (store.ts); a refused request changes nothing.
import { RESERVED_PREFIX } from "../../protocol.ts";
import { RoomError } from "../common/errors.ts";
import { readBodyBytes } from "../room/http.ts";
import { assertWritable, lastReadOf, resolve, type Streams } from "./context.ts";
import { encodePayload } from "./payload.ts";
import { hasEvents } from "./read.ts";
import { keptHeader, MAX_APPEND_BYTES, parseConfig, parseProducer, setPosition } from "./requests.ts";
import type { AppendRequest } from "./store.ts";

/** The largest body a create or an append takes: the protocol's and the room's limit. */
const maxBodyBytes = (streams: Streams) => Math.min(MAX_APPEND_BYTES, streams.port.options.config.limits.maxBodyBytes);

/** PUT: 201 with its Location when created, 200 when a stream with this config exists. */
export const createRequest = async (streams: Streams, request: Request, name: string, headers: Headers): Promise<Response> => {
  if (name.startsWith(RESERVED_PREFIX)) throw new RoomError("reserved_name", `Stream names starting with "${RESERVED_PREFIX}" are the room's.`);
  const streamConfig = parseConfig(request);
  const body = await readBodyBytes(request, maxBodyBytes(streams));
  const payload = encodePayload(streamConfig.contentType, body, true);
  if (!(await streams.store.load(name)) && (await hasEvents(streams.port.log, name))) {
    throw new RoomError("conflict", "An application stream of the room has this name: read it, or pick another name.");
  }
  const { created, meta } = await streams.store.create(name, streamConfig, payload, lastReadOf(streams, name));
  setPosition(headers, { next: meta.tail, contentType: meta.contentType, closed: meta.closed });
  if (!created) return new Response(null, { status: 200, headers });
  streams.lastReads.delete(name);
  const url = new URL(request.url);
  headers.set("Location", url.origin + url.pathname);
  return new Response(null, { status: 201, headers });
};

/** POST: appends and/or closes; 200 for a producer's new append, else 204. */
export const appendRequest = async (streams: Streams, request: Request, name: string, headers: Headers): Promise<Response> => {
  const producer = parseProducer(request);
  const streamSeq = keptHeader(request, "Stream-Seq");
  const append: AppendRequest = {
    body: await readBodyBytes(request, maxBodyBytes(streams)),
    close: request.headers.get("Stream-Closed") === "true",
    producer,
  };
  const contentType = request.headers.get("Content-Type");
  if (append.body.length > 0) {
    if (contentType === null) throw new RoomError("bad_request", "An append needs a Content-Type.");
    append.contentType = contentType;
  } else if (!append.close) {
    throw new RoomError("bad_request", "An append needs a body (or Stream-Closed: true to close).");
  }
  if (streamSeq !== null) append.streamSeq = streamSeq;
  assertWritable(await resolve(streams, name), headers);
  const result = await streams.store.append(name, append, lastReadOf(streams, name));
  setPosition(headers, { next: result.meta.tail, closed: result.meta.closed });
  if (producer) {
    headers.set("Producer-Epoch", String(producer.epoch));
    headers.set("Producer-Seq", String(result.status === "duplicate" ? result.lastSeq : producer.seq));
  }
  const status = producer && result.status === "appended" ? 200 : 204;
  return new Response(null, { status, headers });
};

/** DELETE: 204; its events stay in the log (store.ts). */
export const deleteRequest = async (streams: Streams, name: string, headers: Headers): Promise<Response> => {
  assertWritable(await resolve(streams, name), headers);
  await streams.store.delete(name, lastReadOf(streams, name));
  streams.lastReads.delete(name);
  return new Response(null, { status: 204, headers });
};
