// The room's types: the connections it serves, the options adapters give it, the read-only context
// every module is given, the log readers' port, and what a write answers (the room core they make up
// is the entry's, room-core.ts: every other module declares the few members it uses).
import type { Role } from "./auth.ts";
import type { Changes } from "../store/changes.ts";
import type { Batch } from "../storage/commit-queue.ts";
import type { RoomConfig } from "./config.ts";
import type { StoredEvent } from "../storage/event-log.ts";
import type { RoomHooks } from "./hooks.ts";
import { closeCodeOf, type RoomError } from "../common/errors.ts";
import type { Keys } from "../storage/keys.ts";
import type { RoomStorage } from "../storage/room-storage.ts";
import type { WriteLock } from "../storage/write-lock.ts";
import type { PresenceState } from "../../protocol.ts";
import type { StoreWrite } from "../store/model.ts";

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
  /** Subscriptions open on this connection (see live/subscriptions.ts). */
  roomstoreSubs?: string[];
  /** The room closed this socket: frames still in flight from it are ignored (see transport/sockets.ts). */
  closedByRoom?: boolean;
  /** The room's own id of this socket: what it keys the socket's state by (see live/connections.ts). */
  socketId?: string;
  /** A TinyBase synchronizer client's socket, opened on `{room}/sync` (see sync/room.ts). */
  sync?: boolean;
  /** When the signed token that admitted it (or its last refresh) expires, in seconds since the epoch (live/token-expiry.ts). */
  tokenExp?: number;
  /** Its presence state, if it set one (presence.ts): here, so that it survives hibernation and nowhere else. */
  presence?: PresenceState;
}

export const stateOf = (connection: RoomConnection): ConnectionState => (connection.state ?? {}) as ConnectionState;

/** Merges into a connection's state, where the runtime keeps state. */
export const updateState = (connection: RoomConnection, update: ConnectionState): void => {
  connection.setState?.({ ...stateOf(connection), ...update });
};

/** Longest close reason sent: a Close frame holds at most 123 bytes of it (RFC 6455, 5.5). */
const MAX_CLOSE_REASON_CHARS = 120;

/** Closes a socket from the room's side; frames still on their way from it are then ignored. */
export const closeByRoom = (connection: RoomConnection, code: number, reason: string): void => {
  updateState(connection, { closedByRoom: true });
  connection.close(code, reason.slice(0, MAX_CLOSE_REASON_CHARS));
};

/** Closes a socket for an error it cannot recover from on it (closeCodeOf: 1009 or 1007), saying why. */
export const closeForError = (connection: RoomConnection, error: RoomError): void => closeByRoom(connection, closeCodeOf(error), error.message);

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
  /** Runs `run` after `ms` milliseconds (default: setTimeout); presence coalesces its frames with it. */
  setTimer?: (run: () => void, ms: number) => void;
  newId?: () => string;
  /** Events an import writes per storage write (default IMPORT_BATCH_EVENTS, admin/export-import.ts); tests cross batches with fewer. */
  importBatchEvents?: number;
  logger?: Logger;
  /** Asks the runtime for an alarm at `at` (ms) unless one is set no later (alarm-scheduler.ts); retention and delivery run in it. */
  scheduleAlarm?: (at: number) => Promise<void> | void;
  /** Sees every store write as it is recorded in its batch, with the `stamps` of applyChanges (see sync/room.ts). */
  onStoreWrite?: (batch: Batch, writes: StoreWrite[], stamps?: unknown) => void;
}

/**
 * The room's read-only context, resolved once when the room is built: every module gets the
 * clock, the id source and the logger from here, never from the raw options.
 */
export interface RoomContext extends RoomOptions {
  readonly now: () => number;
  readonly setTimer: (run: () => void, ms: number) => void;
  readonly newId: () => string;
  readonly logger: Logger;
}

/** The narrow port readers of the log get (pages, history, feeds, retention): no write access. */
export interface LogReader {
  readonly storage: RoomStorage;
  readonly keys: Keys;
  /** Seq of the newest committed event. */
  readonly head: number;
  /** Oldest seq retention keeps. */
  readonly first: number;
  /** Seq of the newest committed $store event. */
  readonly storeSeq: number;
  /** ISO times of the room's first and latest write that appended events (stats.ts). */
  readonly createdAt?: string;
  readonly lastWrite?: string;
  /** Listens to every committed event, in seq order. */
  onEvents(listener: (events: StoredEvent[]) => void): () => void;
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
  /** Set while an import runs (also stored) and once the room is deleted: writes are refused (storage/write-lock.ts). */
  writeLock?: WriteLock;
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

/** How a changeset is applied (write/apply-changes.ts): from whom, all or nothing, under which id. */
export interface ApplyOptions {
  sender?: RoomConnection;
  allOrNothing?: boolean;
  /** Becomes the $changes event's id: a changeset with an id already applied is not applied again. */
  id?: string;
  /** Passed to `onStoreWrite` with the writes this changeset makes. */
  stamps?: unknown;
  /** Turns the changeset into what to apply, at its turn in the queue, before the hooks. */
  resolve?: (changes: Changes) => Changes;
  /** Applies only while the store is at this seq (PATCH with If-Match), else 412. */
  ifMatch?: number;
}
