// Server-Sent Events for `GET {eventsPath}` with `Accept: text/event-stream`: a feed written as
// `id:`/`event:`/`data:` records. Framing is strict (after hono's helper): every data line is split
// on CR/LF, and CR/LF in `event` or `id` is refused. The stream's own queue, counted in bytes, is
// the feed's capacity: a reader that stops reading holds at most `maxSseQueueBytes` plus one
// storage value while the feed falls behind; one that stays full for SSE_STALL_MS, or goes away,
// is dropped.
//
// Large records are written in pieces as the reader takes them (ReadableStream pull: a piece is
// enqueued only while the queue has room): a large event one stored chunk at a time (feed.ts),
// the `snapshot` record in slices of the store's text. Whatever one event weighs, the queue holds
// at most its budget plus one piece. Between the pieces of a record nothing else is written (no
// heartbeat); an error in the middle of one breaks the stream instead of ending a half record.
import { isSeqText, SSE_CAUGHT_UP, SSE_ERROR, SSE_SNAPSHOT, type EndReason } from "../../protocol.ts";
import { RoomError } from "../common/errors.ts";
import { MAX_STORED_CHARS } from "../storage/event-log.ts";
import { FEED_PAGE_EVENTS, openFeed, type Feed } from "./feed.ts";
import type { LogReader, RoomContext } from "../room/types.ts";
import type { StoreModel } from "../store/model.ts";
import type { MemoryGauge } from "../room/memory.ts";
import { parseSelectors, type SelectorLimits, type Selectors } from "../log/selectors.ts";

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

/** The fields of a record before its data, and its one data line's start: a record written in pieces. */
const recordHead = (fields: { id?: string; event: string }): string => sseRecord({ ...fields, data: "" }).slice(0, -"\n\n".length);

/** `text` in slices of at most one storage value, for a record written in pieces. */
function* slicesOf(parts: readonly string[]): Generator<string> {
  for (const part of parts) {
    for (let at = 0; at < part.length; at += MAX_STORED_CHARS) yield part.slice(at, at + MAX_STORED_CHARS);
  }
}

export const isEventStreamRequest = (request: Request): boolean =>
  request.method === "GET" && (request.headers.get("Accept") ?? "").includes("text/event-stream");

/** What an SSE stream uses of the room: its limits and logger, the log, the store's text, the memory gauge. */
export interface SsePort {
  readonly options: Pick<RoomContext, "config" | "logger">;
  readonly log: LogReader;
  readonly model: Pick<StoreModel, "hasStore" | "toJsonParts">;
  readonly memory: Pick<MemoryGauge, "track">;
}

/** What the request asks for: its selectors (Last-Event-ID resumes after that seq), and whether a snapshot comes first. */
const readRequest = (request: Request, limits: SelectorLimits): { selectors: Selectors; withSnapshot: boolean } => {
  const params = new URL(request.url).searchParams;
  const snapshot = params.get("snapshot");
  if (snapshot !== null && snapshot !== "1" && snapshot !== "0" && snapshot !== "true" && snapshot !== "false") {
    throw new RoomError("invalid_selector", "snapshot must be 1 or 0.");
  }
  params.delete("snapshot");
  const lastEventId = request.headers.get("Last-Event-ID");
  if (lastEventId !== null) {
    if (!isSeqText(lastEventId)) throw new RoomError("invalid_selector", "Last-Event-ID must be a seq.");
    params.delete("from");
    params.set("after", lastEventId);
  }
  const selectors = parseSelectors(params, limits);
  return { selectors, withSnapshot: (snapshot === "1" || snapshot === "true") && lastEventId === null };
};

/** One SSE stream's state: what it reads, its queue, its feed and heartbeat once started. */
interface SseStream {
  readonly port: SsePort;
  readonly selectors: Selectors;
  readonly now: () => number;
  /** The queue's budget, in bytes (maxSseQueueBytes). */
  readonly queueBytes: number;
  /** Set when the stream starts. */
  controller?: ReadableStreamDefaultController<Uint8Array>;
  feed?: Feed;
  heartbeat?: ReturnType<typeof setInterval>;
  /** When the queue was first seen full, for SSE_STALL_MS; none while it has room. */
  fullSince?: number;
  stopGauge: () => void;
  ended: boolean;
  /** A record is being written in pieces: nothing else may be written until it is whole. */
  midRecord: boolean;
  /** Woken when the reader takes from the queue (pull) or goes away. */
  wake?: () => void;
}

const noop = () => {};
const encoder = new TextEncoder();

/** Room left in the queue, in bytes: all of it until the stream starts. */
const desiredSize = (stream: SseStream): number => (stream.controller ? (stream.controller.desiredSize ?? 0) : stream.queueBytes);

const write = (stream: SseStream, text: string): void => stream.controller!.enqueue(encoder.encode(text));

const roomInQueue = (stream: SseStream): Promise<void> =>
  desiredSize(stream) > 0 || stream.ended ? Promise.resolve() : new Promise<void>((resolve) => (stream.wake = resolve));

const wakeWriter = (stream: SseStream): void => {
  const resolve = stream.wake;
  stream.wake = undefined;
  resolve?.();
};

const stop = (stream: SseStream): void => {
  stream.ended = true;
  wakeWriter(stream);
  stream.stopGauge();
  stream.feed?.close();
  clearInterval(stream.heartbeat);
};

/** The reader took from the queue: what waited for room goes on. */
const pull = (stream: SseStream): void => {
  wakeWriter(stream);
  stream.feed?.pump();
};

const start = (stream: SseStream, controller: ReadableStreamDefaultController<Uint8Array>, withSnapshot: boolean): void => {
  stream.controller = controller;
  write(stream, `retry: ${SSE_RETRY_MS}\n\n`);
  if (withSnapshot) writeSnapshot(stream);
  else openLog(stream);
  stream.heartbeat = setInterval(() => beat(stream), HEARTBEAT_MS);
};

/** A comment while the reader has room (none in the middle of a record); dropped once it stayed full SSE_STALL_MS. */
const beat = (stream: SseStream): void => {
  if ((stream.controller!.desiredSize ?? 0) > 0) {
    stream.fullSince = undefined;
    if (!stream.midRecord) write(stream, ": heartbeat\n\n");
  } else if (stream.fullSince === undefined) {
    stream.fullSince = stream.now();
  } else if (stream.now() - stream.fullSince > SSE_STALL_MS) {
    stop(stream);
    stream.controller!.error(new Error("The reader stopped reading."));
  }
};

/** One data line from `pieces`, each enqueued once the queue has room; none may hold a line break. */
const writePieces = async (stream: SseStream, head: string, pieces: AsyncIterable<string> | Iterable<string>, tail = ""): Promise<void> => {
  stream.midRecord = true;
  let text = head;
  for await (const piece of pieces) {
    await roomInQueue(stream);
    if (stream.ended) return;
    // Event texts are JSON.stringify's output, which escapes every control character.
    if (LINE_BREAK.test(piece)) throw new Error("A record written in pieces holds a line break.");
    write(stream, text + piece);
    text = "";
  }
  write(stream, text + tail + "\n\n");
  stream.midRecord = false;
};

/** The feed, written as records, the queue's room its capacity. */
const openLog = (stream: SseStream): void => {
  const { port, queueBytes } = stream;
  stream.feed = openFeed(port.log, port.options.logger, stream.selectors, {
    capacity: () => (desiredSize(stream) > 0 ? FEED_PAGE_EVENTS : 0),
    byteRoom: () => desiredSize(stream),
    isEmpty: () => desiredSize(stream) >= queueBytes,
    event: (event, type) => write(stream, sseRecord({ id: String(event.seq), event: type, data: event.json })),
    pieces: (seq, type, pieces) => writePieces(stream, recordHead({ id: String(seq), event: type }), pieces),
    caughtUp: (head) => write(stream, sseRecord({ event: SSE_CAUGHT_UP, data: `{"seq":${head}}` })),
    end: (reason, error) => endFeed(stream, reason, error),
  });
};

/** The feed ended: its error as a record, and the stream closed when the feed is done or failed. */
const endFeed = (stream: SseStream, reason: EndReason, error?: RoomError): void => {
  const controller = stream.controller!;
  if (stream.midRecord) {
    // Half a record cannot be ended well: the stream breaks, and the client resumes after its last id.
    stop(stream);
    return controller.error(new Error("The room could not read its log."));
  }
  if (error) write(stream, sseRecord({ event: SSE_ERROR, data: JSON.stringify({ error: { code: error.code, message: error.message } }) }));
  if (reason === "done" || reason === "error") {
    stream.ended = true;
    clearInterval(stream.heartbeat);
    stream.stopGauge();
    controller.close();
  }
};

/** The `snapshot` record, the store's text as of now, then the log from where the snapshot stood. */
const writeSnapshot = (stream: SseStream): void => {
  const { port, selectors } = stream;
  const seq = port.log.storeSeq;
  // The store's text as of now, shared with the room's own cache while the store is unchanged.
  const content = port.model.hasStore ? port.model.toJsonParts() : ["null"];
  // The log is read once the snapshot is written, from where the snapshot (or the head, for
  // `after=past-events`) stood when the request came: what was appended meanwhile follows it.
  if (selectors.pastEvents) selectors.lower = port.log.head + 1;
  selectors.pastEvents = false;
  if (selectors.lower <= seq) selectors.lower = seq + 1;
  writePieces(stream, recordHead({ event: SSE_SNAPSHOT }) + `{"seq":${seq},"content":`, slicesOf(content), "}").then(
    () => {
      if (stream.ended) return;
      openLog(stream);
      stream.feed!.pump();
    },
    (error) => {
      port.options.logger.error("roomstore: SSE snapshot failed", error);
      stop(stream);
      stream.controller!.error(new Error("The room could not write its snapshot."));
    },
  );
};

/** The SSE response: validates selectors first, so a bad one is a JSON 400, not a broken stream. */
export const createSseResponse = (port: SsePort, request: Request, headers: Headers, now: () => number): Response => {
  const { selectors, withSnapshot } = readRequest(request, port.options.config.limits);
  const queueBytes = port.options.config.limits.maxSseQueueBytes;
  const stream: SseStream = { port, selectors, now, queueBytes, stopGauge: noop, ended: false, midRecord: false };
  stream.stopGauge = port.memory.track(() => Math.max(0, queueBytes - desiredSize(stream)));
  const body = new ReadableStream<Uint8Array>(
    {
      start: (controller) => start(stream, controller, withSnapshot),
      pull: () => pull(stream),
      cancel: () => stop(stream),
    },
    new ByteLengthQueuingStrategy({ highWaterMark: queueBytes }),
  );
  headers.set("Content-Type", "text/event-stream; charset=utf-8");
  headers.set("Cache-Control", "no-cache, no-transform");
  headers.set("X-Accel-Buffering", "no");
  return new Response(body, { status: 200, headers });
};
