// Durable Streams in an export (admin/export-format.ts), read at the boundary. Pure: no storage.
//
// - The `$ds/<name>` events, checked as strictly as the room's own writes make them
//   (store.ts): `$create` with the stream's config, `$append` with one payload,
//   `$close` and `$delete` with null.
// - One metadata line per stream key, in key order, for what no event holds (its producers,
//   `Stream-Seq`, the producer that closed it, a fork's sub-offset, its fork count):
//     {"durableStream":{"name":"<name>","meta":{...}}}
//   The metadata is checked field by field, as the room writes it, and its seqs against the head.
import { EXPORT_STREAM_KEY } from "../../protocol.ts";
import { isPlainObject, parseJson } from "../store/changes.ts";
import { fail } from "../common/errors.ts";
import { MAX_PRODUCERS_PER_STREAM } from "./producers.ts";
import { MAX_KEPT_HEADER_CHARS } from "./requests.ts";
import {
  EVENT_APPEND,
  EVENT_CLOSE,
  EVENT_CREATE,
  EVENT_DELETE,
  LOG_STREAM_PREFIX,
  MAX_STREAM_NAME_CHARS,
  type StreamMeta,
} from "./model.ts";

type Check = (value: unknown) => boolean;

const isCount: Check = (value) => Number.isSafeInteger(value) && (value as number) >= 0;
/** A time in ms, as `Date.now()` gives it. */
const isMs: Check = (value) => typeof value === "number" && Number.isFinite(value);
const isBoolean: Check = (value) => typeof value === "boolean";
const isString = (min: number, max: number): Check => (value) => typeof value === "string" && value.length >= min && value.length <= max;
const isKept = isString(1, MAX_KEPT_HEADER_CHARS);
const isTime: Check = (value) => isKept(value) && !Number.isNaN(Date.parse(value as string));
/** A stream name as the Durable Streams routes take it: any characters, control characters too. */
export const isStreamName = isString(1, MAX_STREAM_NAME_CHARS);
const isLogStream: Check = (value) => typeof value === "string" && value.startsWith(LOG_STREAM_PREFIX) && isStreamName(value.slice(LOG_STREAM_PREFIX.length));
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

type Shape = { required: Record<string, Check>; optional?: Record<string, Check> };

/** The first field of `value` that is missing, unknown or not as `shape` says; undefined when none. */
const badField = (value: Record<string, unknown>, { required, optional = {} }: Shape): string | undefined => {
  for (const key of Object.keys(required)) if (!Object.hasOwn(value, key) || !required[key](value[key])) return key;
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(required, key) && !(Object.hasOwn(optional, key) && optional[key](value[key]))) return key;
  }
  return undefined;
};
const isShaped = (shape: Shape): Check => (value) => isPlainObject(value) && badField(value, shape) === undefined;

const PRODUCER_STATE = isShaped({ required: { epoch: isCount, seq: isCount, at: isMs } });
const isProducers: Check = (value) =>
  isPlainObject(value) &&
  Object.keys(value).length <= MAX_PRODUCERS_PER_STREAM &&
  Object.entries(value).every(([id, state]) => isStreamName(id) && PRODUCER_STATE(state));
const isRange = isShaped({ required: { logStream: isLogStream, after: isCount, upTo: isCount } });

/** What a `$create` event's data holds (store.ts `create`). */
const CREATE_CONFIG = {
  contentType: isKept,
  ttlSeconds: isCount,
  expiresAt: isTime,
  forkedFrom: isStreamName,
  forkOffset: isKept,
};
const CREATE_DATA: Shape = { required: { contentType: isKept }, optional: CREATE_CONFIG };

const META: Shape = {
  required: { contentType: isKept, created: isCount, tail: isCount, accessedAt: isMs, producers: isProducers },
  optional: {
    ...CREATE_CONFIG,
    closed: isBoolean,
    forkSubOffset: isCount,
    inherited: (value) => Array.isArray(value) && value.every(isRange),
    forks: isCount,
    softDeleted: isBoolean,
    closedBy: isShaped({ required: { id: isStreamName, epoch: isCount, seq: isCount } }),
    streamSeq: isString(0, MAX_KEPT_HEADER_CHARS),
  },
};

/** One payload: JSON messages, UTF-8 text or base64 bytes, never empty (payload.ts). */
const isPayload: Check = (value) => {
  if (!isPlainObject(value) || Object.keys(value).length !== 1) return false;
  if ("json" in value) return Array.isArray(value.json) && value.json.length > 0;
  if ("text" in value) return isString(1, Infinity)(value.text);
  return "base64" in value && isString(1, Infinity)(value.base64) && BASE64.test(value.base64 as string);
};

const STREAM_EVENT_DATA: Record<string, Check> = {
  [EVENT_CREATE]: isShaped(CREATE_DATA),
  [EVENT_APPEND]: isPayload,
  [EVENT_CLOSE]: (value) => value === null,
  [EVENT_DELETE]: (value) => value === null,
};

/** A `$ds/<name>` event of seq `seq`: refused unless a stream's own write could have made it. */
export const checkStreamEvent = (seq: number, stream: string, type: string, data: unknown): void => {
  if (!isLogStream(stream)) fail("bad_request", `Event ${seq}: a Durable Stream's log stream is ${LOG_STREAM_PREFIX}<name>, its name 1 to ${MAX_STREAM_NAME_CHARS} characters.`);
  const check = Object.hasOwn(STREAM_EVENT_DATA, type) ? STREAM_EVENT_DATA[type] : undefined;
  if (!check) fail("bad_request", `Event ${seq}: ${LOG_STREAM_PREFIX} streams have only the types ${Object.keys(STREAM_EVENT_DATA).join(", ")}.`);
  if (!check!(data)) fail("bad_request", `Event ${seq}: its ${type} data is not what a Durable Stream writes.`);
};

/** A stream's metadata line of an export whose head is `head`. */
export const parseStreamLine = (line: string, head: number): { name: string; meta: StreamMeta } => {
  const parsed = parseJson(line);
  const entry = isPlainObject(parsed) && Object.keys(parsed).length === 1 ? parsed[EXPORT_STREAM_KEY] : undefined;
  if (!isPlainObject(entry) || Object.keys(entry).length !== 2 || !isStreamName(entry.name) || !isPlainObject(entry.meta)) {
    fail("bad_request", `A stream line is {"${EXPORT_STREAM_KEY}":{"name":"<name>","meta":{...}}}, one per stream, after the header (and base).`);
  }
  const { name, meta } = entry as { name: string; meta: Record<string, unknown> };
  const what = `Stream ${JSON.stringify(name)}:`;
  const bad = badField(meta, META);
  if (bad !== undefined) fail("bad_request", `${what} its metadata's ${JSON.stringify(bad)} is missing, unknown, or not as the room writes it.`);
  const { created, tail, inherited = [] } = meta as unknown as StreamMeta;
  if (created < 1 || created > head || tail > head) fail("bad_request", `${what} its created and tail seqs lie beyond the export's head, ${head}.`);
  if (inherited.some(({ after, upTo }) => after >= upTo || upTo > head)) fail("bad_request", `${what} an inherited range is empty or lies beyond the head.`);
  return { name, meta: meta as unknown as StreamMeta };
};
