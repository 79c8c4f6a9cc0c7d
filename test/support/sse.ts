// Two ways to read a room's Server-Sent Events in tests:
// - `listen`: the real `eventsource` package (v5), as an app would, recording every record it
//   dispatches; EventSource reconnects on its own after the server closes the stream.
// - `openSseStream`: a plain `fetch` whose body is parsed record by record, for what EventSource
//   hides: the server ending the stream, and exact request headers.
import { EventSource, type EventSourceFetchInit } from "eventsource";

export interface SseRecord {
  /** The `id:` field; "" when the record had none (EventSource would keep the previous one). */
  id: string;
  /** The `event:` field (`message` when absent). */
  type: string;
  /** The `data:` lines, joined with "\n". */
  data: string;
}

export interface Received {
  id: string;
  type: string;
  data: any;
}

export interface Listener {
  source: EventSource;
  /** Every record dispatched to the listened types, in order, data parsed as JSON. */
  received: Received[];
  /** Seqs of the log events received (neither caught-up nor snapshot). */
  seqs(): number[];
  /** `Last-Event-ID` of each request EventSource made (undefined when it sent none). */
  lastEventIds: (string | undefined)[];
  close(): void;
}

const MARKERS = ["caught-up", "snapshot"];

/**
 * An EventSource on `url` that records the room's markers and the given event types (EventSource
 * dispatches records by their `event:` name, so types must be named).
 */
export const listen = (url: string, types: string[] = []): Listener => {
  const lastEventIds: (string | undefined)[] = [];
  const source = new EventSource(url, {
    fetch: (input: string | URL, init: EventSourceFetchInit) => {
      lastEventIds.push(new Headers(init.headers).get("Last-Event-ID") ?? undefined);
      return fetch(input, init as RequestInit);
    },
  });
  const received: Received[] = [];
  for (const type of [...MARKERS, ...types]) {
    source.addEventListener(type, (event) => received.push({ id: event.lastEventId, type, data: JSON.parse(event.data) }));
  }
  return {
    source,
    received,
    seqs: () => received.filter((event) => !MARKERS.includes(event.type)).map((event) => event.data.seq as number),
    lastEventIds,
    close: () => source.close(),
  };
};

export interface SseStream {
  response: Response;
  /** Records parsed so far. */
  records: SseRecord[];
  /** `retry:` values seen so far. */
  retry: string[];
  /** Resolves when the server ends the stream (or it fails); true if it ended cleanly. */
  ended: Promise<boolean>;
  close(): void;
}

/** GET with `Accept: text/event-stream` and extra headers; parses the body as it arrives. */
export const openSseStream = async (url: string, headers: Record<string, string> = {}): Promise<SseStream> => {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { Accept: "text/event-stream", ...headers }, signal: abort.signal });
  const records: SseRecord[] = [];
  const retry: string[] = [];
  const parser = createSseParser(records, retry);
  const ended = (async () => {
    if (!response.body) return true;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) parser(decoder.decode(chunk, { stream: true }));
      return true;
    } catch {
      return false;
    }
  })();
  return { response, records, retry, ended, close: () => abort.abort() };
};

/** An incremental parser of the SSE format (WHATWG HTML, "Server-sent events", §9.2.6). */
const createSseParser = (records: SseRecord[], retry: string[]) => {
  let buffer = "";
  let record = { id: "", type: "", data: [] as string[] };
  return (text: string) => {
    buffer += text;
    let lineEnd: RegExpExecArray | null;
    while ((lineEnd = /\r\n|\r|\n/.exec(buffer))) {
      // A lone CR at the end of the buffer may be the first half of CRLF: wait for more.
      if (lineEnd[0] === "\r" && lineEnd.index === buffer.length - 1) break;
      const line = buffer.slice(0, lineEnd.index);
      buffer = buffer.slice(lineEnd.index + lineEnd[0].length);
      if (line === "") {
        if (record.data.length > 0) records.push({ id: record.id, type: record.type || "message", data: record.data.join("\n") });
        record = { id: "", type: "", data: [] };
        continue;
      }
      if (line.startsWith(":")) continue; // a comment, e.g. a heartbeat
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "data") record.data.push(value);
      else if (field === "event") record.type = value;
      else if (field === "id") record.id = value;
      else if (field === "retry") retry.push(value);
    }
  };
};
