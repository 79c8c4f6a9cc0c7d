// Server-Sent Events for `GET {eventsPath}` with `Accept: text/event-stream`: a feed written as
// `id:`/`event:`/`data:` records. Framing is strict (after hono's helper): every data line is split
// on CR/LF, and CR/LF in `event` or `id` is refused. The stream's own queue, counted in bytes, is
// the feed's capacity: a reader that stops reading holds at most `maxSseQueueBytes` (or one event,
// if that is larger) while the feed falls behind; one that stays full for SSE_STALL_MS, or goes
// away, is dropped.
import { SSE_CAUGHT_UP, SSE_ERROR, SSE_SNAPSHOT } from "../protocol.ts";
import { RoomError } from "./errors.ts";
import { FEED_PAGE_EVENTS, openFeed, type Feed } from "./feed.ts";
import type { RoomCore } from "./room.ts";
import { parseSelectors } from "./selectors.ts";

/** A comment line this often keeps proxies and clients from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;
/** A reader whose queue stays full this long is dropped. */
export const SSE_STALL_MS = 60_000;
/** How long a client waits before reconnecting (the `retry:` field). */
export const SSE_RETRY_MS = 1_000;

const LINE_BREAK = /\r\n|\r|\n/;

/** One SSE record. Throws on a CR or LF in `event` or `id`, which would break the framing. */
export const sseRecord = (fields: { id?: string; event?: string; data: string }): string => {
  let record = "";
  if (fields.id !== undefined) {
    if (LINE_BREAK.test(fields.id)) throw new Error("An SSE id cannot hold a line break.");
    record += `id: ${fields.id}\n`;
  }
  if (fields.event !== undefined) {
    if (LINE_BREAK.test(fields.event)) throw new Error("An SSE event name cannot hold a line break.");
    record += `event: ${fields.event}\n`;
  }
  for (const line of fields.data.split(LINE_BREAK)) record += `data: ${line}\n`;
  return record + "\n";
};

export const isEventStreamRequest = (request: Request): boolean =>
  request.method === "GET" && (request.headers.get("Accept") ?? "").includes("text/event-stream");

/** The SSE response: validates selectors first, so a bad one is a JSON 400, not a broken stream. */
export const createSseResponse = (core: RoomCore, request: Request, headers: Headers, now: () => number): Response => {
  const params = new URL(request.url).searchParams;
  const snapshot = params.get("snapshot");
  if (snapshot !== null && snapshot !== "1" && snapshot !== "0" && snapshot !== "true" && snapshot !== "false") {
    throw new RoomError("invalid_selector", "snapshot must be 1 or 0.");
  }
  params.delete("snapshot");
  const lastEventId = request.headers.get("Last-Event-ID");
  if (lastEventId !== null) {
    if (!/^\d{1,16}$/.test(lastEventId)) throw new RoomError("invalid_selector", "Last-Event-ID must be a seq.");
    params.delete("from");
    params.set("after", lastEventId);
  }
  const selectors = parseSelectors(params, core.options.config.limits);
  const withSnapshot = (snapshot === "1" || snapshot === "true") && lastEventId === null;
  const encoder = new TextEncoder();
  let feed: Feed | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let fullSince: number | undefined;
  const queueBytes = core.options.config.limits.maxSseQueueBytes;
  let desiredSize = () => queueBytes;
  const stopGauge = core.memory.track(() => Math.max(0, queueBytes - desiredSize()));

  const stop = () => {
    stopGauge();
    feed?.close();
    clearInterval(heartbeat);
  };

  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const write = (text: string) => controller.enqueue(encoder.encode(text));
        desiredSize = () => controller.desiredSize ?? 0;
        write(`retry: ${SSE_RETRY_MS}\n\n`);
        if (withSnapshot) {
          const seq = core.log.storeSeq;
          const content = core.model.hasStore ? core.model.toJson() : "null";
          write(sseRecord({ event: SSE_SNAPSHOT, data: `{"seq":${seq},"content":${content}}` }));
          if (selectors.lower <= seq) selectors.lower = seq + 1;
        }
        feed = openFeed(core.log, core.options.logger, selectors, {
          capacity: () => (desiredSize() > 0 ? FEED_PAGE_EVENTS : 0),
          byteRoom: desiredSize,
          isEmpty: () => desiredSize() >= queueBytes,
          event: (event, type) => write(sseRecord({ id: String(event.seq), event: type, data: event.json })),
          caughtUp: (head) => write(sseRecord({ event: SSE_CAUGHT_UP, data: `{"seq":${head}}` })),
          end: (reason, error) => {
            if (error) write(sseRecord({ event: SSE_ERROR, data: JSON.stringify({ error: { code: error.code, message: error.message } }) }));
            if (reason === "done" || reason === "error") {
              clearInterval(heartbeat);
              stopGauge();
              controller.close();
            }
          },
        });
        heartbeat = setInterval(() => {
          if ((controller.desiredSize ?? 0) > 0) {
            fullSince = undefined;
            write(": heartbeat\n\n");
          } else if (fullSince === undefined) {
            fullSince = now();
          } else if (now() - fullSince > SSE_STALL_MS) {
            stop();
            controller.error(new Error("The reader stopped reading."));
          }
        }, HEARTBEAT_MS);
      },
      pull() {
        feed?.pump();
      },
      cancel() {
        stop();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: queueBytes }),
  );

  headers.set("Content-Type", "text/event-stream; charset=utf-8");
  headers.set("Cache-Control", "no-cache, no-transform");
  headers.set("X-Accel-Buffering", "no");
  return new Response(body, { status: 200, headers });
};
