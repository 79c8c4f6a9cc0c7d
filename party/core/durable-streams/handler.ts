// `{room}/v1/stream/<name>`: the Durable Streams protocol (ElectricSQL's open HTTP protocol,
// PROTOCOL.md of github.com/durable-streams/durable-streams; checked by its conformance suite
// @durable-streams/server-conformance-tests 0.3.6). PUT creates (or forks), POST appends and closes, GET
// reads (catch-up, `live=long-poll`, `live=sse`), HEAD answers metadata, DELETE deletes.
// A name with no protocol stream but with events in the room's log (an application stream,
// `$store`) is a read-only JSON stream of those events.
//
// Every request is validated before any state changes; refusals are the room's JSON errors with
// the protocol's statuses and headers. This file finds the request's handler (write-requests.ts,
// read-requests.ts, over the state they share in context.ts) and answers its errors.
import { roleOf } from "../room/auth.ts";
import { RoomError } from "../common/errors.ts";
import { errorResponse } from "../room/http.ts";
import { createStreams, type StreamPort } from "./context.ts";
import { ProducerRefusal } from "./producers.ts";
import { StreamClosed } from "./store.ts";
import { ALLOWED_METHODS, baseHeaders, setPosition, STREAM_ROUTE, streamNameOf } from "./requests.ts";
import { headRequest, readRequest } from "./read-requests.ts";
import { appendRequest, createRequest, deleteRequest } from "./write-requests.ts";

const ALLOWED_HEADERS =
  "Content-Type, Authorization, If-None-Match, Stream-Seq, Stream-TTL, Stream-Expires-At, Stream-Closed, Producer-Id, Producer-Epoch, Producer-Seq, Stream-Forked-From, Stream-Fork-Offset, Stream-Fork-Sub-Offset";
const PREFLIGHT_MAX_AGE_SECONDS = 86_400;

export { STREAM_ROUTE };
export { MAX_LIVE_READS, type StreamPort } from "./context.ts";

export const createDurableStreamHandler = (port: StreamPort) => {
  const { config } = port.options;
  const streams = createStreams(port);
  const log = (error: unknown) => port.options.logger.error("roomstore: stream request failed", error);

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
          return await createRequest(streams, request, name, headers);
        case "POST":
          return await appendRequest(streams, request, name, headers);
        case "DELETE":
          return await deleteRequest(streams, name, headers);
        case "HEAD":
          return await headRequest(streams, name, headers);
        case "GET":
          return await readRequest(streams, request, name, headers);
        default:
          headers.set("Allow", ALLOWED_METHODS);
          throw new RoomError("method_not_allowed", `A stream answers ${ALLOWED_METHODS} only.`);
      }
    } catch (error) {
      if (error instanceof ProducerRefusal) for (const [name, value] of Object.entries(error.headers)) headers.set(name, value);
      if (error instanceof StreamClosed) setPosition(headers, { next: error.meta.tail, closed: true });
      const response = errorResponse(error, headers, log);
      return request.method === "HEAD" ? new Response(null, response) : response;
    }
  };
};
