// An event feed over the room's WebSocket subscriptions (party/core/live/subscriptions.ts): an async
// iterator, and `.each`, over history, the caught-up marker, then live events.
// Flow control: the room never sends more than the credit granted; the feed grants credit only as
// the caller consumes, so at most `window` events wait in memory (the buffer's bound).
// Resuming: the feed keeps the newest seq it has seen (events and the caught-up marker) and
// subscribes again after it when the socket reconnects, when the room says `reset` (it woke from
// hibernation without the subscription), or when the caller comes back after a `timeout`.
import type { ClientMessage, RoomEvent, SelectorParams, ServerMessage } from "../party/protocol.ts";
import { newId } from "./ids.ts";

export type EventSelectors = SelectorParams;

/** What a feed needs from the room connection. */
export interface FeedLink {
  send(message: ClientMessage): void;
  onMessage(listener: (message: ServerMessage) => void): () => void;
  onOpen(listener: () => void): () => void;
  readonly isOpen: boolean;
}

export interface FeedOptions {
  /** Events the room may send ahead of the caller (the credit window). */
  window?: number;
  /** How long the room keeps a subscription that has no credit while events wait (ms). */
  timeoutMs?: number;
}

export interface EventFeed extends AsyncIterable<RoomEvent> {
  /** Calls `handle` for each event in order, awaiting it; resolves when the feed ends. */
  each(handle: (event: RoomEvent) => void | Promise<void>): Promise<void>;
  /** Ends the feed; events not yet consumed are dropped. */
  close(): void;
  /** The newest seq the feed has seen; it resumes after it. */
  readonly lastSeq: number;
  /** Resolves with the head when history is delivered and the feed is live (or when it ends). */
  readonly caughtUp: Promise<number>;
}

/** Default credit window: events in flight or buffered, per feed. */
export const CREDIT_WINDOW = 256;

type Waiter = { resolve: (result: IteratorResult<RoomEvent>) => void; reject: (error: Error) => void };

export const openFeed = (link: FeedLink, selectors: EventSelectors, options: FeedOptions = {}): EventFeed => {
  const window = options.window ?? CREDIT_WINDOW;
  const sid = newId();
  const buffer: RoomEvent[] = [];
  const waiting: Waiter[] = [];
  let lastSeq = 0;
  /** Events consumed since credit was last granted. */
  let consumed = 0;
  /** The room ended the subscription for want of credit: subscribe again when the caller reads. */
  let suspended = false;
  let ended = false;
  let failure: Error | undefined;
  let markCaughtUp!: (seq: number) => void;
  const caughtUp = new Promise<number>((resolve) => (markCaughtUp = resolve));

  const subscribe = () => {
    if (ended) return;
    suspended = false;
    // After anything was seen, resume after it; the end of the range (`to`, `until`) stays.
    const resumed: EventSelectors = lastSeq > 0 ? { ...selectors, from: undefined, after: lastSeq } : selectors;
    // Credit covers what the buffer can still take: buffered + in flight never exceeds the window.
    consumed = 0;
    const message: ClientMessage = { t: "sub", sid, selectors: resumed, credit: window - buffer.length };
    link.send(options.timeoutMs === undefined ? message : { ...message, timeoutMs: options.timeoutMs });
  };

  const finish = (error?: Error) => {
    if (ended) return;
    ended = true;
    failure = error;
    stopMessages();
    stopOpen();
    markCaughtUp(lastSeq);
    // Buffered events still go to waiting readers; the rest learn that the feed ended.
    while (waiting.length > 0) {
      const waiter = waiting.shift()!;
      if (buffer.length > 0) waiter.resolve(take());
      else if (failure) waiter.reject(failure);
      else waiter.resolve({ done: true, value: undefined });
    }
  };

  /** Hands one buffered event to the caller and grants credit once half the window is consumed. */
  const take = (): IteratorResult<RoomEvent> => {
    const event = buffer.shift()!;
    consumed++;
    if (!ended && !suspended && consumed >= window / 2) {
      link.send({ t: "ack", sid, credit: consumed });
      consumed = 0;
    }
    return { done: false, value: event };
  };

  const onMessage = (message: ServerMessage) => {
    if (!("sid" in message) || message.sid !== sid) return;
    switch (message.t) {
      case "ev": {
        const event = message.e as RoomEvent;
        if (event.seq <= lastSeq) return; // a resend overlapping what was seen
        lastSeq = event.seq;
        buffer.push(event);
        if (waiting.length > 0) waiting.shift()!.resolve(take());
        return;
      }
      case "caught-up":
        lastSeq = Math.max(lastSeq, message.seq);
        markCaughtUp(message.seq);
        return;
      case "end":
        if (message.reason === "reset") return subscribe();
        if (message.reason === "timeout") return void (suspended = true);
        return finish(message.reason === "error" ? new Error(message.error?.message ?? "The subscription failed.") : undefined);
      case "error":
        return finish(new Error(message.error.message));
    }
  };

  const stopMessages = link.onMessage(onMessage);
  const stopOpen = link.onOpen(subscribe);
  if (link.isOpen) subscribe();

  const next = () =>
    new Promise<IteratorResult<RoomEvent>>((resolve, reject) => {
      if (buffer.length > 0) return resolve(take());
      if (ended) return failure ? reject(failure) : resolve({ done: true, value: undefined });
      if (suspended && link.isOpen) subscribe();
      waiting.push({ resolve, reject });
    });

  const feed: EventFeed = {
    [Symbol.asyncIterator]: () => ({
      next,
      // `break` or a throw in `for await`: stop the subscription.
      return: async () => {
        feed.close();
        return { done: true, value: undefined };
      },
    }),
    async each(handle) {
      for await (const event of feed) await handle(event);
    },
    close() {
      if (ended) return;
      if (link.isOpen) link.send({ t: "unsub", sid });
      buffer.length = 0;
      finish();
    },
    get lastSeq() {
      return lastSeq;
    },
    caughtUp,
  };
  return feed;
};
