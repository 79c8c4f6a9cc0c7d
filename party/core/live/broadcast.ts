// Broadcast of accepted changesets, once per commit group: the changesets of a group are merged
// into as few TinyBase frames as their meaning allows (usually one), encoded once, and sent to every
// connection; a sender gets the others' changesets but not its own, as TinyBase's server does.
//
// Convergence under concurrent writes to one cell: the room orders writes, but a sender that set a
// cell while another client's write to it was on its way to it ends with the other value. So when a
// connection writes a cell that another connection, or an HTTP write (PUT, PATCH, an import), wrote
// within CONFLICT_WINDOW_MS, and the room sent that write to this connection (it was open when that
// write was broadcast), the room also sends the sender the cell's authoritative value after the
// group. A lone writer (someone typing) never gets its own changes back, so its UI never jumps back
// to an older value; nor does a client that opened after the other write, which it never heard.
import { encodeChangesFrame } from "../../protocol.ts";
import type { ChangedRow, ChangedTable, Changes } from "../store/changes.ts";
import { isDeleted } from "../store/changes.ts";
import { socketIdOf } from "./connections.ts";
import type { RoomConnection } from "../room/types.ts";
import { changesOf, type StoreModel, type StoreWrite } from "../store/model.ts";
import { listPart, type Batch, type GroupPart } from "../storage/commit-queue.ts";

/**
 * The sender's correction: the room's current values of what `changes` named, sent to the one
 * connection whose changeset the room refused or trimmed, so that it reconverges. Nothing before
 * the room has a store.
 */
export const sendCurrent = (
  connection: Pick<RoomConnection, "send">,
  prefix: string,
  model: Pick<StoreModel, "hasStore" | "currentOf">,
  changes: Changes,
): void => {
  if (model.hasStore) connection.send(encodeChangesFrame(prefix, model.currentOf(changes)));
};

/** Writer id of the room's own corrections (no socket id starts with a NUL). */
const ROOM_WRITER = "\u0000room:";
/** Writer id of what no connection sent: HTTP PUT and PATCH, an import. */
const REQUEST_WRITER = "\u0000request";

/** How long after another connection's write to a cell a write to it counts as concurrent. */
export const CONFLICT_WINDOW_MS = 10_000;

/** A changeset to broadcast: what it changes, the writes it makes, and the connection that sent it (none: HTTP, an import). */
export interface Broadcast {
  changes: Changes;
  writes: StoreWrite[];
  sender?: RoomConnection;
}

interface Entry {
  changes: Changes;
  sender?: RoomConnection;
  /** Cells this sender wrote that another connection wrote concurrently: echoed after the group. */
  echo?: StoreWrite[];
}

/**
 * Merges `next` into `into`; false when they cannot be one changeset (a set inside a table or row
 * that `into` deletes: TinyBase cannot say "delete, then set" in one frame).
 */
const mergeInto = (into: Changes, next: Changes): boolean => {
  for (const tableId in next[0]) {
    const table = next[0][tableId];
    const target = into[0][tableId];
    if (isDeleted(table) || target === undefined) {
      into[0][tableId] = isDeleted(table) ? table : copyTable(table);
      continue;
    }
    if (isDeleted(target)) return false;
    for (const rowId in table) {
      const row = table[rowId];
      const targetRow = (target as ChangedTable)[rowId];
      if (isDeleted(row) || targetRow === undefined) {
        (target as ChangedTable)[rowId] = isDeleted(row) ? row : copy(row);
        continue;
      }
      if (isDeleted(targetRow)) return false;
      Object.assign(targetRow as ChangedRow, row);
    }
  }
  Object.assign(into[1], next[1]);
  return true;
};

/** Copies keep no prototype, so that an id like "__proto__" stays an id. */
const copy = <T extends object>(thing: T): T => Object.assign(Object.create(null), thing);
const copyTable = (table: ChangedTable): ChangedTable => {
  const out: ChangedTable = Object.create(null);
  for (const rowId in table) out[rowId] = isDeleted(table[rowId]) ? table[rowId] : copy(table[rowId] as ChangedRow);
  return out;
};

const emptyChanges = (): Changes => [Object.create(null), Object.create(null), 1];

/** The fewest frames that say `list` in order. */
const framesOf = (prefix: string, list: Changes[]): string[] => {
  const frames: string[] = [];
  let current: Changes | undefined;
  for (const changes of list) {
    if (current && mergeInto(current, changes)) continue;
    if (current) frames.push(encodeChangesFrame(prefix, current));
    current = emptyChanges();
    mergeInto(current, changes);
  }
  if (current) frames.push(encodeChangesFrame(prefix, current));
  return frames;
};

/** The row and table a cell is in, as conflict keys (values are in neither). */
const containersOf = (write: StoreWrite): string[] =>
  write.kind === "cell" ? [JSON.stringify(write.path.slice(0, 2)), JSON.stringify(write.path.slice(0, 1))] : [];

/** Senders are told apart by the room's socket id, not by the id a client chose (connections.ts). */
const isSentBy = (entry: Entry, sender: string) => entry.sender !== undefined && socketIdOf(entry.sender) === sender;

const cellKey = (write: StoreWrite) => (write.kind === "cell" ? JSON.stringify(write.path) : "v" + JSON.stringify(write.id));

/** What the broadcaster is given. */
export interface BroadcasterOptions {
  prefix: string;
  /** The connections that hear TinyBase frames. */
  connections: () => Iterable<RoomConnection>;
  /** The room's current values of the cells and values named. */
  currentOf: (changes: Changes) => Changes;
  now: () => number;
}

/** The broadcaster's state: who wrote what lately, and which flushes each open connection heard. */
interface Broadcasts {
  readonly options: BroadcasterOptions;
  /** Last writer of each recently written cell, oldest first, with the index of the flush that sends it. */
  readonly lastWriters: Map<string, { sender: string; at: number; flush: number }>;
  /** Index of the next flush: a group's entries are made before its flush, and groups never overlap. */
  flushes: number;
  /** Per open connection (by socket id), the first flush it was sent or a correction's: it heard every one since. */
  hearsFrom: Map<string, number>;
  /** The group's changesets, sent together once it commits. */
  readonly groupBroadcasts: GroupPart<Entry[]>;
}

const noteWriter = (state: Broadcasts, key: string, sender: string, at: number): void => {
  state.lastWriters.delete(key);
  state.lastWriters.set(key, { sender, at, flush: state.flushes });
};

const forgetOld = (state: Broadcasts, now: number): void => {
  for (const [key, writer] of state.lastWriters) {
    if (now - writer.at < CONFLICT_WINDOW_MS) break;
    state.lastWriters.delete(key);
  }
};

/** What one sender of the group hears: the others' changesets, then the room's values of the cells it must be echoed. */
const framesFor = (state: Broadcasts, sender: string, list: Entry[]): string[] => {
  const others = list.filter((entry) => !isSentBy(entry, sender)).map((entry) => entry.changes);
  const echo = list.flatMap((entry) => (isSentBy(entry, sender) ? (entry.echo ?? []) : []));
  if (echo.length > 0) others.push(state.options.currentOf(changesOf(echo)));
  return framesOf(state.options.prefix, others);
};

/**
 * The room sent `sender` its values for these cells: count that as another writer's write, so
 * that the sender's own next write to them, made before the correction arrived, is echoed.
 */
const noteCorrection = (state: Broadcasts, writes: StoreWrite[], sender: string): void => {
  const now = state.options.now();
  if (!state.hearsFrom.has(sender)) state.hearsFrom.set(sender, state.flushes);
  for (const write of writes) {
    // The correction may delete the cell's row or table (when they are gone from the room):
    // a set into them that the sender made meanwhile is echoed too.
    for (const key of [cellKey(write), ...containersOf(write)]) noteWriter(state, key, ROOM_WRITER + sender, now);
  }
};

/** True when another writer wrote one of `keys` in a flush that `sender` heard (from flush `from` on). */
const crossed = (state: Broadcasts, keys: string[], sender: string, from: number): boolean => {
  for (const key of keys) {
    const last = state.lastWriters.get(key);
    if (last !== undefined && last.sender !== sender && last.flush >= from) return true;
  }
  return false;
};

/**
 * An entry for the group's list: records who wrote which cells, and what must be echoed. A
 * write no connection sent is recorded too: its frame may reach a client after that client's
 * own write to the same cells, which the room then applies after it.
 */
const entryOf = (state: Broadcasts, { changes, writes, sender: connection }: Broadcast): Entry => {
  const sender = connection === undefined ? REQUEST_WRITER : socketIdOf(connection);
  const now = state.options.now();
  forgetOld(state, now);
  const echo: StoreWrite[] = [];
  // A connection that has heard no flush yet hears this group's.
  const from = state.hearsFrom.get(sender) ?? state.flushes;
  for (const write of writes) {
    // A cell set into a row or table another connection just deleted conflicts with that
    // deletion too: the deletion reached this sender after its own set, and removed it there.
    const keys = [cellKey(write), ...containersOf(write)];
    if (connection && crossed(state, keys, sender, from)) echo.push(write);
    noteWriter(state, keys[0], sender, now);
    if (write.value === undefined) for (const key of keys.slice(1)) noteWriter(state, key, sender, now);
  }
  if (connection === undefined) return { changes };
  return echo.length > 0 ? { changes, sender: connection, echo } : { changes, sender: connection };
};

/** Sends a committed group's changesets to every connection. */
const flush = (state: Broadcasts, list: Entry[]): void => {
  if (list.length === 0) return;
  const senders = new Map<string, RoomConnection>();
  for (const { sender } of list) if (sender) senders.set(socketIdOf(sender), sender);
  const frames = framesOf(state.options.prefix, list.map((entry) => entry.changes));
  // Rebuilt from the open connections, so that it forgets the closed ones.
  const heard = new Map<string, number>();
  for (const connection of state.options.connections()) {
    const id = socketIdOf(connection);
    heard.set(id, state.hearsFrom.get(id) ?? state.flushes);
    if (!senders.has(id)) for (const frame of frames) connection.send(frame);
  }
  state.hearsFrom = heard;
  for (const [id, connection] of senders) {
    try {
      for (const frame of framesFor(state, id, list)) connection.send(frame);
      // An echo is a correction too: it may arrive after the sender wrote these cells again.
      const echoed = list.flatMap((entry) => (isSentBy(entry, id) ? (entry.echo ?? []) : []));
      if (echoed.length > 0) noteCorrection(state, echoed, id);
    } catch {
      // The sender left after its change was committed: nothing to reconverge.
    }
  }
  state.flushes++;
};

export const createBroadcaster = (options: BroadcasterOptions) => {
  const state: Broadcasts = {
    options,
    lastWriters: new Map(),
    flushes: 0,
    hearsFrom: new Map(),
    groupBroadcasts: listPart((entries) => flush(state, entries)),
  };
  return {
    /** Queues a changeset to broadcast once its batch commits; a group's changesets go out together. */
    queue(batch: Batch, broadcast: Broadcast): void {
      batch.part(state.groupBroadcasts).push(entryOf(state, broadcast));
    },
    noteCorrection: (writes: StoreWrite[], sender: string): void => noteCorrection(state, writes, sender),
  };
};

export type Broadcaster = ReturnType<typeof createBroadcaster>;
