// An event feed over roomstore's WebSocket subscriptions: an async iterator (and `.each`) that
// grants the room credit only as the caller consumes, so nothing piles up in memory; it resumes
// after the last seq it saw when the socket reconnects or the room says `reset`.
import type { SelectorParams, ServerMessage } from "../party/protocol.ts";
import type { RoomClient, RoomEvent } from "./room.ts";

export type EventSelectors = SelectorParams & { types?: string[] };

export interface EventFeed extends AsyncIterable<RoomEvent> {
  /** Calls `handle` for each event, in order; resolves when the feed ends (`until`, `to`, close). */
  each(handle: (event: RoomEvent) => void | Promise<void>): Promise<void>;
  close(): void;
  /** The newest seq the feed has considered: it resumes after it. */
  readonly lastSeq: number;
  /** Resolves when history is delivered and the feed is live (or done). */
  readonly caughtUp: Promise<number>;
}

/** Events the room may send before the caller consumes any: the credit window. */
export const CREDIT_WINDOW = 256;

export const openSubscription = (client: RoomClient, selectors: EventSelectors): EventFeed => {
  const sid = crypto.randomUUID();
  const buffer: RoomEvent[] = [];
  const waiting: ((result: IteratorResult<RoomEvent>) => void)[] = [];
  let lastSeq = 0;
  let consumed = 0;
  let ended = false;
  let failure: Error | undefined;
  let markCaughtUp!: (seq: number) => void;
  const caughtUp = new Promise<number>((resolve) => (markCaughtUp = resolve));

  const subscribe = () => {
    if (ended) return;
    // After the first event or marker, resume after what was seen, keeping the end of the range.
    const resumed: EventSelectors = lastSeq > 0 ? { ...selectors, from: undefined, after: lastSeq } : selectors;
    const credit = CREDIT_WINDOW - buffer.length;
    consumed = 0;
    client.send({ t: "sub", sid, selectors: resumed, credit });
  };

  const finish = (error?: Error) => {
    if (ended) return;
    ended = true;
    failure = error;
    stopMessages();
    stopOpen();
    markCaughtUp(lastSeq);
    while (waiting.length > 0) settleNext();
  };

  const settleNext = () => {
    const next = waiting.shift()!;
    if (buffer.length > 0) {
      next(deliver(buffer.shift()!));
    } else {
      next({ done: true, value: undefined });
    }
  };

  const deliver = (event: RoomEvent): IteratorResult<RoomEvent> => {
    consumed++;
    // Grant more once half the window is consumed: the room never runs ahead of the caller.
    if (!ended && consumed >= CREDIT_WINDOW / 2) {
      client.send({ t: "ack", sid, credit: consumed });
      consumed = 0;
    }
    return { done: false, value: event };
  };

  const onMessage = (message: ServerMessage) => {
    if (!("sid" in message) || message.sid !== sid) return;
    if (message.t === "ev") {
      const event = message.e as RoomEvent;
      if (event.seq <= lastSeq) return;
      lastSeq = event.seq;
      if (waiting.length > 0) waiting.shift()!(deliver(event));
      else buffer.push(event);
    } else if (message.t === "caught-up") {
      lastSeq = Math.max(lastSeq, message.seq);
      markCaughtUp(message.seq);
    } else if (message.t === "end") {
      if (message.reason === "reset") subscribe();
      else finish(message.reason === "error" ? new Error(message.error?.message ?? "The subscription failed.") : undefined);
    } else if (message.t === "error") {
      finish(new Error(message.error.message));
    }
  };

  const stopMessages = client.onMessage(onMessage);
  const stopOpen = client.onOpen(subscribe);
  if (client.socket.readyState === WebSocket.OPEN) subscribe();

  const feed: EventFeed = {
    [Symbol.asyncIterator]: () => ({
      next: () =>
        new Promise<IteratorResult<RoomEvent>>((resolve, reject) => {
          if (buffer.length > 0) return resolve(deliver(buffer.shift()!));
          if (ended) return failure ? reject(failure) : resolve({ done: true, value: undefined });
          waiting.push(resolve);
        }),
      return: async () => {
        feed.close();
        return { done: true, value: undefined };
      },
    }),
    async each(handle) {
      for await (const event of feed) await handle(event);
    },
    close() {
      if (!ended) client.send({ t: "unsub", sid });
      finish();
    },
    get lastSeq() {
      return lastSeq;
    },
    caughtUp,
  };
  return feed;
};
