// Durable Streams' read side: offsets, sources (a stream created over the protocol, or a view of
// any stream of the room's log), chunks read in bounded memory, and waiting for what comes next.
//
// Offsets are `%016d_%016d`: the room seq of the last event a reader has, then a part kept at zero
// (a position inside an event, which no read needs). Seqs only grow and are never reused, so
// offsets sort as the protocol asks, and no offset of a deleted stream is ever an offset of the
// stream created after it at the same name.
import { SEQ_PATTERN, STORE_STREAM } from "../../protocol.ts";
import { RoomError } from "../common/errors.ts";
import { readRange, type EventText } from "../log/reads.ts";
import { seqKey } from "../storage/keys.ts";
import type { LogReader } from "../room/types.ts";
import { fromBase64, isJsonMode, type Payload } from "./payload.ts";
import { EVENT_APPEND, logStreamOf, type StreamMeta } from "./model.ts";

/** Most bytes one response (or one SSE data event) carries: a reader's memory bound. */
export const MAX_CHUNK_BYTES = 1024 * 1024;
/** Events read from storage per page while a chunk fills. */
const CHUNK_PAGE_EVENTS = 64;
const ZERO_PART = "0".repeat(16);
/** An offset this server hands out: the seq, `_`, then a part that is zeros today. */
const OFFSET = new RegExp(`^(${SEQ_PATTERN})_(${SEQ_PATTERN})$`);

/** The seq of an offset this server hands out; NaN for anything else. */
export const seqOfOffset = (offset: string): number => Number(OFFSET.exec(offset)?.[1] ?? NaN);

export const formatOffset = (seq: number): string => seqKey(seq) + "_" + ZERO_PART;

/** A request's offset: the start (`-1` or none), the tail (`now`), or after a seq. */
export type Offset = { kind: "start" } | { kind: "now" } | { kind: "after"; seq: number };

export const parseOffset = (params: URLSearchParams): Offset => {
  const all = params.getAll("offset");
  if (all.length === 0) return { kind: "start" };
  if (all.length > 1) throw new RoomError("bad_request", "Give one offset.");
  const raw = all[0]!;
  if (raw === "-1") return { kind: "start" };
  if (raw === "now") return { kind: "now" };
  const seq = seqOfOffset(raw);
  if (!Number.isSafeInteger(seq)) throw new RoomError("bad_request", "An offset is -1, now, or one this server handed out.");
  return { kind: "after", seq };
};

/** A range of one log stream's events, (after, upTo] in seqs. */
export interface Segment {
  selection: { stream: string; types?: string[] };
  after: number;
  upTo: number;
}

/** What a read reads: a protocol stream (a fork: its source's segments, then its own), or a read-only JSON view of a log stream. */
export interface Source {
  /** The log stream whose events wake a waiting reader. */
  logStream: string;
  contentType: string;
  /** Seq of the stream's `$create` (0 for a view): a deleted and recreated stream differs. */
  incarnation: number;
  /** Seq before its first message. */
  start: number;
  /** Seq of its last message, or a seq after it. */
  tail: number;
  meta?: StreamMeta;
  segments: Segment[];
  /** The messages of one event: JSON texts (JSON mode) or bytes. */
  decode(event: EventText): string[] | Uint8Array;
}

const encoder = new TextEncoder();

const payloadOf = (event: EventText): Payload => (JSON.parse(event.json) as { data: Payload }).data;

/** A stream's segments: what it inherited (a fork), then its own appends after its `$create`. */
export const segmentsOf = (name: string, meta: StreamMeta): Segment[] => [
  ...(meta.inherited ?? []).map(({ logStream, after, upTo }) => ({ selection: { stream: logStream, types: [EVENT_APPEND] }, after, upTo })),
  { selection: { stream: logStreamOf(name), types: [EVENT_APPEND] }, after: meta.created, upTo: meta.tail },
];

/** The messages of one `$append` event of a stream of that content type. */
export const decoderOf = (contentType: string): Source["decode"] =>
  isJsonMode(contentType)
    ? (event) => ((payloadOf(event) as { json: unknown[] }).json ?? []).map((value) => JSON.stringify(value))
    : (event) => {
        const payload = payloadOf(event);
        return "text" in payload ? encoder.encode(payload.text) : "base64" in payload ? fromBase64(payload.base64) : new Uint8Array();
      };

export const streamSource = (name: string, meta: StreamMeta): Source => {
  const segments = segmentsOf(name, meta);
  return {
    logStream: logStreamOf(name),
    contentType: meta.contentType,
    incarnation: meta.created,
    start: Math.min(...segments.map((segment) => segment.after)),
    tail: meta.tail,
    meta,
    segments,
    decode: decoderOf(meta.contentType),
  };
};

/** A stream of the log (an application stream, `$store`), read as JSON messages: its events. */
export const viewSource = (log: LogReader, stream: string): Source => {
  // A view has no tail of its own: the room's head lies after its last event.
  const tail = stream === STORE_STREAM ? log.storeSeq : log.head;
  return {
    logStream: stream,
    contentType: "application/json",
    incarnation: 0,
    start: 0,
    tail,
    segments: [{ selection: { stream }, after: 0, upTo: tail }],
    decode: (event) => [event.json],
  };
};

/** Whether a log stream has any event left (views exist while they do). */
export const hasEvents = async (log: LogReader, stream: string): Promise<boolean> => {
  if (stream === STORE_STREAM) return log.storeSeq > 0;
  const index = log.keys.byStream(stream);
  return (await log.storage.list({ ...index.range(1, Number.MAX_SAFE_INTEGER - 1), limit: 1 })).size > 0;
};

export interface Chunk {
  json?: string[];
  bytes?: Uint8Array;
  /** Seq of the last event read (the next offset), or `from` when none. */
  last: number;
  /** Nothing is left up to the tail the read started with. */
  upToDate: boolean;
  empty: boolean;
}

/** The position after `offset` a read starts from; 410 when retention trimmed what lies after it. */
export const startOf = (log: LogReader, source: Source, offset: Offset): number => {
  const from = offset.kind === "now" ? source.tail : offset.kind === "start" ? source.start : Math.max(offset.seq, source.start);
  if (from < source.tail && from + 1 < log.first) {
    throw new RoomError("gone", "Retention has trimmed the log past this offset: read from a later one.");
  }
  return from;
};

/** Reads the messages after `from` up to the source's tail, at most about MAX_CHUNK_BYTES of them. */
export const readChunk = async (log: LogReader, source: Source, from: number, maxBytes = MAX_CHUNK_BYTES): Promise<Chunk> => {
  const json: string[] = [];
  const parts: Uint8Array[] = [];
  let size = 0;
  let last = from;
  let upToDate = from >= source.tail;
  for (const segment of source.segments) {
    let lower = Math.max(last, segment.after) + 1;
    while (!upToDate && size < maxBytes && lower <= segment.upTo) {
      const read = await readRange(log.storage, log.keys, { selection: segment.selection, lower, upper: segment.upTo, limit: CHUNK_PAGE_EVENTS });
      let readAll = true;
      for (const [i, event] of read.events.entries()) {
        const messages = source.decode(event);
        if (messages instanceof Uint8Array) {
          parts.push(messages);
          size += messages.length;
        } else {
          json.push(...messages);
          for (const message of messages) size += message.length + 1;
        }
        last = event.seq;
        if (size >= maxBytes) {
          readAll = i === read.events.length - 1;
          break;
        }
      }
      // An empty page that is not the end can only be events retention removed meanwhile: go on after it.
      if ((read.reachedEnd && readAll) || read.events.length === 0) lower = segment.upTo + 1;
      else lower = last + 1;
    }
    if (size >= maxBytes) break;
  }
  if (size < maxBytes || last >= source.tail) upToDate = true;
  if (upToDate) last = Math.max(last, source.tail);
  if (isJsonMode(source.contentType)) return { json, last, upToDate, empty: json.length === 0 };
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return { bytes, last, upToDate, empty: size === 0 };
};

/**
 * Wakes when an event of `logStream` commits, or after `timeoutMs`. Start it before reading, so
 * that a commit between the read and the wait is not missed.
 */
export interface LogWatch {
  wait(timeoutMs: number): Promise<boolean>;
  cancel(): void;
}

export const watchLog = (log: LogReader, logStream: string): LogWatch => {
  let wake: ((woken: boolean) => void) | undefined;
  let woken = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = log.onEvents((events) => {
    if (!events.some(({ event }) => event.stream === logStream)) return;
    woken = true;
    wake?.(true);
  });
  const cancel = () => {
    stop();
    clearTimeout(timer);
    wake?.(false);
  };
  return {
    /** True when the stream changed since the watch began or its last wait; false on timeout or cancel. */
    wait(timeoutMs: number): Promise<boolean> {
      if (woken) {
        woken = false;
        return Promise.resolve(true);
      }
      return new Promise<boolean>((resolve) => {
        wake = (value) => {
          wake = undefined;
          clearTimeout(timer);
          woken = false;
          resolve(value);
        };
        timer = setTimeout(() => wake?.(false), timeoutMs);
      });
    },
    cancel,
  };
};

/** The protocol's cursor intervals (PROTOCOL.md 8.1): 20 s since 2024-10-09. */
const CURSOR_INTERVAL_MS = 20_000;
const CURSOR_EPOCH_MS = Date.UTC(2024, 9, 9);
/** A client's cursor at or past the current interval moves on by 1 s to 1 h of jitter. */
const MAX_CURSOR_JITTER_SECONDS = 3_600;

/** A cursor strictly after the client's, so that a CDN never serves the same empty answer in a loop. */
export const responseCursor = (clientCursor: string | null, now: number): string => {
  const current = Math.floor((now - CURSOR_EPOCH_MS) / CURSOR_INTERVAL_MS);
  const client = clientCursor === null ? NaN : Number.parseInt(clientCursor, 10);
  if (!(client >= current)) return String(current);
  const jitterSeconds = 1 + Math.floor(Math.random() * MAX_CURSOR_JITTER_SECONDS);
  return String(client + Math.max(1, Math.ceil((jitterSeconds * 1000) / CURSOR_INTERVAL_MS)));
};
