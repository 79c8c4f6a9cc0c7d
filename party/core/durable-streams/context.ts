// What every request of the Durable Streams protocol shares in one room: the stream store, the
// names resolved to what they read (a protocol stream, a view of a log stream, or nothing), the
// last read of each stream with a TTL (reads renew it, a sliding TTL, without a write), and the
// count of live reads the room holds. The request handlers (write-requests.ts, read-requests.ts)
// are plain functions over it.
import { RoomError } from "../common/errors.ts";
import type { RoomContext } from "../room/types.ts";
import { isExpired, type StreamMeta } from "./model.ts";
import { hasEvents, streamSource, viewSource, watchLog, type LogWatch, type Source } from "./read.ts";
import { READ_ONLY_METHODS } from "./requests.ts";
import { createStreamStore, type StreamStore, type StreamStorePort } from "./store.ts";

/** What the protocol's handler uses of the room: the stream store's port, with the config and the logger. */
export interface StreamPort extends StreamStorePort {
  readonly options: Pick<RoomContext, "storage" | "now" | "config" | "logger">;
}

/** Live reads (long-poll and SSE) one room holds at once; one more is 429 until one ends. */
export const MAX_LIVE_READS = 1_000;

export interface Streams {
  readonly port: StreamPort;
  readonly store: StreamStore;
  /** Last read of each stream with a TTL, in ms. */
  readonly lastReads: Map<string, number>;
  /** Live reads open now, against MAX_LIVE_READS. */
  liveReads: number;
}

export const createStreams = (port: StreamPort): Streams => ({ port, store: createStreamStore(port), lastReads: new Map(), liveReads: 0 });

/** The last read of a stream, as the store's expiry checks ask for it. */
export const lastReadOf = (streams: Streams, name: string) => () => streams.lastReads.get(name) ?? 0;

/** A read of a stream with a TTL renews it. */
export const touch = (streams: Streams, name: string, meta: StreamMeta | undefined): void => {
  if (meta?.ttlSeconds !== undefined) streams.lastReads.set(name, streams.port.options.now());
};

/** A watch on a stream's log, counted against MAX_LIVE_READS until cancelled. */
export const watch = (streams: Streams, logStream: string): LogWatch => {
  if (streams.liveReads >= MAX_LIVE_READS) throw new RoomError("rate_limited", `The room holds ${MAX_LIVE_READS} live reads already: retry later.`);
  streams.liveReads++;
  const inner = watchLog(streams.port.log, logStream);
  let cancelled = false;
  return {
    wait: (timeoutMs) => inner.wait(timeoutMs),
    cancel() {
      inner.cancel();
      if (!cancelled) streams.liveReads--;
      cancelled = true;
    },
  };
};

/** The stream a name reads: a live protocol stream, a view of a log stream, or none. */
export const resolve = async (streams: Streams, name: string): Promise<Source | undefined> => {
  const meta = await streams.store.load(name);
  if (meta) {
    if (!isExpired(meta, streams.port.options.now(), streams.lastReads.get(name))) return streamSource(name, meta);
    streams.lastReads.delete(name);
    return undefined;
  }
  return (await hasEvents(streams.port.log, name)) ? viewSource(streams.port.log, name) : undefined;
};

/** The stream a read names: 404 when there is none, 410 when it was deleted under its forks. */
export const found = async (streams: Streams, name: string): Promise<Source> => {
  const source = await resolve(streams, name);
  if (!source) throw new RoomError("not_found", "No such stream.");
  if (source.meta?.softDeleted) throw new RoomError("gone", "The stream was deleted; its forks still read it.");
  return source;
};

/** Refuses a write to a stream deleted under its forks (410), or to a view of the log (405). */
export const assertWritable = (source: Source | undefined, headers: Headers): void => {
  if (source?.meta?.softDeleted) throw new RoomError("gone", "The stream was deleted; its forks still read it.");
  if (source && !source.meta) {
    headers.set("Allow", READ_ONLY_METHODS);
    throw new RoomError("method_not_allowed", "This stream is a view of the room's log: read it, do not write it.");
  }
};
