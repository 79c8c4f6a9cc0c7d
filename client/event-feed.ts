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

/** A feed's state: its subscription, what waits for the caller, and where it stands. */
interface FeedState {
  readonly link: FeedLink;
  readonly selectors: EventSelectors;
  readonly options: FeedOptions;
  /** Events the room may send ahead of the caller (the credit window). */
  readonly window: number;
  readonly sid: string;
  /** Events received, not yet taken: at most `window`. */
  readonly buffer: RoomEvent[];
  /** Callers waiting for an event, oldest first. */
  readonly waiting: Waiter[];
  lastSeq: number;
  /** Events consumed since credit was last granted. */
  consumed: number;
  /** The room ended the subscription for want of credit: subscribe again when the caller reads. */
  suspended: boolean;
  ended: boolean;
  failure?: Error;
  readonly markCaughtUp: (seq: number) => void;
  /** Set once the feed listens to the link. */
  stop?: () => void;
}

const subscribe = (feed: FeedState): void => {
  if (feed.ended) return;
  feed.suspended = false;
  // After anything was seen, resume after it; the end of the range (`to`, `until`) stays.
  const resumed: EventSelectors = feed.lastSeq > 0 ? { ...feed.selectors, from: undefined, after: feed.lastSeq } : feed.selectors;
  // Credit covers what the buffer can still take: buffered + in flight never exceeds the window.
  feed.consumed = 0;
  const message: ClientMessage = { t: "sub", sid: feed.sid, selectors: resumed, credit: feed.window - feed.buffer.length };
  const { timeoutMs } = feed.options;
  feed.link.send(timeoutMs === undefined ? message : { ...message, timeoutMs });
};

const finish = (feed: FeedState, error?: Error): void => {
  if (feed.ended) return;
  feed.ended = true;
  feed.failure = error;
  feed.stop?.();
  feed.markCaughtUp(feed.lastSeq);
  // Buffered events still go to waiting readers; the rest learn that the feed ended.
  while (feed.waiting.length > 0) {
    const waiter = feed.waiting.shift()!;
    if (feed.buffer.length > 0) waiter.resolve(take(feed));
    else if (feed.failure) waiter.reject(feed.failure);
    else waiter.resolve({ done: true, value: undefined });
  }
};

/** Hands one buffered event to the caller and grants credit once half the window is consumed. */
const take = (feed: FeedState): IteratorResult<RoomEvent> => {
  const event = feed.buffer.shift()!;
  feed.consumed++;
  if (!feed.ended && !feed.suspended && feed.consumed >= feed.window / 2) {
    feed.link.send({ t: "ack", sid: feed.sid, credit: feed.consumed });
    feed.consumed = 0;
  }
  return { done: false, value: event };
};

const onMessage = (feed: FeedState, message: ServerMessage): void => {
  if (!("sid" in message) || message.sid !== feed.sid) return;
  switch (message.t) {
    case "ev": {
      const event = message.e as RoomEvent;
      if (event.seq <= feed.lastSeq) return; // a resend overlapping what was seen
      feed.lastSeq = event.seq;
      feed.buffer.push(event);
      if (feed.waiting.length > 0) feed.waiting.shift()!.resolve(take(feed));
      return;
    }
    case "caught-up":
      feed.lastSeq = Math.max(feed.lastSeq, message.seq);
      feed.markCaughtUp(message.seq);
      return;
    case "end":
      if (message.reason === "reset") return subscribe(feed);
      if (message.reason === "timeout") return void (feed.suspended = true);
      return finish(feed, message.reason === "error" ? new Error(message.error?.message ?? "The subscription failed.") : undefined);
    case "error":
      return finish(feed, new Error(message.error.message));
  }
};

/** The next event: a buffered one, else one awaited (subscribing again after a `timeout`). */
const next = (feed: FeedState): Promise<IteratorResult<RoomEvent>> =>
  new Promise<IteratorResult<RoomEvent>>((resolve, reject) => {
    if (feed.buffer.length > 0) return resolve(take(feed));
    if (feed.ended) return feed.failure ? reject(feed.failure) : resolve({ done: true, value: undefined });
    if (feed.suspended && feed.link.isOpen) subscribe(feed);
    feed.waiting.push({ resolve, reject });
  });

const close = (feed: FeedState): void => {
  if (feed.ended) return;
  if (feed.link.isOpen) feed.link.send({ t: "unsub", sid: feed.sid });
  feed.buffer.length = 0;
  finish(feed);
};

export const openFeed = (link: FeedLink, selectors: EventSelectors, options: FeedOptions = {}): EventFeed => {
  let markCaughtUp!: (seq: number) => void;
  const caughtUp = new Promise<number>((resolve) => (markCaughtUp = resolve));
  const state: FeedState = {
    link,
    selectors,
    options,
    window: options.window ?? CREDIT_WINDOW,
    sid: newId(),
    buffer: [],
    waiting: [],
    lastSeq: 0,
    consumed: 0,
    suspended: false,
    ended: false,
    markCaughtUp,
  };
  const stopMessages = link.onMessage((message) => onMessage(state, message));
  const stopOpen = link.onOpen(() => subscribe(state));
  state.stop = () => {
    stopMessages();
    stopOpen();
  };
  if (link.isOpen) subscribe(state);
  const feed: EventFeed = {
    [Symbol.asyncIterator]: () => ({
      next: () => next(state),
      // `break` or a throw in `for await`: stop the subscription.
      return: async () => {
        close(state);
        return { done: true, value: undefined };
      },
    }),
    async each(handle) {
      for await (const event of feed) await handle(event);
    },
    close: () => close(state),
    get lastSeq() {
      return state.lastSeq;
    },
    caughtUp,
  };
  return feed;
};
