// The event log's write side: event records, their validation, and the storage entries one append
// adds (event text, indexes, idempotency key, audit entries). Pure: the room performs the write.
// Invariants: seqs are assigned head+1, head+2, … with no gap; an event's text is written once and
// never rewritten; every index entry points at an event written in the same batch.
import { LOGGED_NULL, MAX_NAME_CHARS, RESERVED_PREFIX, STORE_STREAM, type EventInput, type RoomEvent } from "../../protocol.ts";
import { fail, RoomError } from "../common/errors.ts";
import { unstorableReason } from "../common/validation.ts";
import type { Keys } from "./keys.ts";
import type { StoreWrite } from "../store/model.ts";

export type { EventInput, RoomEvent };

/** An event with its JSON text, serialized once and served as is. */
export interface StoredEvent {
  event: RoomEvent;
  json: string;
}

/** Stream of application events that name none. */
export const DEFAULT_STREAM = "default";

/** Longest event text kept in one storage value (see MAX_CELL_CHARS in protocol.ts for why). */
export const MAX_STORED_CHARS = 60_000;

/** Control characters would break SSE framing (`event:` lines) and logs. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

const checkName = (name: unknown, what: string, allowReserved: boolean): string => {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_CHARS || CONTROL_CHARACTER.test(name)) {
    fail("bad_request", `${what} must be a string of 1 to ${MAX_NAME_CHARS} characters, none of them control characters.`);
  }
  if (!allowReserved && (name as string).startsWith(RESERVED_PREFIX)) {
    fail("reserved_name", `${what} ${JSON.stringify(name)} starts with "${RESERVED_PREFIX}", which the room keeps for itself.`);
  }
  return name as string;
};

const INPUT_FIELDS = new Set(["type", "data", "stream", "id", "tz"]);

/**
 * The events of one append, from HTTP or a socket: at least one, at most `maxEventsPerAppend`, each
 * checked by `parseEventInput`. The one place these limits are enforced.
 */
export const parseAppendInputs = (
  list: readonly unknown[],
  limits: { maxEventsPerAppend: number; maxEventDataChars: number },
): EventInput[] => {
  if (list.length === 0) throw new RoomError("bad_request", "Append at least one event.");
  if (list.length > limits.maxEventsPerAppend) throw new RoomError("too_large", `At most ${limits.maxEventsPerAppend} events per append.`);
  return list.map((item) => parseEventInput(item, limits.maxEventDataChars));
};

/** Validates one producer event (POST body or WebSocket append). */
export const parseEventInput = (thing: unknown, maxDataChars: number): EventInput => {
  if (typeof thing !== "object" || thing === null || Array.isArray(thing)) {
    fail("bad_request", "An event must be a JSON object {type, data?, stream?, id?, tz?}.");
  }
  const input = thing as Record<string, unknown>;
  for (const field in input) {
    if (!INPUT_FIELDS.has(field)) fail("bad_request", `Unknown event field ${JSON.stringify(field)}.`);
  }
  const event: EventInput = { type: checkName(input.type, "The event type", false) };
  if (input.stream !== undefined) event.stream = checkName(input.stream, "The stream", false);
  if (input.id !== undefined) event.id = checkName(input.id, "The event id", true);
  if (input.tz !== undefined) event.tz = checkName(input.tz, "The time zone", true);
  if (input.data !== undefined) {
    const reason = unstorableReason(input.data);
    if (reason) fail("bad_request", `Event data ${reason}.`);
    if (JSON.stringify(input.data).length > maxDataChars) {
      fail("too_large", `Event data is larger than ${maxDataChars} JSON characters.`);
    }
    event.data = input.data;
  }
  return event;
};

export interface AppendContext {
  keys: Keys;
  room: string;
  /** Seq of the first event appended. */
  seq: number;
  ts: string;
  newId: () => string;
  /** Where the entries go: the commit group's batch. */
  put: (key: string, value: unknown) => void;
}

/** Puts the entries of one event and returns it; the caller owns seq order. */
export const putEvent = (context: AppendContext, input: EventInput & { stream: string }): StoredEvent => {
  const { keys, put } = context;
  const seq = context.seq++;
  const event: RoomEvent = {
    seq,
    id: input.id ?? context.newId(),
    stream: input.stream,
    type: input.type,
    data: input.data ?? null,
    ts: context.ts,
    room: context.room,
  };
  if (input.tz !== undefined) event.tz = input.tz;
  const json = JSON.stringify(event);
  if (json.length <= MAX_STORED_CHARS) {
    put(keys.events.at(seq), json);
  } else {
    const count = Math.ceil(json.length / MAX_STORED_CHARS);
    put(keys.events.at(seq), count);
    for (let i = 0; i < count; i++) {
      put(keys.eventChunk(seq, i), json.slice(i * MAX_STORED_CHARS, (i + 1) * MAX_STORED_CHARS));
    }
  }
  // Only a producer's id needs the idempotency key: generated ids are never sent again.
  if (input.id !== undefined) put(keys.eventId(event.stream, event.id), seq);
  put(keys.byType(event.type).at(seq), 1);
  // $store events have only $-types, which no other stream has: the type index serves them alone.
  if (event.stream !== STORE_STREAM) {
    put(keys.byStream(event.stream).at(seq), 1);
    put(keys.byStreamType(event.stream, event.type).at(seq), 1);
  }
  return { event, json };
};

/** Adds the audit entries of a $store event: the value it gave each cell and value it changed. */
export const putAudit = (keys: Keys, seq: number, writes: StoreWrite[], put: (key: string, value: unknown) => void): void => {
  for (const write of writes) {
    const logged = write.value === undefined ? null : write.value === null ? LOGGED_NULL : write.value;
    if (write.kind === "cell") {
      const [tableId, rowId, cellId] = write.path;
      put(keys.rowCell(tableId, rowId, seq, cellId), logged);
    } else {
      put(keys.valueHistory(write.id).at(seq), logged);
    }
  }
};

const JSON_STRING = String.raw`"(?:[^"\\]|\\.)*"`;
/** The start of every event text: putEvent writes seq, id, stream and type before the data. */
const EVENT_TEXT_HEAD = new RegExp(String.raw`^\{"seq":\d+,"id":${JSON_STRING},"stream":${JSON_STRING},"type":(${JSON_STRING})`);

/**
 * An event's type, read from the start of its text (for a large event, its first chunk: the names
 * before the data are at most a few kilobytes), so that the data is never parsed to find it.
 */
export const eventTypeOf = (text: string): string => {
  const match = EVENT_TEXT_HEAD.exec(text);
  return (match ? JSON.parse(match[1]) : (JSON.parse(text) as { type: string }).type) as string;
};

/** The end of every event text: putEvent writes ts and room after the data, then tz when given. */
const EVENT_TEXT_TAIL = new RegExp(String.raw`^,"ts":${JSON_STRING},"room":${JSON_STRING}(?:,"tz":${JSON_STRING})?\}$`);
const DATA_KEY = ',"data":';

/**
 * An event's data as JSON text, sliced from the event's text without parsing it; undefined for a
 * text that putEvent did not write in its order. The data ends at the last `,"ts":` of the text:
 * a `"` inside a JSON string is always escaped, so what follows the data (its ts, room and tz
 * strings) cannot hold that sequence.
 */
export const eventDataText = (text: string): string | undefined => {
  const head = EVENT_TEXT_HEAD.exec(text);
  if (!head || !text.startsWith(DATA_KEY, head[0].length)) return undefined;
  const start = head[0].length + DATA_KEY.length;
  const end = text.lastIndexOf(',"ts":');
  return end > start && EVENT_TEXT_TAIL.test(text.slice(end)) ? text.slice(start, end) : undefined;
};

/** Rebuilds an event's text from a listing or a get: either the text, or a chunk count. */
export const joinChunks = (head: unknown, chunks: Map<string, unknown>, keys: Keys, seq: number): string => {
  if (typeof head === "string") return head;
  let json = "";
  for (let i = 0; i < (head as number); i++) json += chunks.get(keys.eventChunk(seq, i)) as string;
  return json;
};
