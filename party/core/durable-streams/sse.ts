// Durable Streams' `live=sse` reads (PROTOCOL.md 5.7): `event: data` records, each followed by an
// `event: control` record {streamNextOffset, streamCursor, upToDate} or, at the tail of a closed
// stream, {streamNextOffset, streamClosed: true}, after which the response ends. Binary streams
// send their data in base64 (`Stream-SSE-Data-Encoding: base64`).
//
// Memory: the body is pulled, one chunk (at most MAX_CHUNK_BYTES) per pull, so a slow reader
// holds at most about two chunks, whatever the writers do. A connection ends after
// SSE_CONNECTION_MS, as the protocol asks, so that clients reconnect from their last offset.
import { mediaType, toBase64 } from "./payload.ts";
import { formatOffset, readChunk, responseCursor, type LogWatch, type Source } from "./read.ts";
import type { LogReader } from "../room/types.ts";

/** How long one SSE response lasts before the client reconnects (the protocol suggests ~60 s). */
export const SSE_CONNECTION_MS = 60_000;

const LINE_BREAK = /\r\n|\r|\n/;

/**
 * One SSE record; every line of the payload is a `data:` line, so no payload can end a record.
 * Not live/sse.ts's sseRecord, which writes `data: ` (with a space): the protocol's conformance suite
 * (0.3.6) expects `data:` with none.
 */
const record = (event: string, payload: string): string =>
  `event: ${event}\n` + payload.split(LINE_BREAK).map((line) => `data:${line}`).join("\n") + "\n\n";

export interface SseContext {
  /** The room's log, read in chunks. */
  reader: LogReader;
  /** How long one wait for the stream to change lasts at most (limits.longPollTimeoutMs). */
  longPollTimeoutMs: number;
  /** The watch on the stream's log; the response cancels it when it ends. */
  watch: LogWatch;
  /** The stream as it is now; undefined once deleted or expired. */
  resolve(): Promise<Source | undefined>;
  source: Source;
  /** Seq the reader has read up to. */
  from: number;
  cursor: string | null;
  headers: Headers;
  now: () => number;
  log: (error: unknown) => void;
}

export const sseResponse = (context: SseContext): Response => {
  const { reader, headers, now, watch } = context;
  const type = mediaType(context.source.contentType);
  const base64 = !(type.startsWith("text/") || type === "application/json");
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const deadline = now() + SSE_CONNECTION_MS;
  let source = context.source;
  let position = context.from;
  let controlSent = false;

  const control = (fields: Record<string, unknown>) => record("control", JSON.stringify({ streamNextOffset: formatOffset(position), ...fields }));
  const live = (upToDate: boolean) => ({ streamCursor: responseCursor(context.cursor, now()), ...(upToDate ? { upToDate: true } : {}) });

  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const send = (text: string) => controller.enqueue(encoder.encode(text));
        const finish = () => {
          watch.cancel();
          controller.close();
        };
        try {
          for (;;) {
            const chunk = await readChunk(reader, source, position);
            const closedAtTail = source.meta?.closed === true && chunk.upToDate;
            let data = "";
            if (!chunk.empty) {
              data = record("data", chunk.json ? `[${chunk.json.join(",")}]` : base64 ? toBase64(chunk.bytes!) : decoder.decode(chunk.bytes!));
            }
            position = chunk.last;
            if (!chunk.empty || !controlSent || closedAtTail) {
              controlSent = true;
              // A data record and its control record in one write: a reader never sees one without the other.
              send(data + control(closedAtTail ? { streamClosed: true } : live(chunk.upToDate)));
              if (closedAtTail) finish();
              return;
            }
            const left = deadline - now();
            if (left <= 0) return finish();
            const woken = await watch.wait(Math.min(context.longPollTimeoutMs, left));
            const latest = await context.resolve();
            if (!latest || latest.incarnation !== source.incarnation) return finish();
            source = latest;
            if (!woken) {
              // A keep-alive: still caught up, with a fresh cursor.
              send(control(source.meta?.closed ? { streamClosed: true } : live(true)));
              if (source.meta?.closed) finish();
              return;
            }
          }
        } catch (error) {
          context.log(error);
          watch.cancel();
          controller.error(new Error("The stream could not be read."));
        }
      },
      cancel() {
        watch.cancel();
      },
    },
    { highWaterMark: 1 },
  );

  headers.set("Content-Type", "text/event-stream");
  headers.set("Cache-Control", "no-cache");
  if (base64) headers.set("Stream-SSE-Data-Encoding", "base64");
  return new Response(body, { status: 200, headers });
};
