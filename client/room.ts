// A room by name, over one PartySocket (which owns reconnects): acknowledged writes that are resent
// after a reconnect and applied once, event appends, and flow-controlled event subscriptions.
// Frames, message kinds and routes come from the one protocol module shared with the server.
import { PartySocket } from "partysocket";
import {
  decodeFrame,
  encodeFrame,
  PARTY_NAME,
  ROOM_MESSAGE,
  SET_CHANGES,
  type ClientMessage,
  type ErrorBody,
  type EventInput,
  type RoomEvent,
  type ServerMessage,
} from "../party/protocol.ts";
import { openSubscription, type EventFeed, type EventSelectors } from "./subscription.ts";

/** Connection options, as PartySocket takes them. */
export interface RoomOptions {
  host: string;
  room: string;
  party?: string;
  /** Query parameters sent on connect, e.g. `{ token }` when the room needs one. */
  query?: Record<string, string>;
  /** The server's message prefix, when it is configured (TinyBase's `messagePrefix`). */
  messagePrefix?: string;
}

/** What an append sends: `{type, data?, stream?, id?, tz?}`. */
export type EventDraft = EventInput;
export type { RoomEvent };

/** A write the room refused: the message says why, in the room's words. */
export class RoomRejection extends Error {
  readonly code: string;
  constructor(body: ErrorBody) {
    super(body.error.message);
    this.name = "RoomRejection";
    this.code = body.error.code;
  }
}

type Ok = Extract<ServerMessage, { t: "ok" }>;

export interface RoomClient {
  readonly socket: PartySocket;
  readonly options: RoomOptions;
  /** Appends events, all or nothing; resent after a reconnect until acknowledged, applied once. */
  append(events: EventDraft[], options?: { ifMatch?: number }): Promise<number[]>;
  /** `room.stream("orders").event("paid", data).append()`, in the spirit of Persistr's SDK. */
  stream(name: string): { event(type: string, data?: unknown, extra?: Omit<EventDraft, "type" | "data" | "stream">): { append(): Promise<number> } };
  /** Events chosen by selectors: history, then live unless `until` is set. */
  events(selectors?: EventSelectors): EventFeed;
  /**
   * Sends an acknowledged changeset (`[tables, values, 1]`, deletions as "\uFFFC"); resolves with
   * its seq. `mid` becomes the id of its `$changes` event.
   */
  sendChanges(changes: unknown, mid?: string): Promise<number | null>;
  /** Listens to roomstore messages and TinyBase change frames; returns an unsubscribe. */
  onMessage(listener: (message: ServerMessage) => void): () => void;
  onChangesFrame(listener: (changes: unknown) => void): () => void;
  /** Called after every (re)connection, before pending writes are resent. */
  onOpen(listener: () => void): () => void;
  send(message: ClientMessage): void;
  close(): void;
}

const newId = () => crypto.randomUUID();

export const connectRoom = (options: RoomOptions): RoomClient => {
  const prefix = options.messagePrefix ?? "";
  const socket = new PartySocket({ host: options.host, room: options.room, party: options.party ?? PARTY_NAME, query: options.query });
  const pending = new Map<string, { message: ClientMessage; resolve: (ok: Ok) => void; reject: (error: Error) => void }>();
  const messageListeners = new Set<(message: ServerMessage) => void>();
  const changesListeners = new Set<(changes: unknown) => void>();
  const openListeners = new Set<() => void>();

  const send = (message: ClientMessage) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(encodeFrame(prefix, ROOM_MESSAGE, JSON.stringify(message)));
  };

  socket.addEventListener("open", () => {
    for (const listener of openListeners) listener();
    for (const { message } of pending.values()) send(message);
  });

  socket.addEventListener("message", (event: MessageEvent) => {
    if (typeof event.data !== "string") return;
    const frame = decodeFrame(prefix, event.data);
    if (frame?.type === SET_CHANGES) {
      const changes = JSON.parse(frame.payload) as unknown;
      for (const listener of changesListeners) listener(changes);
      return;
    }
    if (frame?.type !== ROOM_MESSAGE) return;
    const message = JSON.parse(frame.payload) as ServerMessage;
    if (message.t === "ok" || message.t === "nack") {
      const write = pending.get(message.mid);
      if (write) {
        pending.delete(message.mid);
        if (message.t === "ok") write.resolve(message);
        else write.reject(new RoomRejection(message));
      }
    }
    for (const listener of messageListeners) listener(message);
  });

  /** Sends a write now or on the next connection, and until the room acknowledges it. */
  const acknowledged = (message: ClientMessage & { mid: string }) =>
    new Promise<Ok>((resolve, reject) => {
      pending.set(message.mid, { message, resolve, reject });
      send(message);
    });

  const listen = <T>(set: Set<T>, listener: T) => {
    set.add(listener);
    return () => void set.delete(listener);
  };

  const client: RoomClient = {
    socket,
    options,
    async append(events, { ifMatch } = {}) {
      const ok = await acknowledged({ t: "append", mid: newId(), events, ...(ifMatch === undefined ? {} : { ifMatch }) });
      return ok.seqs ?? [];
    },
    stream: (name) => ({
      event: (type, data, extra = {}) => ({
        append: async () => (await client.append([{ ...extra, type, data, stream: name }]))[0],
      }),
    }),
    events: (selectors = {}) => openSubscription(client, selectors),
    async sendChanges(changes, mid = newId()) {
      return (await acknowledged({ t: "changes", mid, changes })).seq ?? null;
    },
    onMessage: (listener) => listen(messageListeners, listener),
    onChangesFrame: (listener) => listen(changesListeners, listener),
    onOpen: (listener) => listen(openListeners, listener),
    send,
    close() {
      for (const { reject } of pending.values()) reject(new Error("The room client was closed."));
      pending.clear();
      socket.close();
    },
  };
  return client;
};
