// Acting on a whole room: export, import and delete (the paths, the NDJSON format's lines), time
// travel and restore.

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
