// A room by name over one PartySocket, which owns reconnecting. On top of it: acknowledged writes
// (appends and changesets carry a message id, `mid`; each stays pending until the room answers
// `ok` or `nack`, and is sent again on every reconnect; the room applies a mid once), event feeds
// with flow control, and TinyBase store sync. Frames and message kinds come from the protocol
// module shared with the server. A `token` function gives every (re)connection a fresh token, and
// the socket a fresh one before a signed token expires (token.ts). Presence rides the same socket
// (presence.ts).
import { PartySocket, type PartySocketOptions } from "partysocket";
import {
  decodeFrame,
  encodeFrame,
  exceedsBytes,
  MAX_FRAME_BYTES,
  PARTY_NAME,
  ROOM_MESSAGE,
  roomSegment,
  SET_CHANGES,
  type ClientMessage,
  type ErrorBody,
  type ErrorCode,
  type EventInput,
  type RoomEvent,
  type ServerMessage,
} from "../party/protocol.ts";
import { openFeed, type EventFeed, type EventSelectors, type FeedLink, type FeedOptions } from "./event-feed.ts";
import { requestQuery, type HttpOptions } from "./http.ts";
import { newId } from "./ids.ts";
import { createRoomPresence, type RoomPresence } from "./presence.ts";
import { syncStore, type StoreLike, type StoreSync, type StoreSyncOptions } from "./store-sync.ts";
import { createTokenRefresh, type TokenSource } from "./token.ts";

/** PartySocket's options (host, room, party, query, protocol, reconnect timings…), plus the room's config. */
export interface RoomOptions extends Omit<PartySocketOptions, "room" | "path" | "basePath" | "prefix"> {
  /** The room's name as it is, e.g. `"a/b"`; the socket's and the readers' URLs carry it percent-encoded. */
  room: string;
  /** The room's `messagePrefix`, when it is configured (TinyBase's name). */
  messagePrefix?: string;
  storePath?: string;
  eventsPath?: string;
  /** The fetch HTTP reads and the store sync use (default: the global one). */
  fetch?: typeof fetch;
  /**
   * The token (the `token` query parameter): a string, or a function returning one (or a promise of
   * one), called for every connection and HTTP request, and before a signed token expires.
   */
  token?: TokenSource;
}

/** A write the room refused; `code` is one of the protocol's error codes. */
export class RoomRejection extends Error {
  readonly code: ErrorCode;
  constructor(body: ErrorBody) {
    super(body.error.message);
    this.name = "RoomRejection";
    this.code = body.error.code;
  }
}

/** Unacknowledged writes one room keeps (offline, they wait here): past it, writes fail at once. */
export const MAX_PENDING_WRITES = 10_000;

type Ok = Extract<ServerMessage, { t: "ok" }>;
type Write = Extract<ClientMessage, { mid: string }>;

export interface Room {
  readonly socket: PartySocket;
  /** The same room for HTTP readers (getSnapshot, readEvents, tailEvents). */
  readonly http: HttpOptions;
  /** Appends events, all or nothing; resolves with their seqs. Resent after reconnects, applied once. */
  append(events: EventInput[], options?: { ifMatch?: number }): Promise<number[]>;
  /** `room.stream("orders").event("paid", data).append()` resolves with the stored seq. */
  stream(name: string): { event(type: string, data?: unknown, extra?: Pick<EventInput, "id" | "tz">): { append(): Promise<number> } };
  /** Events chosen by selectors: history, then live unless `until`/`to` ends the range. */
  events(selectors?: EventSelectors, options?: FeedOptions): EventFeed;
  /** This connection's presence state and everyone else's (presence.ts). */
  readonly presence: RoomPresence;
  /** Keeps a TinyBase store in sync with the room's (see store-sync.ts). */
  syncStore(store: StoreLike, options?: StoreSyncOptions): StoreSync;
  /** Sends a changeset in TinyBase's wire encoding as an acknowledged write; resolves with its seq. */
  sendChanges(changes: unknown, mid?: string): Promise<number | null>;
  /** Every roomstore message and every TinyBase changeset frame (parsed), as they arrive. */
  onMessage(listener: (message: ServerMessage) => void): () => void;
  onChangesFrame(listener: (changes: unknown) => void): () => void;
  /** After every (re)connection, before pending writes are sent again. */
  onOpen(listener: () => void): () => void;
  /** Writes sent and not yet answered. */
  readonly pendingWrites: number;
  /** True after `close()`: the socket stays closed and writes fail. */
  readonly closed: boolean;
  close(): void;
}

const isServerMessage = (thing: unknown): thing is ServerMessage =>
  typeof thing === "object" && thing !== null && typeof (thing as { t?: unknown }).t === "string";

const parseOrUndefined = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const listen = <T>(set: Set<T>, listener: T) => {
  set.add(listener);
  return () => void set.delete(listener);
};

/** A room's state: its socket, the writes waiting for an answer, the listeners, and whether it was closed. */
interface RoomState {
  readonly prefix: string;
  readonly socket: PartySocket;
  readonly tokens?: ReturnType<typeof createTokenRefresh>;
  /** Writes sent and not yet answered, by mid: sent again on every reconnect. */
  readonly pending: Map<string, { message: Write; resolve: (ok: Ok) => void; reject: (error: Error) => void }>;
  readonly messageListeners: Set<(message: ServerMessage) => void>;
  readonly changesListeners: Set<(changes: unknown) => void>;
  readonly openListeners: Set<() => void>;
  closed: boolean;
}

const isOpen = (socket: PartySocket): boolean => socket.readyState === socket.OPEN;

// Sent only while open: PartySocket would queue the rest and flush it on open, but pending
// writes are sent again on open anyway and feeds subscribe afresh.
const send = (state: RoomState, message: ClientMessage): void => {
  if (isOpen(state.socket)) state.socket.send(encodeFrame(state.prefix, ROOM_MESSAGE, JSON.stringify(message)));
};

/** A (re)connection: the open listeners, then every write not yet answered, again. */
const onOpen = (state: RoomState): void => {
  state.tokens?.opened();
  // A copy: a listener that opens a feed must not see that feed's listener run in this same round.
  for (const listener of [...state.openListeners]) listener();
  for (const { message } of state.pending.values()) send(state, message);
};

/** A frame from the room: a TinyBase changeset, or a roomstore message (an answer settles its write). */
const onFrame = (state: RoomState, event: MessageEvent): void => {
  const frame = typeof event.data === "string" ? decodeFrame(state.prefix, event.data) : undefined;
  if (frame?.type === SET_CHANGES) {
    const changes = parseOrUndefined(frame.payload);
    if (changes !== undefined) for (const listener of state.changesListeners) listener(changes);
    return;
  }
  const message = frame?.type === ROOM_MESSAGE ? parseOrUndefined(frame.payload) : undefined;
  if (!isServerMessage(message)) return;
  if (message.t === "ok" || message.t === "nack") {
    const write = state.pending.get(message.mid);
    state.pending.delete(message.mid);
    if (message.t === "ok") write?.resolve(message);
    else write?.reject(new RoomRejection(message));
    state.tokens?.answer(message);
  }
  for (const listener of state.messageListeners) listener(message);
};

/** Sends a write and resolves with the room's `ok` (rejects on its `nack`); kept until answered. */
const acknowledged = (state: RoomState, message: Write): Promise<Ok> =>
  new Promise<Ok>((resolve, reject) => {
    if (state.closed) return reject(new Error("The room is closed."));
    // The room closes the socket on a frame over its limit (1009), and a resend after the
    // reconnect would do it again, forever: refuse it here, as the room would.
    if (exceedsBytes(encodeFrame(state.prefix, ROOM_MESSAGE, JSON.stringify(message)), MAX_FRAME_BYTES)) {
      return reject(new RoomRejection({ error: { code: "too_large", message: `Frames are limited to ${MAX_FRAME_BYTES} bytes.` } }));
    }
    if (state.pending.size >= MAX_PENDING_WRITES) return reject(new Error(`More than ${MAX_PENDING_WRITES} writes wait for the room.`));
    state.pending.set(message.mid, { message, resolve, reject });
    send(state, message);
  });

const append = async (state: RoomState, events: EventInput[], { ifMatch }: { ifMatch?: number } = {}): Promise<number[]> => {
  const message: Write = { t: "append", mid: newId(), events, ...(ifMatch === undefined ? {} : { ifMatch }) };
  return (await acknowledged(state, message)).seqs ?? [];
};

const close = (state: RoomState): void => {
  state.closed = true;
  for (const { reject } of state.pending.values()) reject(new Error("The room was closed before the write was acknowledged."));
  state.pending.clear();
  state.tokens?.stop();
  state.socket.close();
};

/** The same room for HTTP readers, going where the socket goes. */
const httpOf = (options: RoomOptions, socket: PartySocket, party: string): HttpOptions => ({
  host: options.host,
  room: options.room,
  party,
  // The scheme PartySocket chose for the socket, so HTTP goes where the socket goes.
  protocol: socket.roomUrl.startsWith("wss:") ? "https" : "http",
  query: options.query,
  token: options.token,
  storePath: options.storePath,
  eventsPath: options.eventsPath,
  fetch: options.fetch,
});

export const connectRoom = (options: RoomOptions): Room => {
  // The room's own options are not PartySocket's.
  const { messagePrefix: prefix = "", storePath: _storePath, eventsPath: _eventsPath, fetch: _fetch, token, ...socketOptions } = options;
  const party = options.party ?? PARTY_NAME;
  const tokens = token === undefined ? undefined : createTokenRefresh(token, { send: (message) => send(state, message), get isOpen(): boolean { return isOpen(socket); } });
  // PartySocket calls a query function for every connection attempt.
  const query = tokens ? () => requestQuery({ query: socketOptions.query, token: tokens.next }) : socketOptions.query;
  // PartySocket 1.3 puts `room` into its URL as it is: encoded here, a name with `/`, `?` or `#`
  // stays one path segment and reaches its own room, as the HTTP readers' URLs do (roomUrl).
  const socket = new PartySocket({ ...socketOptions, query, room: roomSegment(options.room), party });
  const state: RoomState = { prefix, socket, tokens, pending: new Map(), messageListeners: new Set(), changesListeners: new Set(), openListeners: new Set(), closed: false };
  socket.addEventListener("open", () => onOpen(state));
  socket.addEventListener("close", () => tokens?.stop());
  socket.addEventListener("message", (event: MessageEvent) => onFrame(state, event));
  const link: FeedLink = {
    send: (message) => send(state, message),
    onMessage: (listener) => listen(state.messageListeners, listener),
    onOpen: (listener) => listen(state.openListeners, listener),
    get isOpen() {
      return isOpen(socket);
    },
  };
  const room: Room = {
    socket,
    http: httpOf(options, socket, party),
    append: (events, appendOptions) => append(state, events, appendOptions),
    stream: (name) => ({
      event: (type, data, extra = {}) => ({
        append: async () => (await room.append([{ ...extra, type, data, stream: name }]))[0],
      }),
    }),
    events: (selectors = {}, feedOptions) => openFeed(link, selectors, feedOptions),
    presence: createRoomPresence(link),
    syncStore: (store, syncOptions) => syncStore(room, store, syncOptions),
    sendChanges: async (changes, mid = newId()) => (await acknowledged(state, { t: "changes", mid, changes })).seq ?? null,
    onMessage: link.onMessage,
    onChangesFrame: (listener) => listen(state.changesListeners, listener),
    onOpen: link.onOpen,
    get pendingWrites() {
      return state.pending.size;
    },
    get closed() {
      return state.closed;
    },
    close: () => close(state),
  };
  return room;
};

export type { RoomEvent };
