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
/**
 * Response header of a room's HTTP answers: the role (`read` or `write`) the gate gave the request,
 * so that a client (the inspector) shows writing controls only to a token that may write, before
 * any write is refused. With auth off every request is `write`.
 */
export const ROLE_RESPONSE_HEADER = "Roomstore-Role";
/** Rooms live at `/parties/main/:room` (partyserver routing, PartyKit's default party). */
export const PARTY_NAME = "main";
/** Longest room name, in characters of its decoded (canonical) form. */
export const MAX_ROOM_NAME_CHARS = 256;
/** C0 and C1 control characters and DEL: never part of a room name. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
/**
 * Names no URL can carry as a path segment: WHATWG URL parsers (browsers, Node's fetch and ws,
 * workerd) resolve `.` and `..` away, also when spelled `%2E`, so the room could never be reached.
 */
const DOT_SEGMENTS = new Set([".", ".."]);
/** What a room name may be, as errors on both sides say it. */
export const ROOM_NAME_RULE = `A room name is 1 to ${MAX_ROOM_NAME_CHARS} characters, percent-encoded as UTF-8 in its URL, with no control characters, and not "." or "..".`;

/** True when `name` (decoded, in NFC) may name a room. Any other character may: `/`, `%`, `?`, `#`, spaces… */
const isRoomName = (name: string): boolean =>
  name !== "" && name.length <= MAX_ROOM_NAME_CHARS && !CONTROL_CHARACTER.test(name) && !DOT_SEGMENTS.has(name);

/**
 * A room's one name, from its URL segment as both runtimes hand it over (still percent-encoded):
 * the segment decoded as UTF-8, then in Unicode NFC, so that `caf%C3%A9`, `caf%c3%a9` and
 * `cafe%CC%81` are all the room "café". Undefined when the segment is not an acceptable name: a
 * malformed escape or invalid UTF-8, or a name that breaks ROOM_NAME_RULE.
 */
export const canonicalRoomName = (segment: string): string | undefined => {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    return undefined;
  }
  const name = decoded.normalize("NFC");
  return isRoomName(name) ? name : undefined;
};

/**
 * The one URL segment of a room name: what routing hashes into the room's object id on both
 * runtimes, and what every client puts in its URLs (HTTP and WebSocket alike), so that a name with
 * `/`, `?` or `#` stays one segment and reaches its own room. Throws a RangeError (ROOM_NAME_RULE)
 * for a name no room can have, so that a client fails at once instead of knocking forever.
 */
export const roomSegment = (name: string): string => {
  const canonical = name.normalize("NFC");
  if (!isRoomName(canonical)) throw new RangeError(ROOM_NAME_RULE);
  return encodeURIComponent(canonical);
};

/**
 * A room's name from its URL segment, for a segment the edge already made canonical (so it
 * always decodes); anything else stays as it is.
 */
export const roomName = (segment: string): string => canonicalRoomName(segment) ?? segment;

/**
 * A room's URL path: `/parties/:party/:room` and what follows it, or `/party/:room` (PartyKit's
 * short form for its default party, `party` then undefined). `segment` is the room's segment as it
 * came, still percent-encoded, and empty in `/parties/main/` (no room's name); `rest` is what follows
 * it, `""` or a path from `/`, so that `prefix + segment + rest` is the path again.
 */
export interface RoomPath {
  prefix: string;
  party: string | undefined;
  segment: string;
  rest: string;
}
const ROOM_PATH = /^(\/(?:parties\/([^/]+)|party)\/)([^/]*)(\/.*)?$/;

/** The one reader of a room's path (RoomPath), or undefined for a path that is no room's. */
export const parseRoomPath = (pathname: string): RoomPath | undefined => {
  const match = pathname.match(ROOM_PATH);
  return match ? { prefix: match[1], party: match[2], segment: match[3], rest: match[4] ?? "" } : undefined;
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

// ---- Export, import and delete of a whole room ----

/** `GET {room}/export` streams the room; `POST {room}/import` loads one into an empty room. */
export const EXPORT_PATH = "/export";
export const IMPORT_PATH = "/import";
export const NDJSON_TYPE = "application/x-ndjson";
/** Line 1 of an export: `{"format","version","room","head","first"}`, and `"streams"` in version 2. */
export const EXPORT_FORMAT = "roomstore-export";
/** An export with its Durable Streams' metadata: `streams` lines follow the header (and base). */
export const EXPORT_VERSION = 2;
/**
 * An export without Durable Streams, as roomstore wrote every export before them, and still writes
 * one of a room that has none: an importer that reads only version 1 reads it.
 */
export const EXPORT_VERSION_WITHOUT_STREAMS = 1;
/** The key of a stream's metadata line: `{"durableStream":{"name","meta"}}`. */
export const EXPORT_STREAM_KEY = "durableStream";

export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION | typeof EXPORT_VERSION_WITHOUT_STREAMS;
  room: string;
  /** Seq of the newest event. */
  head: number;
  /** Seq of the oldest event kept (1 unless retention trimmed the log). */
  first: number;
  /** Version 2: how many stream metadata lines follow the header (and base). */
  streams?: number;
}

/** Line 2 of an export whose log was trimmed: the store as of seq first-1. */
export interface ExportBase {
  base: { seq: number; content: [Record<string, unknown>, Record<string, unknown>] };
}

// ---- Time travel and restore ----

/** `GET {storePath}?at=<seq>`: the store as it was right after log position `seq` (0 to head). */
export const AT_PARAM = "at";
/** `POST {room}/restore` with `{"at": <seq>}`: the store becomes its content at `seq`, as one `$replace`. */
export const RESTORE_PATH = "/restore";
/**
 * The room keeps a checkpoint of the store (log/checkpoints.ts) at least every this many seqs, so
 * that a read at any position replays fewer `$store` events than this, however long the log.
 */
export const CHECKPOINT_EVENTS = 1_000;
/** What `POST {room}/restore` answers: the `$replace` event's seq, and the position restored. */
export interface RestoreResult {
  seq: number;
  restoredFrom: number;
}

/** What a successful import answers (201). */
export interface ImportResult {
  head: number;
  first: number;
  /** Events imported. */
  events: number;
}

// ---- Stats ----

/** `GET {room}/stats` (core/room/stats.ts says where each figure comes from). */
export interface RoomStats {
  room: string;
  head: number;
  first: number;
  events: number;
  tables: number;
  rows: number;
  cells: number;
  values: number;
  connections: number;
  subscriptions: number;
  sseReaders: number;
  /** ISO time of the room's first write; null for a room that has none (or wrote before stats existed). */
  created: string | null;
  lastWrite: string | null;
  webhook?: WebhookStatus;
}

/** The delivery webhook's progress, in the stats of a room that has one. */
export interface WebhookStatus {
  /** Last seq settled (delivered or filtered out). */
  cursor: number;
  /** Events after the cursor, before filters. */
  pending: number;
  /** The failure of the last attempt while the receiver keeps failing; null once a delivery succeeds. */
  lastError: DeliveryError | null;
}

export interface DeliveryError {
  message: string;
  /** When the last attempt failed, and when the failures began (ISO times). */
  at: string;
  since: string;
  attempts: number;
}

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
/**
 * Deepest nesting of arrays and objects in a cell, a value or an event's data. Storage serializes a
 * value recursively and refuses (or overflows its stack on) deep values that JSON.parse accepted:
 * the room refuses them at the boundary instead, with the same rule on every runtime.
 */
export const MAX_JSON_DEPTH = 64;
/** Longest table/row/cell path, in JSON characters: keeps every storage key under 2 KiB. */
export const MAX_PATH_CHARS = 1_024;
/** Largest `data` of one application event, in JSON characters. */
export const MAX_EVENT_DATA_CHARS = 256 * 1024;
/** Most events in one append. */
export const MAX_EVENTS_PER_APPEND = 100;
/** Page size of `GET {eventsPath}` when `limit` is not given, and its maximum. */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1_000;
/**
 * Byte budgets: what the room holds for one reader, whatever a writer puts in. Sizes are the length
 * of the JSON text (one per character: the UTF-8 size of ASCII text). A reader is always given at
 * least one event, so one event larger than a budget still goes through, alone.
 * - a page of `GET {eventsPath}` stops at MAX_PAGE_BYTES of events, and `next` continues it;
 * - an SSE stream queues at most MAX_SSE_QUEUE_BYTES for a reader that is not reading: the feed
 *   falls behind and reads from storage once the reader takes more;
 * - a WebSocket subscription has at most MAX_SUBSCRIPTION_BYTES of events sent and not yet
 *   acknowledged, whatever credit it holds: past that it falls behind in the same way.
 */
export const MAX_PAGE_BYTES = 4 * 1024 * 1024;
export const MAX_SSE_QUEUE_BYTES = 1024 * 1024;
export const MAX_SUBSCRIPTION_BYTES = 1024 * 1024;
/** Most SSE readers of `GET {eventsPath}` open on one room; one more is `429 rate_limited`. */
export const MAX_SSE_READERS = 1_000;
/** Most cells and values one changeset may change. */
export const MAX_CELLS_PER_CHANGE = 10_000;
/** Most open connections per room; one more is closed with 1013 (try again later). */
export const MAX_CONNECTIONS = 10_000;
/** Frames per second one connection may send on average, and the burst it may send at once. */
export const MAX_MESSAGES_PER_SECOND = 1_000;
export const MESSAGE_BURST = 10_000;
/** How long a Durable Streams long-poll read waits for data before answering 204. */
export const DEFAULT_LONG_POLL_TIMEOUT_MS = 20_000;
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
  gone: 410,
  precondition_failed: 412,
  too_large: 413,
  rate_limited: 429,
  internal: 500,
  /** A service the room depends on (the validation webhook) failed or did not answer in time. */
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Body of every HTTP error and payload of every WebSocket error frame. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

// WebSocket close codes (RFC 6455, 7.4.1): every one the room sends, and the one it reads.
/** A normal close: PartyKit's answer to a client's Close frame (partykit.ts). */
export const CLOSE_NORMAL = 1000;
/** A socket whose room was deleted ("going away"). */
export const CLOSE_ROOM_DELETED = 1001;
/** What a runtime reports for a Close frame that had no code; never sent. */
export const CLOSE_NO_STATUS = 1005;
/** What cannot be recovered on the same socket: a frame that is not valid, or too big. */
export const CLOSE_BAD_DATA = 1007;
/** A socket no gate admitted (no role) or from an origin the room does not allow. */
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
/** A room that could not start. */
export const CLOSE_INTERNAL = 1011;
export const CLOSE_TRY_AGAIN = 1013;
/**
 * A socket whose signed token's `exp` passed (4000-4999 are the application's, RFC 6455 7.4.2),
 * closed with TOKEN_EXPIRED_REASON. An SSE stream ends with an `error` record of the same reason.
 */
export const CLOSE_TOKEN_EXPIRED = 4001;
export const TOKEN_EXPIRED_REASON = "token expired";
/** Longest token an `auth` frame may carry. */
export const MAX_TOKEN_CHARS = 4_096;

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

/** Most decimal digits of a seq as text: 16 write every safe integer (2^53 - 1 has 16). */
export const MAX_SEQ_DIGITS = 16;
/** A seq as text, for a RegExp: 1 to MAX_SEQ_DIGITS digits (a reader that needs a safe integer checks it too). */
export const SEQ_PATTERN = `\\d{1,${MAX_SEQ_DIGITS}}`;
const SEQ_TEXT = new RegExp(`^${SEQ_PATTERN}$`);
/** True when `text` is a seq: digits alone, no more than MAX_SEQ_DIGITS of them. */
export const isSeqText = (text: string): boolean => SEQ_TEXT.test(text);
const ETAG = new RegExp(`^(?:W/)?"?(${SEQ_PATTERN})"?$`);

/** The `ETag` value for log position `seq`. */
export const etagOf = (seq: number): string => `"${seq}"`;

/** Reads a seq from `If-Match`/`If-None-Match` (`"12"`, `W/"12"` or `12`); undefined if absent or malformed. */
export const parseEtag = (header: string | null): number | undefined => {
  const match = header?.trim().match(ETAG);
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
  | { t: "append"; mid: string; events: unknown[]; ifMatch?: number }
  /** A new token for this socket (main socket only): `ok` when it opens this room, else `nack` and the old one stays. */
  | { t: "auth"; mid: string; token: string }
  /** Sets this socket's presence state (`null` clears it); see Presence below. */
  | { t: "presence"; state: PresenceState | null };

/** Why a subscription ended. */
export type EndReason = "done" | "unsubscribed" | "error" | "timeout" | "reset";

/** Room → client. Event frames (`ev`) carry the stored event JSON verbatim. */
export type ServerMessage =
  | ({ t: "error"; mid?: string; sid?: string } & ErrorBody)
  | { t: "ev"; sid: string; e: unknown }
  | { t: "caught-up"; sid: string; seq: number }
  | ({ t: "end"; sid: string; reason: EndReason } & Partial<ErrorBody>)
  | { t: "ok"; mid: string; seq?: number | null; seqs?: number[] }
  | ({ t: "nack"; mid: string } & ErrorBody)
  | PresenceHello
  | PresenceChanges;

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

// ---- Presence: per-connection ephemeral state on the main socket ----

/** `GET {room}/presence` answers `{"peers":{…}}`: every open connection's state. */
export const PRESENCE_PATH = "/presence";
/**
 * Largest presence state, in UTF-8 bytes of its JSON. It is kept in the socket's attachment, which
 * both runtimes cap at 16 KiB (Cloudflare's serializeAttachment limit) and which also holds the
 * role, the socket id and up to MAX_SUBSCRIPTIONS_PER_CONNECTION subscription ids; V8's
 * serialization of a JSON value takes at most about twice its JSON bytes (a short double: 9 bytes
 * for "1.5,"), so a room may lower this limit but never raise it past the default.
 */
export const MAX_PRESENCE_BYTES = 4096;
/** Presence changes reach every socket coalesced: at most one frame every this many milliseconds. */
export const PRESENCE_INTERVAL_MS = 50;

/** A connection's presence: any JSON object. */
export type PresenceState = Record<string, unknown>;
/** States by the room's own connection id (never a client-chosen one). */
export type PresencePeers = Record<string, PresenceState>;
/** Sent once when a main socket opens: its own id, and every connection that has a state. */
export type PresenceHello = { t: "presence"; self: string; peers: PresencePeers };
/** What changed since the last frame: new states (`null`: cleared) and connections that closed. */
export type PresenceChanges = { t: "presence"; set: Record<string, PresenceState | null>; left: string[] };

/** True for what a `presence` frame may carry: a JSON object (not an array), or null. */
export const isPresenceState = (thing: unknown): thing is PresenceState | null =>
  thing === null || (typeof thing === "object" && !Array.isArray(thing));

// ---- MergeableStore synchronizer clients (`{room}/sync`, TinyBase's WsSynchronizer protocol) ----

/** Sub-path of a room where TinyBase `createWsSynchronizer` clients connect. */
export const SYNC_PATH = "/sync";
/** The room's own client id in synchronizer frames (TinyBase's `WsServerDurableObject` uses the same). */
export const SYNC_ROOM_ID = "S";
/** Synchronizer message types, as TinyBase numbers them (`Message` in tinybase/synchronizers). */
export const SYNC_MESSAGE = {
  response: 0,
  getContentHashes: 1,
  contentHashes: 2,
  contentDiff: 3,
  getTableDiff: 4,
  getRowDiff: 5,
  getCellDiff: 6,
  getValueDiff: 7,
} as const;
/**
 * Largest synchronizer message, whole or reassembled from fragments, and most fragments of one
 * message and messages being reassembled per socket: TinyBase 10's own bounds
 * (MAX_WEBSOCKET_BUFFER_SIZE, MAX_FRAGMENT_COUNT, MAX_FRAGMENT_BUFFERS).
 */
export const MAX_SYNC_MESSAGE_BYTES = 16 * 1024 * 1024;
export const MAX_SYNC_FRAGMENTS = 1_000;
export const MAX_SYNC_PARTIAL_MESSAGES = 100;
/** Most bytes of fragments the room keeps across all its synchronizer sockets at once. */
export const MAX_SYNC_PARTIAL_BYTES_PER_ROOM = 64 * 1024 * 1024;
/** How long a request of the room to a synchronizer client, or a message's fragments, may take (TinyBase's default). */
export const SYNC_REQUEST_TIMEOUT_MS = 1_000;
/** Most requests the room has pending on one synchronizer socket (TinyBase's MAX_PENDING_REQUESTS). */
export const MAX_SYNC_PENDING_REQUESTS = 100;

// ---- Room directory (party/core/directory/) ----

/** `GET /parties/<party>` lists the party's rooms, at most this many per page unless `?limit=` says fewer. */
export const DEFAULT_LIST_LIMIT = 100;
/** Largest `?limit=` of a room listing. */
export const MAX_LIST_LIMIT = 1_000;

/** One room of a listing: what the room last reported of itself (its stats' figures of the same names). */
export interface ListedRoom {
  name: string;
  head: number;
  cells: number;
  events: number;
  created: string | null;
  lastWrite: string | null;
}

/** `GET /parties/<party>`: rooms in name order; `next` is the `after` of the next page, null on the last. */
export interface RoomListing {
  rooms: ListedRoom[];
  next: string | null;
}
