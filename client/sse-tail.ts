// A live tail over Server-Sent Events, for readers with no socket. EventSource reconnects by
// itself and sends `Last-Event-ID`, which the room resumes after, so the tail has no gap.
// EventSource dispatches each record by its `event:` name and has no wildcard; the room names
// every event record by its type, so a tail listens for the types it is given. The room ends a
// stream at its signed token's `exp` with an error record (`unauthorized`): a tail whose `token` is
// a function opens a new one with a fresh token, after the last event it saw.
import { DEFAULT_EVENTS_PATH, SSE_CAUGHT_UP, SSE_ERROR, SSE_SNAPSHOT, type RoomEvent } from "../party/protocol.ts";
import { roomUrl, selectorParams, type EventSelectors, type HttpOptions } from "./http.ts";
import { decodeContent, isTablesAndValues, type Content } from "./tinybase-encoding.ts";

/** The EventSource constructor: the browser's, or the `eventsource` package's in Node. */
export type EventSourceConstructor = new (url: string) => EventSource;

/** `EventSource.CLOSED`: the source gave up and will not reconnect. */
const EVENT_SOURCE_CLOSED = 2;

export interface TailOptions extends HttpOptions {
  /** Default: `globalThis.EventSource` (browsers; Node has none). */
  EventSource?: EventSourceConstructor;
  /** First the store as it is (`snapshot=1`), then only events after it. */
  onSnapshot?: (snapshot: { seq: number; content?: Content }) => void;
  onCaughtUp?: (seq: number) => void;
  /** The room ended the tail with an error, or the URL cannot be opened. */
  onError?: (error: Error) => void;
}

export interface Tail {
  close(): void;
  /** Resolves when the tail ends: `close()`, the end of a closed range, or an error. */
  readonly closed: Promise<void>;
}

type TailSelectors = Omit<EventSelectors, "types"> & { types: string[] };

/** One tail's state, which the functions below share. */
interface TailState {
  readonly options: TailOptions;
  readonly selectors: TailSelectors;
  readonly onEvent: (event: RoomEvent) => void;
  readonly Source: EventSourceConstructor;
  source: EventSource | undefined;
  caughtUp: boolean;
  stopped: boolean;
  /** The seq up to which this tail has everything its selectors choose (an event's, the snapshot's, the caught-up marker's). */
  seen: number | undefined;
  markClosed: () => void;
}

const stop = (tail: TailState) => {
  tail.stopped = true;
  tail.source?.close();
  tail.markClosed();
};

const fail = (tail: TailState, error: Error) => {
  stop(tail);
  tail.options.onError?.(error);
};

const parse = (event: Event): unknown => JSON.parse((event as MessageEvent).data as string);
const see = (tail: TailState, seq: number) => void (tail.seen = Math.max(tail.seen ?? seq, seq));

/** The stream's URL: from the start, or, on a reopen, after what was seen. */
const urlOf = ({ options, selectors, seen }: TailState) =>
  roomUrl(options, options.eventsPath ?? DEFAULT_EVENTS_PATH, {
    ...selectorParams(seen === undefined ? selectors : { ...selectors, from: undefined, after: seen }),
    ...(options.onSnapshot && seen === undefined ? { snapshot: "1" } : {}),
  });

const reopen = (tail: TailState) => void urlOf(tail).then((url) => open(tail, url), (error: Error) => fail(tail, error));

/** A record named `error` carries the room's reason; EventSource's own error event has no data. */
const onError = (tail: TailState, events: EventSource, event: Event) => {
  const data: unknown = (event as MessageEvent).data;
  if (typeof data === "string") {
    const { error } = parse(event) as { error?: { code?: string; message?: string } };
    if (error?.code === "unauthorized" && typeof tail.options.token === "function") {
      events.close();
      return reopen(tail);
    }
    return fail(tail, new Error(error?.message ?? "The tail failed."));
  }
  // The room closes a closed range after its end; anything else, EventSource retries (a
  // transient failure after the marker of a closed range ends the tail too: it cannot tell).
  const closedRange = tail.selectors.to !== undefined || tail.selectors.until !== undefined;
  if ((closedRange && tail.caughtUp) || events.readyState === EVENT_SOURCE_CLOSED) stop(tail);
};

const open = (tail: TailState, url: string) => {
  if (tail.stopped) return;
  const { options, selectors } = tail;
  const events = (tail.source = new tail.Source(url));
  const onRecord = (event: Event) => {
    const roomEvent = parse(event) as RoomEvent;
    see(tail, roomEvent.seq);
    tail.onEvent(roomEvent);
  };
  for (const type of new Set(selectors.types)) {
    if (type !== SSE_CAUGHT_UP && type !== SSE_SNAPSHOT && type !== SSE_ERROR) events.addEventListener(type, onRecord);
  }
  events.addEventListener(SSE_CAUGHT_UP, (event) => {
    tail.caughtUp = true;
    const { seq } = parse(event) as { seq: number };
    see(tail, seq);
    options.onCaughtUp?.(seq);
    if (selectors.until === "caught-up") stop(tail);
  });
  events.addEventListener(SSE_SNAPSHOT, (event) => {
    const { seq, content } = parse(event) as { seq: number; content: unknown };
    see(tail, seq);
    options.onSnapshot?.({ seq, content: isTablesAndValues(content) ? decodeContent([content[0], content[1]]) : undefined });
  });
  events.addEventListener(SSE_ERROR, (event) => onError(tail, events, event));
};

/**
 * Calls `onEvent` for every event of `types` the selectors choose: history, then live. A range
 * with `to`/`until` ends after its last event; an open one goes on until `close()`.
 */
export const tailEvents = (options: TailOptions, selectors: TailSelectors, onEvent: (event: RoomEvent) => void): Tail => {
  const Source = options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
  if (!Source) throw new TypeError("No EventSource here: pass one as options.EventSource (in Node, the `eventsource` package).");
  if (!Array.isArray(selectors.types) || selectors.types.length === 0) {
    throw new TypeError("EventSource delivers records by name: list the event types to tail in selectors.types.");
  }
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const tail: TailState = { options, selectors, onEvent, Source, source: undefined, caughtUp: false, stopped: false, seen: undefined, markClosed };
  reopen(tail);
  return { close: () => stop(tail), closed };
};
