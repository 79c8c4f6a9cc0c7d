// Durable Streams' model: a stream's metadata, where it is kept, and the requests that create one.
// The write side (store.ts), the reads, forks and exports build on it; it imports
// none of them.
//
// Layout. A stream `<name>` lives in the log as the stream `$ds/<name>`: a `$create` event
// (data: its config), one `$append` event per accepted POST or initial body (data: the payload),
// a `$close` event, a `$delete` event. Its metadata is one storage key, P d "<name>" (P is the
// room's storagePrefix; no other key of storage/keys.ts starts with "d"). `created` is the seq of the
// current incarnation's `$create` event, so a stream deleted and created again starts afresh:
// its reads list `$append` events after its own `$create` only, and every offset it hands out is
// a room seq above anything the earlier incarnation handed out.
import { MAX_NAME_CHARS } from "../../protocol.ts";
import type { ProducerState, ProducerTuple } from "./producers.ts";

export const LOG_STREAM_PREFIX = "$ds/";
export const EVENT_CREATE = "$create";
export const EVENT_APPEND = "$append";
export const EVENT_CLOSE = "$close";
export const EVENT_DELETE = "$delete";
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";
/** Longest stream name: its log stream's name must fit MAX_NAME_CHARS. */
export const MAX_STREAM_NAME_CHARS = MAX_NAME_CHARS - LOG_STREAM_PREFIX.length;
export interface StreamMeta {
  contentType: string;
  /** Seq of this incarnation's `$create` event. */
  created: number;
  /** Seq of its newest `$append` event, or `created`. */
  tail: number;
  ttlSeconds?: number;
  expiresAt?: string;
  /** Last write, in ms: the start of a sliding TTL. */
  accessedAt: number;
  closed?: boolean;
  /** A fork: the stream it was forked from, and what it inherited (ranges of the source chain's appends). */
  forkedFrom?: string;
  forkOffset?: string;
  forkSubOffset?: number;
  inherited?: InheritedRange[];
  /** Forks that read from it: a deleted stream with forks stays, soft-deleted (410), until they go. */
  forks?: number;
  softDeleted?: boolean;
  /** The producer request that closed it: its retry is answered as a duplicate. */
  closedBy?: ProducerTuple;
  /** Last `Stream-Seq`, compared as a string. */
  streamSeq?: string;
  producers: Record<string, ProducerState>;
}

/** Appends of one log stream in (after, upTo]. */
export interface InheritedRange {
  logStream: string;
  after: number;
  upTo: number;
}

export interface ForkRequest {
  from: string;
  /** The source offset as given, and its seq. */
  offset?: string;
  seq?: number;
  subOffset?: number;
}

export interface StreamConfig {
  /** Undefined for a fork that inherits its source's. */
  contentType: string;
  contentTypeGiven: boolean;
  fork?: ForkRequest;
  ttlSeconds?: number;
  expiresAt?: string;
  closed: boolean;
}

export const logStreamOf = (name: string): string => LOG_STREAM_PREFIX + name;

/** Where the metadata keys of a room's streams start (`storagePrefix` P): P d. */
export const streamMetaPrefix = (storagePrefix: string): string => storagePrefix + "d";
/** A stream's metadata key, P d "<name>": key order is the order of the names' JSON texts. */
export const streamMetaKey = (storagePrefix: string, name: string): string => streamMetaPrefix(storagePrefix) + JSON.stringify(name);

export const isExpired = (meta: StreamMeta, now: number, lastRead = 0): boolean =>
  (meta.expiresAt !== undefined && now >= Date.parse(meta.expiresAt)) ||
  (meta.ttlSeconds !== undefined && now >= Math.max(meta.accessedAt, lastRead) + meta.ttlSeconds * 1000);
