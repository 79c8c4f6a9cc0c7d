// Limits and defaults, each with its unit in its name; every one is configurable per room.

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
