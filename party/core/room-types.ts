// The room core's types: the connections it serves, the options adapters give it, and what it
// offers the HTTP and WebSocket surfaces (room.ts builds it).
import type { Role } from "./auth.ts";
import type { Changes, Content } from "./changes.ts";
import type { Job } from "./commit-queue.ts";
import type { RoomConfig } from "./config.ts";
import type { EventInput, StoredEvent } from "./event-log.ts";
import type { RoomHooks } from "./hooks.ts";
import type { Keys } from "./keys.ts";
import type { RoomStorage } from "./storage.ts";
import type { StoreModel } from "./store.ts";

/**
 * A client socket as the room sees it: the runtime's own connection objects fit this. `state` is
 * kept in the socket's attachment by both runtimes, so it survives hibernation.
 */
export interface RoomConnection {
  readonly id: string;
  /** WebSocket's readyState, where the runtime has one: only open connections are sent to. */
  readonly readyState?: number;
  send(message: string): void;
  close(code?: number, reason?: string): void;
  readonly state?: unknown;
  setState?(state: unknown): unknown;
}

/** What the room keeps in a connection's state. */
export interface ConnectionState {
  /** The role the gate decided when the socket opened. */
  role?: Role;
  /** Subscriptions open on this connection (see subscriptions.ts). */
  roomstoreSubs?: string[];
  /** The room closed this socket: frames still in flight from it are ignored (see sockets.ts). */
  closedByRoom?: boolean;
}

export const stateOf = (connection: RoomConnection): ConnectionState => (connection.state ?? {}) as ConnectionState;

/** Merges into a connection's state, where the runtime keeps state. */
export const updateState = (connection: RoomConnection, update: ConnectionState): void => {
  connection.setState?.({ ...stateOf(connection), ...update });
};

export interface Logger {
  error(message: string, error?: unknown): void;
}

export interface RoomOptions {
  name: string;
  storage: RoomStorage;
  config: RoomConfig;
  hooks: RoomHooks;
  connections: () => Iterable<RoomConnection>;
  now?: () => number;
  newId?: () => string;
  logger?: Logger;
  /** Asks the runtime for an alarm at `at` (ms) unless one is set; retention runs in it. */
  scheduleAlarm?: (at: number) => Promise<void> | void;
}

export interface Meta {
  /** Seq of the newest event (0: empty log). */
  head: number;
  /** Seq of the newest $store event: the position the store reflects. */
  storeSeq: number;
  created: boolean;
  /** Oldest seq retention keeps (1 until retention trims). */
  first: number;
  /** ISO times of the first and the newest write that appended events (see stats.ts). */
  createdAt?: string;
  lastWrite?: string;
  /** Where retention's sweep of old audit entries goes on, if it is under way. */
  auditCursor?: string;
}


export interface ChangesResult {
  /** Seq of the $changes event, when anything was accepted. */
  seq?: number;
  accepted: Changes;
  rejected: boolean;
  /** True when a changeset with this id was applied before: nothing was done again. */
  duplicate?: boolean;
}

export type PutResult = { status: 200 | 201 | 205; seq: number };

export interface RoomCore {
  readonly options: RoomOptions;
  readonly keys: Keys;
  readonly model: StoreModel;
  readonly head: number;
  readonly storeSeq: number;
  load(): Promise<void>;
  /** Applies a changeset from a connection or a request: hooks, write, broadcast. */
  /**
   * Applies a changeset from a connection or a request: hooks, write, broadcast. With an `id`,
   * it becomes the $changes event's id, and a changeset with an id already applied is not applied again.
   */
  applyChanges(
    changes: Changes,
    origin: unknown,
    options?: { sender?: RoomConnection; allOrNothing?: boolean; id?: string },
  ): Promise<ChangesResult>;
  /** A PUT of the whole store: first save, or (with `ifMatch`) an atomic replace. */
  putStore(content: Content, origin: unknown, ifMatch?: number): Promise<PutResult>;
  /** Appends application events, all or nothing; returns them (duplicates as first stored). */
  appendEvents(inputs: EventInput[], ifMatch?: number): Promise<StoredEvent[]>;
  /** The log's bookkeeping; change it only inside `run`, with an undo step. */
  readonly meta: Meta;
  /** Runs a job in the commit queue (see commit-queue.ts). */
  run<T>(job: Job<T>): Promise<T>;
  /** Runs retention from the alarm; asks for another alarm while work is left. */
  handleAlarm(): Promise<void>;
  /** Listens to every committed event, in seq order. */
  onEvents(listener: (events: StoredEvent[]) => void): () => void;
}
