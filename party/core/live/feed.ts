// A feed: the events a reader selected, history first, then a caught-up marker, then live, with no
// gap and no duplicate, and never more than the reader can take. SSE and WebSocket subscriptions
// are both feeds; they differ only in their sink.
//
// How it stays gapless without buffering: the log is durable, so a feed keeps only `lastSeq`, the
// newest seq it has considered. While it is behind (history, or a reader out of capacity) it reads
// pages from storage; once it reaches the head it switches to live in the same synchronous step
// that checks the head, so every later commit reaches it through `onEvents`. A reader that stops
// taking events costs no memory: the feed falls behind and reads from storage again when it can.
// Capacity is counted in events and in bytes: a reader takes an event while it has event capacity
// and the event fits its byte room (or it holds nothing yet, so that any one event goes through).
//
// Large events (stored in chunks, storage/event-log.ts): a sink that writes pieces (SSE) gets them one
// stored chunk at a time, each read from storage only when the sink has room for it, so that a
// reader that stops reading holds its byte budget plus one storage value, whatever the event's
// size. It takes one as soon as it has any room, and the feed writes nothing else until it is done.
// Live, such an event is written from the committed text only when it fits the reader's byte room
// whole; otherwise the feed falls behind and reads it from storage, so that no reader keeps the
// committed text alive. A sink without pieces (a WebSocket,
// whose frame is one message) gets the text whole.
import type { EndReason } from "../../protocol.ts";
import { RoomError } from "../common/errors.ts";
import { eventTypeOf, MAX_STORED_CHARS, type StoredEvent } from "../storage/event-log.ts";
import { readEventChunk, readRange, readRangeDeferred, type ChunkedEvent, type EventText } from "../log/reads.ts";
import type { LogReader, Logger } from "../room/types.ts";
import { matches, type Selectors } from "../log/selectors.ts";

export interface FeedSink {
  /** How many more events the reader can take now. */
  capacity(): number;
  /** How many more bytes of event text the reader can take now (no byte bound when absent). */
  byteRoom?(): number;
  /** True when the reader holds nothing yet: then any one event fits, however large. */
  isEmpty?(): boolean;
  event(event: EventText, type: string): void;
  caughtUp(head: number): void;
  end(reason: EndReason, error?: RoomError): void;
  /** New events arrived while the feed waits for capacity (a reader may time out here). */
  waiting?(): void;
  /**
   * Writes one large event from its pieces, pulling the next only when there is room for it;
   * resolves once the last is written (or the reader went away). Without it, large events come whole.
   */
  pieces?(seq: number, type: string, pieces: AsyncIterable<string>): Promise<void>;
}

export interface Feed {
  /** Sends what the reader can take now; call when its capacity grows. */
  pump(): void;
  close(): void;
  readonly lastSeq: number;
}

/** Most events read from storage per page while a feed catches up. */
export const FEED_PAGE_EVENTS = 256;

/** A large event's chunks after the first, read one by one as they are asked for. */
async function* chunksOf(log: LogReader, event: ChunkedEvent, first: string): AsyncGenerator<string> {
  yield first;
  for (let index = 1; index < event.chunks; index++) {
    const chunk = await readEventChunk(log.storage, log.keys, event.seq, index);
    if (chunk === undefined) throw new Error(`Event ${event.seq} left the log while it was read (retention).`);
    yield chunk;
  }
}

/** A feed's state: what it reads and for whom, where it stands, and what it is doing. */
interface FeedState {
  readonly log: LogReader;
  readonly logger: Logger;
  readonly selectors: Selectors;
  readonly sink: FeedSink;
  /** The last seq of the range; none for an open range. */
  readonly upper: number | undefined;
  /** The newest seq the feed has considered (taken, or passed over as not selected). */
  lastSeq: number;
  /** At the head: commits reach the sink through `onLive`; else `pump` reads from storage. */
  live: boolean;
  caughtUpSent: boolean;
  /** A catch-up is running. */
  pumping: boolean;
  closed: boolean;
  /** Set when catch-up stopped for want of room: only the reader (pull, ack) pumps again then. */
  blocked: boolean;
  /** A pump asked for while one was running: the reader's room changed meanwhile. */
  pumpAgain: boolean;
  stopListening: (() => void) | undefined;
}

const byteRoom = (feed: FeedState): number => feed.sink.byteRoom?.() ?? Infinity;
const fits = (feed: FeedState, bytes: number): boolean => bytes <= byteRoom(feed) || (feed.sink.isEmpty?.() ?? false);

const close = (feed: FeedState): void => {
  feed.closed = true;
  feed.stopListening!();
};

const end = (feed: FeedState, reason: EndReason, error?: RoomError): void => {
  if (feed.closed) return;
  close(feed);
  feed.sink.end(reason, error);
};

/** At the end of the range: say so, and stop. */
const finishIfDone = (feed: FeedState): void => {
  if (feed.upper !== undefined && feed.lastSeq >= feed.upper) end(feed, "done");
};

/** Committed events, as they come: written while the feed is live and the reader has room for them. */
const onLive = (feed: FeedState, events: StoredEvent[]): void => {
  if (feed.closed) return;
  if (!feed.live) {
    if (!feed.pumping) feed.sink.waiting?.();
    return;
  }
  const { sink, upper } = feed;
  for (const { event, json } of events) {
    if (event.seq <= feed.lastSeq) continue;
    if (upper !== undefined && event.seq > upper) return end(feed, "done");
    if (matches(feed.selectors, event)) {
      if (sink.pieces && json.length > MAX_STORED_CHARS && json.length > byteRoom(feed)) {
        // More than the reader has room for: written from storage, piece by piece; fall behind and read it from there now.
        feed.live = false;
        return pump(feed);
      }
      if (sink.capacity() <= 0 || !fits(feed, json.length)) {
        // Out of capacity: fall behind; `pump` reads the rest from storage later.
        feed.live = false;
        return;
      }
      sink.event({ seq: event.seq, json }, event.type);
    }
    feed.lastSeq = event.seq;
  }
  finishIfDone(feed);
};

/** Catches up from storage, unless closed, live, or already at it (then it runs again after). */
const pump = (feed: FeedState): void => {
  if (feed.closed || feed.live) return;
  if (feed.pumping) return void (feed.pumpAgain = true);
  feed.pumping = true;
  feed.blocked = false;
  feed.pumpAgain = false;
  catchUp(feed)
    .catch((error) => {
      feed.logger.error("roomstore: feed failed", error);
      end(feed, "error", new RoomError("internal", "The room could not read its log."));
    })
    .finally(() => {
      feed.pumping = false;
      // Capacity may have come back, or the feed fell behind, while it read.
      if (!feed.closed && !feed.live && feed.sink.capacity() > 0 && (!feed.blocked || feed.pumpAgain)) pump(feed);
    });
};

/** Reads pages from storage while the reader has room, until the feed reaches the head (or its range's end). */
const catchUp = async (feed: FeedState): Promise<void> => {
  const { log, sink } = feed;
  while (!feed.closed) {
    const head = log.head;
    const target = feed.upper === undefined ? head : Math.min(feed.upper, head);
    if (feed.lastSeq >= target) return reachHead(feed, head);
    const room = sink.capacity();
    if (room <= 0 || (byteRoom(feed) <= 0 && !sink.isEmpty?.())) return void (feed.blocked = true);
    const query = { selection: feed.selectors, lower: feed.lastSeq + 1, upper: target, limit: Math.min(room, FEED_PAGE_EVENTS), maxBytes: Math.max(1, byteRoom(feed)) };
    const read = sink.pieces ? await readRangeDeferred(log.storage, log.keys, query) : await readRange(log.storage, log.keys, query);
    if (feed.closed) return;
    let taken = 0;
    for (const event of read.events) {
      if (!("json" in event)) {
        // A large event, last of its read: taken with any room at all, written as room comes.
        if (sink.capacity() <= 0 || byteRoom(feed) <= 0) break;
        await writePieces(feed, event);
        if (feed.closed) return;
        feed.lastSeq = event.seq;
        taken++;
        continue;
      }
      // The reader's room may have changed while the page was read: what does not fit is read again later.
      if (sink.capacity() <= 0 || !fits(feed, event.json.length)) break;
      sink.event(event, eventTypeOf(event.json));
      feed.lastSeq = event.seq;
      taken++;
    }
    if (taken < read.events.length) return void (feed.blocked = true);
    if (read.reachedEnd) feed.lastSeq = Math.max(feed.lastSeq, target);
  }
};

/** Caught up with `head`: live from now on, in the same synchronous step as the head check, so that no commit falls between the two. */
const reachHead = (feed: FeedState, head: number): void => {
  if (!feed.live) {
    feed.live = true;
    if (!feed.caughtUpSent) {
      feed.caughtUpSent = true;
      feed.sink.caughtUp(head);
      if (feed.selectors.untilCaughtUp) return end(feed, "done");
    }
  }
  finishIfDone(feed);
};

/** One large event, written from storage piece by piece as the reader takes them. */
const writePieces = async (feed: FeedState, event: ChunkedEvent): Promise<void> => {
  const { log } = feed;
  const first = await readEventChunk(log.storage, log.keys, event.seq, 0);
  // Gone since it was listed (retention): skipped, as a read skips what is gone.
  if (first === undefined || feed.closed) return;
  await feed.sink.pieces!(event.seq, eventTypeOf(first), chunksOf(log, event, first));
};

/** Opens a feed over the log's read port; `logger` hears of a read that failed. */
export const openFeed = (log: LogReader, logger: Logger, selectors: Selectors, sink: FeedSink): Feed => {
  const feed: FeedState = {
    log,
    logger,
    selectors,
    sink,
    // `until=caught-up` ends at the head as of now; `after=past-events` starts there.
    upper: selectors.untilCaughtUp ? log.head : selectors.upper,
    lastSeq: (selectors.pastEvents ? log.head + 1 : selectors.lower) - 1,
    live: false,
    caughtUpSent: false,
    pumping: false,
    closed: false,
    blocked: false,
    pumpAgain: false,
    stopListening: undefined,
  };
  feed.stopListening = log.onEvents((events) => onLive(feed, events));
  return {
    pump: () => pump(feed),
    close: () => close(feed),
    get lastSeq() {
      return feed.lastSeq;
    },
  };
};
