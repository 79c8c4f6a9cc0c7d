// Durable Streams' write side: a stream's metadata and the log entries of create, append, close
// and delete, each one commit-queue job, so that a stream's events and its metadata land in one
// atomic write with everything else the room writes.
//
// Layout. A stream `<name>` lives in the log as the stream `$ds/<name>`: a `$create` event
// (data: its config), one `$append` event per accepted POST or initial body (data: the payload),
// a `$close` event, a `$delete` event. Its metadata is one storage key, P d "<name>" (P is the
// room's storagePrefix; no other key of keys.ts starts with "d"). `created` is the seq of the
// current incarnation's `$create` event, so a stream deleted and created again starts afresh:
// its reads list `$append` events after its own `$create` only, and every offset it hands out is
// a room seq above anything the earlier incarnation handed out.
//
// Postconditions of every job: validation and reads first; then, synchronously, the events and the
// metadata in the batch; a refused request changes nothing.
import { MAX_NAME_CHARS } from "../protocol.ts";
import type { Batch } from "./commit-queue.ts";
import { RoomError } from "./errors.ts";
import type { RoomCore } from "./room.ts";
import { planFork } from "./durable-streams-fork.ts";

export const LOG_STREAM_PREFIX = "$ds/";
export const EVENT_CREATE = "$create";
export const EVENT_APPEND = "$append";
export const EVENT_CLOSE = "$close";
export const EVENT_DELETE = "$delete";
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";
/** Longest stream name: its log stream's name must fit MAX_NAME_CHARS. */
export const MAX_STREAM_NAME_CHARS = MAX_NAME_CHARS - LOG_STREAM_PREFIX.length;
/** Producer state older than this is forgotten (the protocol suggests 7 days). */
export const PRODUCER_STATE_TTL_MS = 7 * 24 * 3_600_000;
/**
 * Producers remembered per stream: the least recently active is forgotten beyond this, so that
 * the metadata stays within one storage value (PartyKit's 128 KiB) whatever clients send.
 */
export const MAX_PRODUCERS_PER_STREAM = 100;

/** One append as the log keeps it: JSON messages, UTF-8 text, or other bytes in base64. */
export type Payload = { json: unknown[] } | { text: string } | { base64: string };

export interface ProducerState {
  epoch: number;
  seq: number;
  /** When it last appended, in ms. */
  at: number;
}

export interface ProducerTuple {
  id: string;
  epoch: number;
  seq: number;
}

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

/** The media type without parameters, lower case: `application/json; charset=utf-8` is JSON mode. */
export const mediaType = (contentType: string): string => contentType.split(";")[0]!.trim().toLowerCase();
export const isJsonMode = (contentType: string): boolean => mediaType(contentType) === "application/json";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Base64 in slices, so that a large body never becomes one huge argument list. */
export const toBase64 = (bytes: Uint8Array): string => {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
};

export const fromBase64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (char) => char.charCodeAt(0));

/**
 * The payload of a body, or undefined when it holds no message (an empty body; `[]` on create).
 * JSON mode flattens one level of array; text stays text when it is valid UTF-8.
 */
export const encodePayload = (contentType: string, body: Uint8Array, creating: boolean): Payload | undefined => {
  if (body.length === 0) return undefined;
  if (isJsonMode(contentType)) {
    let value: unknown;
    try {
      value = JSON.parse(utf8.decode(body));
    } catch {
      throw new RoomError("invalid_json", "A JSON stream takes a valid JSON body.");
    }
    if (!Array.isArray(value)) return { json: [value] };
    if (value.length > 0) return { json: value };
    if (creating) return undefined;
    throw new RoomError("bad_request", "An append of an empty JSON array appends nothing.");
  }
  if (mediaType(contentType).startsWith("text/")) {
    try {
      return { text: utf8.decode(body) };
    } catch {
      // Not UTF-8: kept as bytes.
    }
  }
  return { base64: toBase64(body) };
};

export const isExpired = (meta: StreamMeta, now: number, lastRead = 0): boolean =>
  (meta.expiresAt !== undefined && now >= Date.parse(meta.expiresAt)) ||
  (meta.ttlSeconds !== undefined && now >= Math.max(meta.accessedAt, lastRead) + meta.ttlSeconds * 1000);

const sameConfig = (meta: StreamMeta, config: StreamConfig): boolean =>
  (!config.fork || config.contentTypeGiven ? mediaType(meta.contentType) === mediaType(config.contentType) : true) &&
  (config.fork && config.ttlSeconds === undefined && config.expiresAt === undefined
    ? true
    : meta.ttlSeconds === config.ttlSeconds && meta.expiresAt === config.expiresAt) &&
  (meta.closed ?? false) === config.closed &&
  meta.forkedFrom === config.fork?.from &&
  (config.fork?.offset === undefined || config.fork.offset === meta.forkOffset) &&
  (config.fork?.subOffset ?? 0) === (meta.forkSubOffset ?? 0);

/** Why a producer's request is refused, with the headers its answer carries. */
export class ProducerRefusal extends RoomError {
  readonly headers: Record<string, string>;
  constructor(code: "forbidden" | "conflict" | "bad_request", message: string, headers: Record<string, string>) {
    super(code, message);
    this.headers = headers;
  }
}

export type ProducerCheck = { status: "accepted"; state: ProducerState } | { status: "duplicate"; lastSeq: number };

/** The protocol's producer rules (PROTOCOL.md 5.2.1): fencing by epoch, gapless seqs per epoch. */
export const checkProducer = (meta: StreamMeta, producer: ProducerTuple, now: number): ProducerCheck => {
  const state = meta.producers[producer.id];
  const live = state && now - state.at <= PRODUCER_STATE_TTL_MS ? state : undefined;
  const accepted = { status: "accepted" as const, state: { epoch: producer.epoch, seq: producer.seq, at: now } };
  if (!live || producer.epoch > live.epoch) {
    if (producer.seq === 0) return accepted;
    if (!live) {
      throw new ProducerRefusal("conflict", "A new producer starts at seq 0.", { "Producer-Expected-Seq": "0", "Producer-Received-Seq": String(producer.seq) });
    }
    throw new ProducerRefusal("bad_request", "A new producer epoch starts at seq 0.", {});
  }
  if (producer.epoch < live.epoch) {
    throw new ProducerRefusal("forbidden", "A newer epoch of this producer has taken over.", { "Producer-Epoch": String(live.epoch) });
  }
  if (producer.seq <= live.seq) return { status: "duplicate", lastSeq: live.seq };
  if (producer.seq === live.seq + 1) return accepted;
  throw new ProducerRefusal("conflict", "A producer seq is missing before this one.", {
    "Producer-Expected-Seq": String(live.seq + 1),
    "Producer-Received-Seq": String(producer.seq),
  });
};

/** The producers with one updated, without expired states, the least recently active dropped beyond the cap. */
const withProducer = (meta: StreamMeta, id: string, state: ProducerState, now: number): Record<string, ProducerState> => {
  const entries = Object.entries(meta.producers).filter(([other, kept]) => other !== id && now - kept.at <= PRODUCER_STATE_TTL_MS);
  entries.sort(([, a], [, b]) => b.at - a.at);
  return Object.fromEntries([[id, state], ...entries.slice(0, MAX_PRODUCERS_PER_STREAM - 1)]);
};

export interface AppendRequest {
  contentType?: string;
  body: Uint8Array;
  close: boolean;
  streamSeq?: string;
  producer?: ProducerTuple;
}

export type AppendResult =
  | { status: "appended" | "closed"; meta: StreamMeta }
  | { status: "duplicate"; meta: StreamMeta; lastSeq: number };

/** A stream that exists: its metadata and name. Thrown as `closed` when it takes no more appends. */
export class StreamClosed extends RoomError {
  readonly meta: StreamMeta;
  constructor(meta: StreamMeta) {
    super("conflict", "The stream is closed: it takes no more appends.");
    this.meta = meta;
  }
}

export const createStreamStore = (core: RoomCore) => {
  const { storage } = core.options;
  const now = core.options.now ?? Date.now;
  const metaKey = (name: string) => core.options.config.storagePrefix + "d" + JSON.stringify(name);

  /** The metadata as the batch or storage has it, expired or not. */
  const load = async (name: string, batch?: Batch): Promise<StreamMeta | undefined> => {
    const key = metaKey(name);
    const pending = batch?.pending(key);
    if (pending !== undefined) return pending as StreamMeta;
    return (await storage.get([key])).get(key) as StreamMeta | undefined;
  };

  const events = (name: string, list: [type: string, data: unknown][]) =>
    list.map(([type, data]) => ({ stream: logStreamOf(name), type, data }));

  /** Puts the events and the new metadata; returns the seqs of the events. */
  const write = (batch: Batch, name: string, list: [string, unknown][], meta: StreamMeta): number[] => {
    const stored = core.putEvents(batch, events(name, list));
    batch.put(metaKey(name), meta);
    return stored.map(({ event }) => event.seq);
  };

  return {
    load,

    /** Creates a stream (a fork when asked), or confirms one with the same config (`created: false`); 409 otherwise. */
    create(name: string, config: StreamConfig, payload: Payload | undefined, lastRead: () => number) {
      return core.run(async (batch) => {
        const existing = await load(name, batch);
        if (existing?.softDeleted) throw new RoomError("conflict", "The stream was deleted but has forks: its name is taken until they go.");
        if (existing && !isExpired(existing, now(), lastRead())) {
          if (!sameConfig(existing, config)) throw new RoomError("conflict", "The stream exists with another configuration.");
          return { created: false, meta: existing };
        }
        const { fork } = config;
        const source = fork ? await load(fork.from, batch) : undefined;
        if (fork && (!source || isExpired(source, now()))) throw new RoomError("not_found", "The source stream does not exist.");
        if (source?.softDeleted) throw new RoomError("conflict", "The source stream was deleted.");
        const plan = fork ? await planFork(core, fork, source!, config) : undefined;
        // From here on: synchronous.
        const contentType = plan?.contentType ?? config.contentType;
        const setup: Record<string, unknown> = { contentType };
        const ttlSeconds = plan ? plan.ttlSeconds : config.ttlSeconds;
        const expiresAt = plan ? plan.expiresAt : config.expiresAt;
        if (ttlSeconds !== undefined) setup.ttlSeconds = ttlSeconds;
        if (expiresAt !== undefined) setup.expiresAt = expiresAt;
        if (fork) Object.assign(setup, { forkedFrom: fork.from, forkOffset: plan!.offset });
        const list: [string, unknown][] = [[EVENT_CREATE, setup]];
        if (plan?.prefix) list.push([EVENT_APPEND, plan.prefix]);
        if (payload) list.push([EVENT_APPEND, payload]);
        if (config.closed) list.push([EVENT_CLOSE, null]);
        const created = batch.nextSeq;
        const appends = list.filter(([type]) => type === EVENT_APPEND).length;
        const meta: StreamMeta = { ...setup, contentType, created, tail: appends > 0 ? created + appends : (plan?.seq ?? created), accessedAt: now(), producers: {} };
        if (plan) {
          meta.inherited = plan.inherited;
          if (fork!.subOffset) meta.forkSubOffset = fork!.subOffset;
          batch.put(metaKey(fork!.from), { ...source!, forks: (source!.forks ?? 0) + 1 });
        }
        if (config.closed) meta.closed = true;
        write(batch, name, list, meta);
        return { created: true, meta };
      });
    },

    /** Appends and/or closes, with the producer and Stream-Seq rules; throws 404, 409, 403, 400 as the protocol says. */
    append(name: string, request: AppendRequest, lastRead: () => number): Promise<AppendResult> {
      return core.run(async (batch): Promise<AppendResult> => {
        const meta = await load(name, batch);
        const at = now();
        if (!meta || isExpired(meta, at, lastRead())) throw new RoomError("not_found", "No such stream.");
        if (meta.softDeleted) throw new RoomError("gone", "The stream was deleted; its forks still read it.");
        const { producer } = request;
        const closeOnly = request.body.length === 0 && request.close;
        if (meta.closed) {
          const closer = meta.closedBy;
          if (producer && closer && closer.id === producer.id && closer.epoch === producer.epoch && closer.seq === producer.seq) {
            return { status: "duplicate", meta, lastSeq: producer.seq };
          }
          if (closeOnly && !producer) return { status: "closed", meta };
          throw new StreamClosed(meta);
        }
        if (!closeOnly && mediaType(request.contentType!) !== mediaType(meta.contentType)) {
          throw new RoomError("conflict", `The stream's content type is ${meta.contentType}.`);
        }
        const check = producer ? checkProducer(meta, producer, at) : undefined;
        if (check?.status === "duplicate") return { status: "duplicate", meta, lastSeq: check.lastSeq };
        if (!closeOnly && request.streamSeq !== undefined && meta.streamSeq !== undefined && request.streamSeq <= meta.streamSeq) {
          throw new RoomError("conflict", `Stream-Seq ${request.streamSeq} is not after ${meta.streamSeq}.`);
        }
        const payload = closeOnly ? undefined : encodePayload(meta.contentType, request.body, false);
        // From here on: synchronous.
        const list: [string, unknown][] = [];
        if (payload) list.push([EVENT_APPEND, payload]);
        if (request.close) list.push([EVENT_CLOSE, null]);
        const next: StreamMeta = { ...meta, accessedAt: at };
        if (payload) next.tail = batch.nextSeq;
        if (!closeOnly && request.streamSeq !== undefined) next.streamSeq = request.streamSeq;
        if (producer && check) next.producers = withProducer(meta, producer.id, check.state, at);
        if (request.close) {
          next.closed = true;
          if (producer) next.closedBy = producer;
        }
        write(batch, name, list, next);
        return { status: payload ? "appended" : "closed", meta: next };
      });
    },

    /**
     * Deletes a stream: its metadata goes, its events stay in the log (which never rewrites
     * history). A stream with forks is only marked deleted until its last fork goes; then it goes
     * too, and so on up the chain.
     */
    delete(name: string, lastRead: () => number) {
      return core.run(async (batch) => {
        const meta = await load(name, batch);
        if (!meta || isExpired(meta, now(), lastRead())) throw new RoomError("not_found", "No such stream.");
        if (meta.softDeleted) throw new RoomError("gone", "The stream was deleted; its forks still read it.");
        const releases: [string, StreamMeta | undefined][] = [];
        for (let parent = meta.forks ? undefined : meta.forkedFrom; parent !== undefined; ) {
          const parentMeta = await load(parent, batch);
          if (!parentMeta) break;
          const forks = (parentMeta.forks ?? 1) - 1;
          const gone = forks === 0 && parentMeta.softDeleted === true;
          releases.push([parent, gone ? undefined : { ...parentMeta, forks }]);
          parent = gone ? parentMeta.forkedFrom : undefined;
        }
        // From here on: synchronous.
        core.putEvents(batch, events(name, [[EVENT_DELETE, null]]));
        if (meta.forks) batch.put(metaKey(name), { ...meta, softDeleted: true });
        else batch.delete(metaKey(name));
        for (const [parent, parentMeta] of releases) {
          if (parentMeta) batch.put(metaKey(parent), parentMeta);
          else batch.delete(metaKey(parent));
        }
      });
    },
  };
};

export type StreamStore = ReturnType<typeof createStreamStore>;
