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
import { eventTypeOf, MAX_STORED_CHARS } from "../storage/event-log.ts";
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

/** Opens a feed over the log's read port; `logger` hears of a read that failed. */
export const openFeed = (log: LogReader, logger: Logger, selectors: Selectors, sink: FeedSink): Feed => {
  const byteRoom = () => sink.byteRoom?.() ?? Infinity;
  const fits = (bytes: number) => bytes <= byteRoom() || (sink.isEmpty?.() ?? false);
  // `after=past-events` starts at the head; `until=caught-up` ends at the head, both as of now.
  let lastSeq = (selectors.pastEvents ? log.head + 1 : selectors.lower) - 1;
  const upper = selectors.untilCaughtUp ? log.head : selectors.upper;
  let live = false;
  let caughtUpSent = false;
  let pumping = false;
  let closed = false;

  const end = (reason: EndReason, error?: RoomError) => {
    if (closed) return;
    close();
    sink.end(reason, error);
  };

  /** At the end of the range: say so, and stop. */
  const finishIfDone = (): boolean => {
    if (upper !== undefined && lastSeq >= upper) {
      end("done");
      return true;
    }
    return false;
  };

  const stopListening = log.onEvents((events) => {
    if (closed) return;
    if (!live) {
      if (!pumping) sink.waiting?.();
      return;
    }
    for (const { event, json } of events) {
      if (event.seq <= lastSeq) continue;
      if (upper !== undefined && event.seq > upper) return void end("done");
      if (matches(selectors, event)) {
        if (sink.pieces && json.length > MAX_STORED_CHARS && json.length > byteRoom()) {
          // More than the reader has room for: written from storage, piece by piece; fall behind and read it from there now.
          live = false;
          return feed.pump();
        }
        if (sink.capacity() <= 0 || !fits(json.length)) {
          // Out of capacity: fall behind; `pump` reads the rest from storage later.
          live = false;
          return;
        }
        sink.event({ seq: event.seq, json }, event.type);
      }
      lastSeq = event.seq;
    }
    finishIfDone();
  });

  const catchUp = async () => {
    while (!closed) {
      const head = log.head;
      const target = upper === undefined ? head : Math.min(upper, head);
      if (lastSeq >= target) {
        if (!live) {
          // Same synchronous step as the head check: no commit can fall between the two.
          live = true;
          if (!caughtUpSent) {
            caughtUpSent = true;
            sink.caughtUp(head);
            if (selectors.untilCaughtUp) return end("done");
          }
        }
        finishIfDone();
        return;
      }
      const room = sink.capacity();
      if (room <= 0 || (byteRoom() <= 0 && !sink.isEmpty?.())) return void (blocked = true);
      const query = { selection: selectors, lower: lastSeq + 1, upper: target, limit: Math.min(room, FEED_PAGE_EVENTS), maxBytes: Math.max(1, byteRoom()) };
      const read = sink.pieces
        ? await readRangeDeferred(log.storage, log.keys, query)
        : await readRange(log.storage, log.keys, query);
      if (closed) return;
      let taken = 0;
      for (const event of read.events) {
        if (!("json" in event)) {
          // A large event, last of its read: taken with any room at all, written as room comes.
          if (sink.capacity() <= 0 || byteRoom() <= 0) break;
          await writePieces(event);
          if (closed) return;
          lastSeq = event.seq;
          taken++;
          continue;
        }
        // The reader's room may have changed while the page was read: what does not fit is read again later.
        if (sink.capacity() <= 0 || !fits(event.json.length)) break;
        sink.event(event, eventTypeOf(event.json));
        lastSeq = event.seq;
        taken++;
      }
      if (taken < read.events.length) return void (blocked = true);
      if (read.reachedEnd) lastSeq = Math.max(lastSeq, target);
    }
  };

  const close = () => {
    closed = true;
    stopListening();
  };

  const writePieces = async (event: ChunkedEvent) => {
    const first = await readEventChunk(log.storage, log.keys, event.seq, 0);
    // Gone since it was listed (retention): skipped, as a read skips what is gone.
    if (first === undefined || closed) return;
    await sink.pieces!(event.seq, eventTypeOf(first), chunksOf(log, event, first));
  };

  /** Set when catch-up stopped for want of room: only the reader (pull, ack) pumps again then. */
  let blocked = false;
  /** A pump asked for while one was running: the reader's room changed meanwhile. */
  let pumpAgain = false;

  const feed: Feed = {
    pump() {
      if (closed || live) return;
      if (pumping) return void (pumpAgain = true);
      pumping = true;
      blocked = false;
      pumpAgain = false;
      catchUp()
        .catch((error) => {
          logger.error("roomstore: feed failed", error);
          end("error", new RoomError("internal", "The room could not read its log."));
        })
        .finally(() => {
          pumping = false;
          // Capacity may have come back, or the feed fell behind, while it read.
          if (!closed && !live && sink.capacity() > 0 && (!blocked || pumpAgain)) feed.pump();
        });
    },
    close,
    get lastSeq() {
      return lastSeq;
    },
  };
  return feed;
};
