// For readers with no socket: the store snapshot (with its ETag), the first save of a store, and
// pages of events. Same addressing as PartySocket (host, room, party, query), so a token passed as
// `token` (or `query: { token }`) opens HTTP routes as it opens the socket.
import {
  AT_PARAM,
  DEFAULT_EVENTS_PATH,
  DEFAULT_STORE_PATH,
  etagOf,
  parseEtag,
  PARTY_NAME,
  RESTORE_PATH,
  roomSegment,
  type RestoreResult,
  type ErrorBody,
  type ErrorCode,
  type RoomEvent,
  type SelectorParams,
} from "../party/protocol.ts";
import { decodeContent, encodeContent, isTablesAndValues, type Content } from "./tinybase-encoding.ts";
import { resolveToken, type TokenSource } from "./token.ts";

type Params = Record<string, string | null | undefined>;

export interface HttpOptions {
  host: string;
  /** The room's name as it is, e.g. `"a/b"`: URLs carry it percent-encoded (protocol.ts, roomSegment). */
  room: string;
  /** Default `main`. */
  party?: string;
  /** Default as PartySocket's: `http` for localhost and private addresses, else `https`. */
  protocol?: "http" | "https";
  /** Query parameters on every request; a function is called per request. */
  query?: Params | (() => Params | Promise<Params>);
  /** The token, sent as the `token` parameter: a string, or a function called per request for a fresh one. */
  token?: TokenSource;
  /** Extra request headers, e.g. `Authorization: Bearer …` (not for EventSource, which has none). */
  headers?: Record<string, string>;
  storePath?: string;
  eventsPath?: string;
  fetch?: typeof fetch;
}

/** Selectors of `GET {eventsPath}` (see party/protocol.ts): stream, types, from/after, to/until. */
export type EventSelectors = SelectorParams;

/** An HTTP answer the room refused, with the room's error code. */
export class RoomHttpError extends Error {
  readonly status: number;
  readonly code: ErrorCode | undefined;
  constructor(status: number, body: Partial<ErrorBody> | undefined) {
    super(`${status}: ${body?.error?.message ?? "request failed"}`);
    this.name = "RoomHttpError";
    this.status = status;
    this.code = body?.error?.code;
  }
}

/** Hosts PartySocket 1.3 (getPartyInfo) reaches without TLS by default; kept identical so both agree. */
const isPlainHost = (host: string): boolean => {
  const [first, second] = host.split(".");
  return (
    host.startsWith("localhost:") ||
    host.startsWith("127.0.0.1:") ||
    host.startsWith("192.168.") ||
    host.startsWith("10.") ||
    (first === "172" && second >= "16" && second <= "31") ||
    host.startsWith("[::ffff:7f00:1]:")
  );
};

const resolveQuery = async (query: HttpOptions["query"]): Promise<Params> => (typeof query === "function" ? await query() : (query ?? {}));

/** The query parameters of every request: the options' `query`, and `token` when one is given. */
export const requestQuery = async ({ query, token }: Pick<HttpOptions, "query" | "token">): Promise<Params> => ({
  ...(await resolveQuery(query)),
  ...(token === undefined ? {} : { token: await resolveToken(token) }),
});

/** The URL of a room resource, with the options' query and `params` (undefined ones left out). */
export const roomUrl = async (options: HttpOptions, path: string, params: Params = {}): Promise<string> => {
  const host = options.host.replace(/^(https?|wss?):\/\//, "").replace(/\/$/, "");
  const protocol = options.protocol ?? (isPlainHost(host) ? "http" : "https");
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...(await requestQuery(options)), ...params })) {
    if (value !== undefined && value !== null) query.set(name, value);
  }
  const search = query.size > 0 ? `?${query}` : "";
  return `${protocol}://${host}/parties/${options.party ?? PARTY_NAME}/${roomSegment(options.room)}${path}${search}`;
};

/** Selectors as query parameters; `types` as a comma-separated list. */
export const selectorParams = (selectors: EventSelectors & { limit?: number }): Params =>
  Object.fromEntries(
    Object.entries(selectors)
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => [name, Array.isArray(value) ? value.join(",") : String(value)]),
  );

const request = async (options: HttpOptions, url: string, init: RequestInit = {}): Promise<Response> =>
  (options.fetch ?? fetch)(url, { ...init, headers: { ...options.headers, ...(init.headers as Record<string, string>) } });

/** The error of a failed answer, from its JSON body `{error:{code,message}}` when it has one. */
export const failed = async (response: Response): Promise<RoomHttpError> =>
  new RoomHttpError(response.status, (await response.json().catch(() => undefined)) as Partial<ErrorBody> | undefined);

export interface Snapshot {
  /** `[tables, values]` for TinyBase's `setContent`; undefined while the room has no store. */
  content?: Content;
  /** The log position the snapshot reflects (its ETag). */
  seq: number;
  /** False when `ifNoneMatch` was still current: nothing was sent. */
  modified: boolean;
}

/**
 * The whole store. With `ifNoneMatch` (a seq from an earlier snapshot), a 304 is `modified: false`.
 * With `at`, the store as it was right after that log position (`seq`: the last `$store` event then).
 */
export const getSnapshot = async (options: HttpOptions, { ifNoneMatch, at }: { ifNoneMatch?: number; at?: number } = {}): Promise<Snapshot> => {
  const url = await roomUrl(options, options.storePath ?? DEFAULT_STORE_PATH, at === undefined ? {} : { [AT_PARAM]: String(at) });
  const headers: Record<string, string> = ifNoneMatch === undefined ? {} : { "If-None-Match": etagOf(ifNoneMatch) };
  const response = await request(options, url, { headers, cache: "no-store" });
  const seq = parseEtag(response.headers.get("ETag")) ?? 0;
  if (response.status === 304) return { seq, modified: false };
  if (!response.ok) throw await failed(response);
  const text = await response.text();
  if (text === "") return { seq, modified: true }; // TinyBase's protocol: an empty body is "no store yet"
  const content: unknown = JSON.parse(text);
  if (!isTablesAndValues(content)) throw new Error("The room answered with something that is not TinyBase content.");
  return { content: decodeContent([content[0], content[1]]), seq, modified: true };
};

/** The first save of a room's store: true when this created it, false when one existed (205). */
export const putSnapshot = async (options: HttpOptions, content: Content): Promise<boolean> => {
  const url = await roomUrl(options, options.storePath ?? DEFAULT_STORE_PATH);
  const body = JSON.stringify(encodeContent(content));
  const response = await request(options, url, { method: "PUT", body, headers: { "Content-Type": "application/json" } });
  if (response.status === 201) return true;
  if (response.status === 205) return false;
  throw await failed(response);
};

/** `POST {room}/restore`: the store becomes what it was right after log position `at`, as one `$replace`. */
export const restoreStore = async (options: HttpOptions, at: number, { ifMatch }: { ifMatch?: number } = {}): Promise<RestoreResult> => {
  const url = await roomUrl(options, RESTORE_PATH);
  const headers: Record<string, string> = { "Content-Type": "application/json", ...(ifMatch === undefined ? {} : { "If-Match": etagOf(ifMatch) }) };
  const response = await request(options, url, { method: "POST", body: JSON.stringify({ at }), headers });
  if (!response.ok) throw await failed(response);
  return (await response.json()) as RestoreResult;
};

export interface EventPage {
  events: RoomEvent[];
  next: number | null;
  head: number;
}

/** One page of `GET {eventsPath}`. */
export const readEventPage = async (options: HttpOptions, selectors: EventSelectors & { limit?: number } = {}): Promise<EventPage> => {
  const url = await roomUrl(options, options.eventsPath ?? DEFAULT_EVENTS_PATH, selectorParams(selectors));
  const response = await request(options, url);
  if (!response.ok) throw await failed(response);
  const page = (await response.json()) as Partial<EventPage>;
  if (!Array.isArray(page.events) || typeof page.head !== "number") throw new Error("The room answered with something that is not a page of events.");
  return { events: page.events, next: page.next ?? null, head: page.head };
};

/**
 * Every event the selectors choose, page by page (`limit` per page), in seq order. With neither
 * `to` nor `until` it stops at the head as it was at the first page (`until: "caught-up"`).
 */
export async function* readEvents(options: HttpOptions, selectors: EventSelectors & { limit?: number } = {}): AsyncGenerator<RoomEvent> {
  let current = selectors.to === undefined && selectors.until === undefined ? { ...selectors, until: "caught-up" as const } : selectors;
  for (;;) {
    const page = await readEventPage(options, current);
    yield* page.events;
    if (page.next === null) return;
    // `caught-up` is pinned to the head of each read: pin it to the first one, so the read ends.
    current = { ...current, from: undefined, after: page.next, ...(current.until === "caught-up" ? { until: undefined, to: page.head } : {}) };
  }
}
