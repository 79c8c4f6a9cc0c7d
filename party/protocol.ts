// roomstore's wire protocol: the one place where routes, frame kinds, limits and error codes are
// spelled. Imported by the room (party/) and by the client library (client/), so the two sides
// cannot drift apart. Pure: no runtime imports.

// ---- TinyBase's PartyKit persister protocol (tinybase/persisters/persister-partykit-*) ----

/** Default path of the whole-store resource, as TinyBase's server and client use it. */
export const DEFAULT_STORE_PATH = "/store";
/** Default path of the event log resource (roomstore's own). */
export const DEFAULT_EVENTS_PATH = "/events";
/** The room's stats (counts, readers, times), read by the inspector; not configurable. */
export const STATS_PATH = "/stats";
/** Rooms live at `/parties/main/:room` (partyserver routing, PartyKit's default party). */
export const PARTY_NAME = "main";
/**
 * A room's name from its URL segment, which both runtimes hand over still percent-encoded: the
 * room `my room` is reached at `/parties/main/my%20room`. A malformed escape stays as it is.
 */
export const roomName = (segment: string): string => {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
};
/** TinyBase's frame type for a changeset: `{prefix}s{Changes JSON}`. */
export const SET_CHANGES = "s";
/** roomstore's own frame type, ignored by TinyBase clients: `{prefix}x{Message JSON}`. */
export const ROOM_MESSAGE = "x";
/** TinyBase's marker for a deleted table, row, cell or value inside Changes. */
export const DELETED = "\uFFFC";
/** TinyBase 8+ prefix of an object or array cell encoded as a string. */
export const JSON_CELL_PREFIX = "\uFFFD";

// ---- Event log ----

/** Stream of the store's own history. Clients cannot append to `$`-prefixed streams or types. */
export const STORE_STREAM = "$store";
export const RESERVED_PREFIX = "$";
export const EVENT_INIT = "$init";
export const EVENT_REPLACE = "$replace";
export const EVENT_CHANGES = "$changes";
/** Every type the `$store` stream has, and no other stream. */
export const STORE_TYPES = [EVENT_INIT, EVENT_REPLACE, EVENT_CHANGES];

/**
 * Maps every leaf (cell or value, or a deleted table or row) of tables (`depth` 2) or values (0)
 * into a copy without prototypes, so that an id like "__proto__" stays an id.
 */
export const mapLeaves = (things: Record<string, unknown>, depth: number, leaf: (thing: unknown) => unknown): Record<string, unknown> => {
  const mapped: Record<string, unknown> = Object.create(null);
  for (const id in things) {
    const thing = things[id];
    mapped[id] = depth > 0 && typeof thing === "object" && thing !== null ? mapLeaves(thing as Record<string, unknown>, depth - 1, leaf) : leaf(thing);
  }
  return mapped;
};

/** How a real `null` cell or value is written in `$changes` data: TinyBase's own encoding of a JSON null. */
export const LOGGED_NULL = JSON_CELL_PREFIX + "null";

type TablesAndValues = readonly [tables: Record<string, unknown>, values: Record<string, unknown>, ...unknown[]];
type LoggedChanges = [tables: Record<string, unknown>, values: Record<string, unknown>, 1];

/**
 * Changes as a `$changes` event holds them (SPEC: `null` for deletions). A cell or value really
 * set to `null` is logged as LOGGED_NULL, so that folding the log over an empty store gives back
 * the store exactly.
 */
export const changesForLog = ([tables, values]: TablesAndValues): LoggedChanges => {
  const toLog = (thing: unknown) => (thing === DELETED ? null : thing === null ? LOGGED_NULL : thing);
  return [mapLeaves(tables, 2, toLog), mapLeaves(values, 0, toLog), 1];
};

/** The Changes (DELETED for deletions) a `$changes` event's data stands for: changesForLog's inverse. */
export const changesFromLog = ([tables, values]: TablesAndValues): LoggedChanges => {
  const fromLog = (thing: unknown) => (thing === null ? DELETED : thing === LOGGED_NULL ? null : thing);
  return [mapLeaves(tables, 2, fromLog), mapLeaves(values, 0, fromLog), 1];
};

/** An event as readers receive it. */
export interface RoomEvent {
  seq: number;
  id: string;
  stream: string;
  type: string;
  data: unknown;
  ts: string;
  tz?: string;
  room: string;
}

/** What a producer sends to append one event. */
export interface EventInput {
  type: string;
  data?: unknown;
  stream?: string;
  id?: string;
  tz?: string;
}

/** Names of the SSE records that are not log events; every other record is named by its event's type. */
export const SSE_SNAPSHOT = "snapshot";
export const SSE_CAUGHT_UP = "caught-up";
export const SSE_ERROR = "error";

// ---- Limits (defaults; every one is configurable per room) ----

/** Largest HTTP body accepted (PUT of a whole store, POST of events). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** Largest WebSocket frame accepted. Cloudflare allows 32 MiB; a changeset rarely needs 1. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
/**
 * Largest cell or value, in JSON characters. A cell is one storage value; PartyKit's storage caps
 * a value at 128 KiB of V8 serialization, which holds any string of 60,000 UTF-16 code units.
 */
export const MAX_CELL_CHARS = 60_000;
/** Longest table/row/cell path, in JSON characters: keeps every storage key under 2 KiB. */
export const MAX_PATH_CHARS = 1_024;
/** Largest `data` of one application event, in JSON characters. */
export const MAX_EVENT_DATA_CHARS = 256 * 1024;
/** Most events in one append. */
export const MAX_EVENTS_PER_APPEND = 100;
/** Page size of `GET {eventsPath}` when `limit` is not given, and its maximum. */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1_000;
/** Most cells and values one changeset may change. */
export const MAX_CELLS_PER_CHANGE = 10_000;
/** Most open connections per room; one more is closed with 1013 (try again later). */
export const MAX_CONNECTIONS = 10_000;
/** Frames per second one connection may send on average, and the burst it may send at once. */
export const MAX_MESSAGES_PER_SECOND = 1_000;
export const MESSAGE_BURST = 10_000;
/** Longest stream name, event type or event id, in characters. */
export const MAX_NAME_CHARS = 256;

// ---- Errors ----

/** The closed set of error codes, each with the HTTP status it travels with. */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_json: 400,
  invalid_content: 400,
  invalid_selector: 400,
  reserved_name: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  precondition_failed: 412,
  too_large: 413,
  rate_limited: 429,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Body of every HTTP error and payload of every WebSocket error frame. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** WebSocket close codes for what cannot be recovered on the same socket (RFC 6455). */
export const CLOSE_BAD_DATA = 1007;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_TRY_AGAIN = 1013;

// ---- Frames ----

/** `{prefix}{type}{payload}`, as TinyBase's `construct` builds it. */
export const encodeFrame = (prefix: string, type: string, payload: string): string =>
  prefix + type + payload;

/**
 * Splits a frame into its type character and payload text, or undefined when the frame does not
 * carry the prefix (TinyBase's `deconstruct`, without parsing).
 */
export const decodeFrame = (
  prefix: string,
  frame: string,
): { type: string; payload: string } | undefined =>
  frame.length > prefix.length && frame.startsWith(prefix)
    ? { type: frame[prefix.length], payload: frame.slice(prefix.length + 1) }
    : undefined;

/** True when a frame's UTF-8 size is over `maxBytes`; it is measured only when the length alone cannot decide. */
export const exceedsBytes = (text: string, maxBytes: number): boolean =>
  text.length > maxBytes || (text.length * 3 > maxBytes && new TextEncoder().encode(text).byteLength > maxBytes);

/** The `ETag` value for log position `seq`. */
export const etagOf = (seq: number): string => `"${seq}"`;

/** Reads a seq from `If-Match`/`If-None-Match` (`"12"`, `W/"12"` or `12`); undefined if absent or malformed. */
export const parseEtag = (header: string | null): number | undefined => {
  const match = header?.trim().match(/^(?:W\/)?"?(\d{1,16})"?$/);
  return match ? Number(match[1]) : undefined;
};

// ---- roomstore's own WebSocket messages (`{prefix}x{JSON}`) ----

/** Selectors as a subscription sends them: the query parameters of `GET {eventsPath}`. */
export interface SelectorParams {
  stream?: string;
  types?: string[] | string;
  from?: number;
  after?: number | "past-events";
  to?: number;
  until?: number | "caught-up";
}

/** Client → room. `mid` (message id) makes a write acknowledged and safe to resend. */
export type ClientMessage =
  | { t: "sub"; sid: string; selectors?: SelectorParams; credit: number; timeoutMs?: number }
  | { t: "ack"; sid: string; credit: number }
  | { t: "unsub"; sid: string }
  | { t: "changes"; mid: string; changes: unknown }
  | { t: "append"; mid: string; events: unknown[]; ifMatch?: number };

/** Why a subscription ended. */
export type EndReason = "done" | "unsubscribed" | "error" | "timeout" | "reset";

/** Room → client. Event frames (`ev`) carry the stored event JSON verbatim. */
export type ServerMessage =
  | ({ t: "error"; mid?: string; sid?: string } & ErrorBody)
  | { t: "ev"; sid: string; e: unknown }
  | { t: "caught-up"; sid: string; seq: number }
  | ({ t: "end"; sid: string; reason: EndReason } & Partial<ErrorBody>)
  | { t: "ok"; mid: string; seq?: number | null; seqs?: number[] }
  | ({ t: "nack"; mid: string } & ErrorBody);

export const encodeServerMessage = (prefix: string, message: ServerMessage): string =>
  encodeFrame(prefix, ROOM_MESSAGE, JSON.stringify(message));

/** An event frame built around the stored event text, without parsing it again. */
export const encodeEventMessage = (prefix: string, sid: string, eventJson: string): string =>
  encodeFrame(prefix, ROOM_MESSAGE, `{"t":"ev","sid":${JSON.stringify(sid)},"e":${eventJson}}`);

/** Most subscriptions one connection may hold at once. */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 16;
/** Most credit a subscription may hold unspent. */
export const MAX_CREDIT = 10_000;
/**
 * A subscription that has had no credit for this long while events wait for it ends with reason
 * `timeout` (a `sub` may ask for a shorter or longer one, up to MAX_SUBSCRIPTION_TIMEOUT_MS).
 */
export const SUBSCRIPTION_TIMEOUT_MS = 5 * 60_000;
export const MAX_SUBSCRIPTION_TIMEOUT_MS = 60 * 60_000;
/** Longest subscription or message id. */
export const MAX_MESSAGE_ID_CHARS = 128;

/** A TinyBase changeset frame: `{prefix}s{Changes JSON}`; DELETED strings stand for deletions. */
export const encodeChangesFrame = (prefix: string, changes: unknown): string =>
  encodeFrame(prefix, SET_CHANGES, JSON.stringify(changes));
