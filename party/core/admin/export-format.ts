// The export format, read at the boundary: NDJSON lines out of a byte stream (bounded per line),
// and the checks of each line before anything is stored. Pure: no storage, no room.
//
//   line 1   {"format":"roomstore-export","version":2,"room","head","first","streams"}
//   line 2   {"base":{"seq":first-1,"content":[tables,values]}}     only when first > 1
//   then     `streams` lines {"durableStream":{"name","meta"}}      (durable-streams/format.ts)
//   then     every event of [first, head], one per line, in seq order, with no gap
// Version 1 is the same without `streams` and their lines, and without `$ds/` events: a room with
// no Durable Streams is exported so, and an export from before version 2 still imports.
import {
  changesFromLog,
  EXPORT_FORMAT,
  EXPORT_VERSION,
  EXPORT_VERSION_WITHOUT_STREAMS,
  MAX_NAME_CHARS,
  RESERVED_PREFIX,
  STORE_STREAM,
  STORE_TYPES,
  EVENT_CHANGES,
  type ExportHeader,
  type RoomEvent,
} from "../../protocol.ts";
import { isPlainObject, parseChanges, parseContent, parseJson, type Changes, type Content } from "../store/changes.ts";
import { fail, RoomError } from "../common/errors.ts";
import { checkStreamEvent } from "../durable-streams/format.ts";
import { LOG_STREAM_PREFIX } from "../durable-streams/model.ts";

/**
 * The lines of a UTF-8 byte stream, without their line ends ("\n" or "\r\n"), blank lines skipped.
 * A line longer than `maxLineBytes` is refused at the chunk that takes it past the bound, before
 * that chunk is decoded or buffered.
 */
export async function* readLines(body: ReadableStream<Uint8Array>, maxLineBytes: number): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  const reader = body.getReader();
  /** Bytes of the line under way, up to the end of the last chunk read. */
  let lineBytes = 0;
  const count = (bytes: Uint8Array) => {
    for (let from = 0; ; ) {
      const end = bytes.indexOf(10, from);
      lineBytes += (end < 0 ? bytes.length : end) - from;
      if (lineBytes > maxLineBytes) fail("too_large", `A line of the body is longer than ${maxLineBytes} bytes.`);
      if (end < 0) return;
      lineBytes = 0;
      from = end + 1;
    }
  };
  const decode = (bytes?: Uint8Array) => {
    try {
      return decoder.decode(bytes, { stream: bytes !== undefined });
    } catch {
      throw new RoomError("bad_request", "The body is not valid UTF-8.");
    }
  };
  /** The next chunk, asked for before the lines of this one are taken: it arrives while they are stored. */
  const read = () => {
    const next = reader.read();
    // Awaited below; a rejection left when the reader stops early must not go unhandled.
    next.catch(() => undefined);
    return next;
  };
  let ahead = read();
  /** The line under way, in the pieces the chunks brought: joined once, when its end comes. */
  let partial: string[] = [];
  try {
    for (;;) {
      const { done, value } = await ahead;
      if (!done) {
        ahead = read();
        count(value);
      }
      const text = decode(done ? undefined : value);
      let from = 0;
      for (let end = text.indexOf("\n"); end >= 0; end = text.indexOf("\n", from)) {
        let line = text.slice(from, end);
        from = end + 1;
        if (partial.length > 0) [line, partial] = [partial.join("") + line, []];
        if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
        if (!isBlank(line)) yield line;
      }
      if (from < text.length) partial.push(text.slice(from));
      if (done) break;
    }
    const last = partial.join("");
    if (!isBlank(last)) yield last;
  } finally {
    reader.releaseLock();
  }
}

/** An export's lines start with "{" and TinyBase content with "[": only a line that does not is trimmed to see. */
const isBlank = (line: string) => line.length === 0 || (line.charCodeAt(0) <= 32 && line.trim() === "");

const isSeq = (thing: unknown): thing is number => Number.isSafeInteger(thing) && (thing as number) >= 0;

/** Line 1: what the export is of. */
export const parseExportHeader = (line: string): ExportHeader => {
  const header = parseJson(line);
  if (!isPlainObject(header) || header.format !== EXPORT_FORMAT) {
    fail("bad_request", `The body is neither a roomstore export (line 1 {"format":"${EXPORT_FORMAT}",…}) nor TinyBase content [tables, values].`);
  }
  const { version, room, head, first, streams } = header as Record<string, unknown>;
  if (version !== EXPORT_VERSION && version !== EXPORT_VERSION_WITHOUT_STREAMS) {
    fail("bad_request", `This room reads export versions ${EXPORT_VERSION_WITHOUT_STREAMS} and ${EXPORT_VERSION}, not ${JSON.stringify(version)}.`);
  }
  if (typeof room !== "string" || !isSeq(head) || !isSeq(first) || first < 1 || first > head + 1) {
    fail("bad_request", "The export's first line needs room (a string), head and first (seqs, 1 <= first <= head + 1).");
  }
  if (version === EXPORT_VERSION && !isSeq(streams)) fail("bad_request", `A version ${EXPORT_VERSION} export's first line needs streams (a count).`);
  return { format: EXPORT_FORMAT, version, room, head, first, streams: version === EXPORT_VERSION ? streams : 0 } as ExportHeader;
};

/** Line 2 of a trimmed log's export: the store as of seq first-1; `json` is its content's text. */
export const parseExportBase = (line: string, seq: number): { content: Content; json: string } => {
  const parsed = parseJson(line);
  const base = isPlainObject(parsed) ? parsed.base : undefined;
  if (!isPlainObject(base) || base.seq !== seq) fail("bad_request", `Line 2 must be the base {"base":{"seq":${seq},"content":[tables,values]}}.`);
  const content = parseContent((base as Record<string, unknown>).content);
  // The content's own text keeps the order of its ids (see store/ordered-content.ts); the exporter
  // writes it last in the line. A line laid out otherwise still imports, in JSON.parse's order.
  const at = line.indexOf('"content":');
  const json = at >= 0 && line.endsWith("}}") ? line.slice(at + '"content":'.length, -2) : JSON.stringify(content);
  return { content, json };
};

/** The last ts found to be a time: the events of one commit group share theirs, and parsing one costs. */
let lastTime = "";
const isTime = (ts: string): boolean => {
  if (ts === lastTime) return true;
  if (Number.isNaN(Date.parse(ts))) return false;
  lastTime = ts;
  return true;
};

const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

const checkName = (name: unknown, what: string, seq: number): string => {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_CHARS || CONTROL_CHARACTER.test(name)) {
    fail("bad_request", `Event ${seq}: ${what} must be a string of 1 to ${MAX_NAME_CHARS} characters, none of them control characters.`);
  }
  return name as string;
};

/**
 * One stored event line, as an event; `expectedSeq` is the seq it must have (no gaps). `withStreams`:
 * the export carries its Durable Streams' metadata (version 2), so their `$ds/` events may come.
 */
export const parseExportEvent = (line: string, expectedSeq: number, withStreams = false): RoomEvent => {
  const thing = parseJson(line);
  if (!isPlainObject(thing)) fail("bad_request", `The line for seq ${expectedSeq} is not an event object.`);
  const event = thing as Record<string, unknown>;
  if (event.seq !== expectedSeq) fail("bad_request", `Expected the event of seq ${expectedSeq}, found ${JSON.stringify(event.seq)}: an export lists every seq in order.`);
  const seq = expectedSeq;
  // A Durable Stream's name may hold any character (durable-streams/format.ts checks it).
  const isStreamLog = typeof event.stream === "string" && event.stream.startsWith(LOG_STREAM_PREFIX);
  const stream = isStreamLog ? (event.stream as string) : checkName(event.stream, "stream", seq);
  const type = checkName(event.type, "type", seq);
  const id = checkName(event.id, "id", seq);
  if (event.tz !== undefined) checkName(event.tz, "tz", seq);
  if (typeof event.ts !== "string" || !isTime(event.ts)) fail("bad_request", `Event ${seq}: ts must be an ISO time.`);
  if (stream === STORE_STREAM) {
    if (!STORE_TYPES.includes(type)) fail("bad_request", `Event ${seq}: ${STORE_STREAM} has only the types ${STORE_TYPES.join(", ")}.`);
  } else if (isStreamLog) {
    if (!withStreams) {
      fail("bad_request", `Event ${seq}: a Durable Stream's event in a version ${EXPORT_VERSION_WITHOUT_STREAMS} export, which has no metadata for its streams: export the room again.`);
    }
    checkStreamEvent(seq, stream, type, event.data);
  } else if (stream.startsWith(RESERVED_PREFIX) || type.startsWith(RESERVED_PREFIX)) {
    fail("reserved_name", `Event ${seq}: only ${STORE_STREAM} and ${LOG_STREAM_PREFIX} events have names starting with "${RESERVED_PREFIX}".`);
  }
  return event as unknown as RoomEvent;
};

/**
 * A `$store` event's data, checked as the room checks a client's: `$changes` as Changes (null for
 * a deletion), `$init`/`$replace` as content.
 */
export const storeEventData = (event: RoomEvent): { changes: Changes } | { content: Content } => {
  try {
    if (event.type === EVENT_CHANGES) {
      const data = event.data;
      if (!Array.isArray(data) || data.length < 2 || !isPlainObject(data[0]) || !isPlainObject(data[1])) {
        fail("invalid_content", "$changes data must be [tables, values, 1].");
      }
      return { changes: parseChanges(changesFromLog(data as [Record<string, unknown>, Record<string, unknown>])) };
    }
    return { content: parseContent(event.data) };
  } catch (error) {
    if (error instanceof RoomError) throw new RoomError(error.code, `Event ${event.seq}: ${error.message}`);
    throw error;
  }
};
