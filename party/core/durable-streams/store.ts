// Durable Streams' write side: a stream's metadata and the log entries of create, append, close
// and delete, each one commit-queue job, so that a stream's events and its metadata land in one
// atomic write with everything else the room writes. Where they go: model.ts.
//
// An export carries every metadata key as it is, since producers, `Stream-Seq`, the closing
// producer and a fork's sub-offset are in no event (export.ts).
//
// Postconditions of every job: validation and reads first; then, synchronously, the events and the
// metadata in the batch; a refused request changes nothing.
import type { Batch, Job } from "../storage/commit-queue.ts";
import { RoomError } from "../common/errors.ts";
import type { LogReader, RoomContext } from "../room/types.ts";
import type { EventInput, StoredEvent } from "../storage/event-log.ts";
import { planFork } from "./fork.ts";
import { EVENT_APPEND, EVENT_CLOSE, EVENT_CREATE, EVENT_DELETE, isExpired, logStreamOf, streamMetaKey, type StreamConfig, type StreamMeta } from "./model.ts";
import { encodePayload, mediaType, type Payload } from "./payload.ts";
import { checkProducer, withProducer, type ProducerState, type ProducerTuple } from "./producers.ts";

const sameConfig = (meta: StreamMeta, config: StreamConfig): boolean =>
  (!config.fork || config.contentTypeGiven ? mediaType(meta.contentType) === mediaType(config.contentType) : true) &&
  (config.fork && config.ttlSeconds === undefined && config.expiresAt === undefined
    ? true
    : meta.ttlSeconds === config.ttlSeconds && meta.expiresAt === config.expiresAt) &&
  (meta.closed ?? false) === config.closed &&
  meta.forkedFrom === config.fork?.from &&
  (config.fork?.offset === undefined || config.fork.offset === meta.forkOffset) &&
  (config.fork?.subOffset ?? 0) === (meta.forkSubOffset ?? 0);

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

/** What the stream store uses of the room: storage, clock and prefix, the log, and its commit group jobs. */
export interface StreamStorePort {
  readonly options: Pick<RoomContext, "storage" | "now" | "config">;
  readonly log: LogReader;
  /** Runs a job in the next commit group, with the room's writes (storage/commit-queue.ts). */
  run<T>(job: Job<T>): Promise<T>;
  /** Puts events in a job's batch, next to the job's own keys (write/append-events.ts). */
  putEvents(batch: Batch, inputs: (EventInput & { stream: string })[]): StoredEvent[];
}

/** The key of a stream's metadata. */
const metaKeyOf = (port: StreamStorePort, name: string) => streamMetaKey(port.options.config.storagePrefix, name);

/** The metadata as the batch or storage has it, expired or not. */
const loadMeta = async (port: StreamStorePort, name: string, batch?: Batch): Promise<StreamMeta | undefined> => {
  const key = metaKeyOf(port, name);
  const pending = batch?.pending(key);
  if (pending !== undefined) return pending as StreamMeta;
  return (await port.options.storage.get([key])).get(key) as StreamMeta | undefined;
};

const events = (name: string, list: [type: string, data: unknown][]) =>
  list.map(([type, data]) => ({ stream: logStreamOf(name), type, data }));

/** Puts the events and the new metadata; returns the seqs of the events. */
const write = (port: StreamStorePort, batch: Batch, { name, list, meta }: { name: string; list: [string, unknown][]; meta: StreamMeta }): number[] => {
  const stored = port.putEvents(batch, events(name, list));
  batch.put(metaKeyOf(port, name), meta);
  return stored.map(({ event }) => event.seq);
};

/** Creates a stream (a fork when asked), or confirms one with the same config (`created: false`); 409 otherwise. */
const createStream = async (
  port: StreamStorePort,
  batch: Batch,
  { name, config, payload, lastRead }: { name: string; config: StreamConfig; payload: Payload | undefined; lastRead: () => number },
) => {
  const existing = await loadMeta(port, name, batch);
  if (existing?.softDeleted) throw new RoomError("conflict", "The stream was deleted but has forks: its name is taken until they go.");
  if (existing && !isExpired(existing, port.options.now(), lastRead())) {
    if (!sameConfig(existing, config)) throw new RoomError("conflict", "The stream exists with another configuration.");
    return { created: false, meta: existing };
  }
  const { fork } = config;
  const source = fork ? await loadMeta(port, fork.from, batch) : undefined;
  if (fork && (!source || isExpired(source, port.options.now()))) throw new RoomError("not_found", "The source stream does not exist.");
  if (source?.softDeleted) throw new RoomError("conflict", "The source stream was deleted.");
  const plan = fork ? await planFork(port.log, fork, source!, config) : undefined;
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
  const meta: StreamMeta = { ...setup, contentType, created, tail: appends > 0 ? created + appends : (plan?.seq ?? created), accessedAt: port.options.now(), producers: {} };
  if (plan) {
    meta.inherited = plan.inherited;
    if (fork!.subOffset) meta.forkSubOffset = fork!.subOffset;
    batch.put(metaKeyOf(port, fork!.from), { ...source!, forks: (source!.forks ?? 0) + 1 });
  }
  if (config.closed) meta.closed = true;
  write(port, batch, { name, list, meta });
  return { created: true, meta };
};

/** Appends and/or closes, with the producer and Stream-Seq rules; throws 404, 409, 403, 400 as the protocol says. */
const appendStream = async (
  port: StreamStorePort,
  batch: Batch,
  { name, request, lastRead }: { name: string; request: AppendRequest; lastRead: () => number },
): Promise<AppendResult> => {
  const meta = await loadMeta(port, name, batch);
  const at = port.options.now();
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
  const check = producer ? checkProducer(meta.producers, producer, at) : undefined;
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
  if (producer && check) next.producers = withProducer(meta.producers, producer.id, check.state, at);
  if (request.close) {
    next.closed = true;
    if (producer) next.closedBy = producer;
  }
  write(port, batch, { name, list, meta: next });
  return { status: payload ? "appended" : "closed", meta: next };
};

/**
 * Deletes a stream: its metadata goes, its events stay in the log (which never rewrites
 * history). A stream with forks is only marked deleted until its last fork goes; then it goes
 * too, and so on up the chain.
 */
const deleteStream = async (port: StreamStorePort, batch: Batch, { name, lastRead }: { name: string; lastRead: () => number }) => {
  const meta = await loadMeta(port, name, batch);
  if (!meta || isExpired(meta, port.options.now(), lastRead())) throw new RoomError("not_found", "No such stream.");
  if (meta.softDeleted) throw new RoomError("gone", "The stream was deleted; its forks still read it.");
  const releases: [string, StreamMeta | undefined][] = [];
  for (let parent = meta.forks ? undefined : meta.forkedFrom; parent !== undefined; ) {
    const parentMeta = await loadMeta(port, parent, batch);
    if (!parentMeta) break;
    const forks = (parentMeta.forks ?? 1) - 1;
    const gone = forks === 0 && parentMeta.softDeleted === true;
    releases.push([parent, gone ? undefined : { ...parentMeta, forks }]);
    parent = gone ? parentMeta.forkedFrom : undefined;
  }
  // From here on: synchronous.
  port.putEvents(batch, events(name, [[EVENT_DELETE, null]]));
  if (meta.forks) batch.put(metaKeyOf(port, name), { ...meta, softDeleted: true });
  else batch.delete(metaKeyOf(port, name));
  for (const [parent, parentMeta] of releases) {
    if (parentMeta) batch.put(metaKeyOf(port, parent), parentMeta);
    else batch.delete(metaKeyOf(port, parent));
  }
};

/** The stream store of a room: each write one job of its commit queue. */
export const createStreamStore = (port: StreamStorePort) => ({
  load: (name: string, batch?: Batch) => loadMeta(port, name, batch),
  create: (name: string, config: StreamConfig, payload: Payload | undefined, lastRead: () => number) =>
    port.run((batch) => createStream(port, batch, { name, config, payload, lastRead })),
  append: (name: string, request: AppendRequest, lastRead: () => number) => port.run((batch) => appendStream(port, batch, { name, request, lastRead })),
  delete: (name: string, lastRead: () => number) => port.run((batch) => deleteStream(port, batch, { name, lastRead })),
});

export type StreamStore = ReturnType<typeof createStreamStore>;
