// For readers with no socket: the store snapshot (with its ETag), pages of events, and an SSE tail.
import { DEFAULT_EVENTS_PATH, DEFAULT_STORE_PATH, etagOf, parseEtag, PARTY_NAME } from "../party/protocol.ts";
import type { RoomEvent } from "./room.ts";
import type { EventSelectors } from "./subscription.ts";

export interface HttpOptions {
  host: string;
  room: string;
  party?: string;
  /** `https` by default; `http` for a local server. */
  protocol?: "http" | "https";
  storePath?: string;
  eventsPath?: string;
  /** Sent as `Authorization: Bearer` when the room needs a token. */
  token?: string;
}

export const roomUrl = (options: HttpOptions, path: string) =>
  `${options.protocol ?? "https"}://${options.host}/parties/${options.party ?? PARTY_NAME}/${encodeURIComponent(options.room)}${path}`;

const headersOf = (options: HttpOptions, extra: Record<string, string> = {}) =>
  options.token ? { ...extra, Authorization: `Bearer ${options.token}` } : extra;

const failed = async (response: Response) => {
  const body = (await response.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
  return new Error(`${response.status}: ${body?.error?.message ?? response.statusText}`);
};

export interface Snapshot {
  /** `[tables, values]` as the room keeps them; undefined while the room has no store. */
  content?: [Record<string, unknown>, Record<string, unknown>];
  /** The log position the snapshot reflects. */
  seq: number;
  /** False when `ifNoneMatch` was current: nothing was sent. */
  modified: boolean;
}

/** The whole store; with `ifNoneMatch` (a seq), a 304 comes back as `modified: false`. */
export const getSnapshot = async (options: HttpOptions, ifNoneMatch?: number): Promise<Snapshot> => {
  const extra: Record<string, string> = ifNoneMatch === undefined ? {} : { "If-None-Match": etagOf(ifNoneMatch) };
  const response = await fetch(roomUrl(options, options.storePath ?? DEFAULT_STORE_PATH), { headers: headersOf(options, extra), cache: "no-store" });
  const seq = parseEtag(response.headers.get("ETag")) ?? 0;
  if (response.status === 304) return { seq, modified: false };
  if (!response.ok) throw await failed(response);
  const text = await response.text();
  return { content: text === "" ? undefined : JSON.parse(text), seq, modified: true };
};

/** The first save of a room's store: true when it created it, false when a store existed. */
export const putSnapshot = async (options: HttpOptions, content: unknown): Promise<boolean> => {
  const response = await fetch(roomUrl(options, options.storePath ?? DEFAULT_STORE_PATH), {
    method: "PUT",
    body: JSON.stringify(content),
    headers: headersOf(options, { "Content-Type": "application/json" }),
  });
  if (response.status === 201) return true;
  if (response.status === 205) return false;
  throw await failed(response);
};

const toQuery = (selectors: EventSelectors & { limit?: number }) => {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(selectors)) {
    if (value !== undefined) params.set(name, Array.isArray(value) ? value.join(",") : String(value));
  }
  return params;
};

/** Every event the selectors choose, page by page; stops at the head unless `until`/`to` say more. */
export async function* readEvents(options: HttpOptions, selectors: EventSelectors & { limit?: number } = {}): AsyncGenerator<RoomEvent> {
  const query = toQuery({ until: "caught-up", ...selectors });
  for (;;) {
    const response = await fetch(`${roomUrl(options, options.eventsPath ?? DEFAULT_EVENTS_PATH)}?${query}`, { headers: headersOf(options) });
    if (!response.ok) throw await failed(response);
    const page = (await response.json()) as { events: RoomEvent[]; next: number | null };
    yield* page.events;
    if (page.next === null) return;
    query.delete("from");
    query.set("after", String(page.next));
  }
}

/** The shape of the EventSource constructor: the browser's, or the `eventsource` package in Node. */
export type EventSourceConstructor = new (url: string) => EventSource;

/**
 * A live SSE tail: `onEvent` for every event (history first unless `after: "past-events"`).
 * Pass `token` only where cookies or a proxy cannot carry it: it goes into the URL.
 */
export const tailEvents = (
  options: HttpOptions & { EventSource?: EventSourceConstructor; snapshot?: boolean },
  selectors: EventSelectors,
  onEvent: (event: RoomEvent) => void,
): { close(): void; source: EventSource } => {
  const Source = options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
  if (!Source) throw new Error("No EventSource here: pass one (e.g. the `eventsource` package) as options.EventSource.");
  const query = toQuery(selectors);
  if (options.token) query.set("token", options.token);
  const source = new Source(`${roomUrl(options, options.eventsPath ?? DEFAULT_EVENTS_PATH)}?${query}`);
  // Every non-marker record is an event: listen to `message` too, for types named nowhere else.
  const handle = (event: MessageEvent) => onEvent(JSON.parse(event.data) as RoomEvent);
  const known = new Set<string>();
  const listenFor = (type: string) => {
    if (known.has(type) || type === "caught-up" || type === "snapshot") return;
    known.add(type);
    source.addEventListener(type, handle as EventListener);
  };
  for (const type of selectors.types ?? []) listenFor(type);
  source.addEventListener("message", handle as EventListener);
  return { close: () => source.close(), source };
};
