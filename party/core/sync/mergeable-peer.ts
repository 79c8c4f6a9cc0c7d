// The room as a MergeableStore peer: every cell and value of the store has a stamp (an HLC), kept
// with the store in the same storage write (stamps.ts: their keys and how they are read), and
// TinyBase's own MergeableStore answers the synchronizer's hash and diff requests, so its hashing
// is TinyBase's by construction. A cell with no stamp (written before any stamp was kept) has the
// empty HLC, which every stamped change beats, as in TinyBase.
//
// The stamps are read from storage only when a synchronizer client first needs them (`loadStamps`,
// a job of the commit queue): a room that never has a synchronizer client reads one key at wake-up
// (P hl) and writes its stamps blind.
//
// Invariants: once loaded, `stamps` and the store model name the same cells, except tombstones; the
// MergeableStore, when built, holds exactly the model's content with `stamps`' HLCs; P hl is at
// least every stored HLC. Table, row and tables stamps carry no HLC (TinyBase's clients never give
// them one), so they add nothing to hashes.
import { getHlcFunctions } from "tinybase/common";
import { createMergeableStore, type MergeableStore } from "tinybase/mergeable-store";
import { DELETED } from "../../protocol.ts";
import type { Cell, Changes } from "../store/changes.ts";
import type { Batch, GroupPart } from "../storage/commit-queue.ts";
import type { RoomStorage } from "../storage/room-storage.ts";
import type { StoreModel, StoreWrite } from "../store/model.ts";
import {
  addCell,
  emptyChanges,
  readStamps,
  rememberStamps,
  stampKeys,
  stampOf,
  toEncoded,
  type StampedInput,
  type StampedWrite,
  type StampKeys,
  type Stamps,
} from "./stamps.ts";
import type { CellStamps, MergeableChanges, TableStamps } from "./wire.ts";

export type { StampedInput, StampedWrite } from "./stamps.ts";

/** What the peer is given: the room's storage, prefix, store model, name and clock. */
export interface PeerContext {
  storage: RoomStorage;
  storagePrefix: string;
  model: StoreModel;
  /** The room's name: its HLCs end with a hash of it. */
  name: string;
  now: () => number;
}

/** The peer's state: its clock, its stamps (once loaded), and the MergeableStore built from them. */
interface Peer {
  readonly context: PeerContext;
  readonly keys: StampKeys;
  readonly uniqueId: string;
  readonly nextHlc: () => string;
  readonly seenHlc: (hlc: string) => void;
  /** The latest HLC recorded (P hl). */
  latest: string;
  /** Undefined until loaded. */
  stamps?: Stamps;
  store?: MergeableStore;
  /** Counts changes to the stamped content, for caches of what is derived from it. */
  version: number;
}

/** Stamps recorded in a group while the stamps were not loaded: a load later in that group takes them in. */
const unloadedStamps: GroupPart<MergeableChanges[]> = { create: () => [] };

/**
 * Applies encoded MergeableChanges, as TinyBase's own synchronizer does (`store.__[4]`, its
 * applyEncodedMergeableChanges, tinybase 10): the public applyMergeableChanges would hash decoded
 * objects, which no client does, and every sync round would then find the hashes different.
 */
const applyEncoded = (store: MergeableStore, changes: MergeableChanges) =>
  (store as unknown as { __: ((changes: unknown) => void)[] }).__[4](changes);

const loaded = (peer: Peer): Stamps => {
  if (!peer.stamps) throw new Error("The room's stamps are not loaded.");
  return peer.stamps;
};

const cellHlc = (peer: Peer, [tableId, rowId, cellId]: [string, string, string]) => loaded(peer).cells.get(tableId)?.get(rowId)?.get(cellId);

/** The store's content with its stamps, tombstones included, as one MergeableChanges. */
const everything = (peer: Peer): MergeableChanges => {
  const { model } = peer.context;
  const changes = emptyChanges();
  const [tables, values] = model.content();
  for (const tableId in tables) {
    for (const rowId in tables[tableId]) {
      const row = tables[tableId][rowId];
      for (const cellId in row) addCell(changes, [tableId, rowId, cellId], toEncoded(row[cellId]), cellHlc(peer, [tableId, rowId, cellId]) ?? "");
    }
  }
  const { cells: cellStamps, values: valueStamps } = loaded(peer);
  for (const [tableId, rows] of cellStamps) {
    for (const [rowId, cells] of rows) {
      for (const [cellId, hlc] of cells) if (model.getCell(tableId, rowId, cellId) === undefined) addCell(changes, [tableId, rowId, cellId], undefined, hlc);
    }
  }
  for (const valueId in values) changes[1][0][valueId] = [toEncoded(values[valueId]), valueStamps.get(valueId) ?? ""];
  for (const [valueId, hlc] of valueStamps) if (model.getValue(valueId) === undefined) changes[1][0][valueId] = [undefined, hlc];
  return changes;
};

/** The MergeableStore, built from the model and the stamps when first needed. */
const mergeable = (peer: Peer): MergeableStore => {
  if (!peer.store) {
    // Its own clock never stamps anything (the room passes every HLC): it only merges.
    peer.store = createMergeableStore(peer.uniqueId, peer.context.now);
    applyEncoded(peer.store, everything(peer));
  }
  return peer.store;
};

/** Records the stamps of `changes` (cells and values) in the batch and in memory, with undo. */
const record = (peer: Peer, batch: Batch, changes: MergeableChanges) => {
  const before = peer.latest;
  for (const tableId in changes[0][0]) {
    const rows = changes[0][0][tableId][0];
    for (const rowId in rows) {
      for (const cellId in rows[rowId][0]) {
        const hlc = rows[rowId][0][cellId][1]!;
        batch.put(peer.keys.cell(tableId, rowId, cellId), hlc);
        if (hlc > peer.latest) peer.latest = hlc;
      }
    }
  }
  for (const valueId in changes[1][0]) {
    const hlc = changes[1][0][valueId][1]!;
    batch.put(peer.keys.value(valueId), hlc);
    if (hlc > peer.latest) peer.latest = hlc;
  }
  if (peer.latest !== before) batch.put(peer.keys.latest, peer.latest);
  let unrecorded: MergeableChanges[] | undefined;
  if (peer.stamps) rememberStamps(peer.stamps, batch, changes);
  else (unrecorded = batch.part(unloadedStamps)).push(changes);
  if (peer.store) applyEncoded(peer.store, changes);
  peer.version++;
  batch.onUndo(() => {
    // Undo steps run newest first: this record is the list's last.
    unrecorded?.pop();
    peer.latest = before;
    // A MergeableStore cannot take a stamp back: build it again from what is kept.
    peer.store = undefined;
    peer.version++;
  });
};

/** At wake-up: sets the room's clock past every stamp it gave, whatever the wall clock does. */
const open = async (peer: Peer): Promise<void> => {
  const { storage } = peer.context;
  const stored = (await storage.get([peer.keys.latest])).get(peer.keys.latest);
  if (typeof stored === "string") peer.latest = stored;
  else {
    // A room whose stamps were kept before P hl: its latest stamp is found by reading them all.
    const { read, newest } = await readStamps(storage, peer.keys);
    peer.stamps = read;
    peer.latest = newest;
  }
  if (peer.latest) peer.seenHlc(peer.latest);
};

/**
 * Reads the stamps, as a job of the commit queue: no group is being written meanwhile, and the
 * stamps that jobs before it in its group recorded (not stored yet) are taken in with it.
 */
const loadStamps = async (peer: Peer, batch: Batch): Promise<void> => {
  if (peer.stamps) return;
  const { read } = await readStamps(peer.context.storage, peer.keys);
  if (peer.stamps) return;
  peer.stamps = read;
  for (const changes of batch.part(unloadedStamps)) rememberStamps(read, batch, changes);
  peer.store = undefined;
  peer.version++;
};

/**
 * The plain Changes of the cells and values in `incoming` that are newer than the room's (last
 * writer wins, as in MergeableStore); the room's clock moves past every HLC it sees.
 */
const winners = (peer: Peer, incoming: MergeableChanges): Changes => {
  const changes: Changes = [Object.create(null), Object.create(null), 1];
  const wins = (hlc: string | undefined, old: string | undefined) => {
    if (hlc) peer.seenHlc(hlc);
    return !old || (hlc ?? "") > old;
  };
  for (const tableId in incoming[0][0]) {
    const rows = incoming[0][0][tableId][0];
    for (const rowId in rows) {
      const cells = rows[rowId][0];
      for (const cellId in cells) {
        const [thing, hlc] = cells[cellId];
        if (!wins(hlc, cellHlc(peer, [tableId, rowId, cellId]))) continue;
        const table = (changes[0][tableId] ??= Object.create(null)) as Record<string, Record<string, unknown>>;
        (table[rowId] ??= Object.create(null))[cellId] = thing === undefined ? DELETED : toEncoded(thing);
      }
    }
  }
  for (const valueId in incoming[1][0]) {
    const [thing, hlc] = incoming[1][0][valueId];
    if (wins(hlc, loaded(peer).values.get(valueId))) changes[1][valueId] = thing === undefined ? DELETED : (toEncoded(thing) as Cell);
  }
  return changes;
};

/**
 * Stamps committed store writes: with the sender's HLC where it sent that very value, else with a
 * new HLC of the room's (a change from a persister client or HTTP, a rewrite by a hook, or a
 * correction). Records the stamps in the same batch.
 */
const stampWrites = (peer: Peer, batch: Batch, { writes, input }: { writes: StoreWrite[]; input?: StampedInput }): StampedWrite => {
  const changes = emptyChanges();
  const forSender = emptyChanges();
  let corrected = false;
  for (const write of writes) {
    const sent = stampOf(input, write);
    const hlc = sent ?? peer.nextHlc();
    const thing = toEncoded(write.value);
    if (write.kind === "cell") addCell(changes, write.path, thing, hlc);
    else changes[1][0][write.id] = [thing, hlc];
    if (input && !sent) {
      corrected = true;
      if (write.kind === "cell") addCell(forSender, write.path, thing, hlc);
      else forSender[1][0][write.id] = [thing, hlc];
    }
  }
  record(peer, batch, changes);
  return { changes, senderId: input?.senderId, forSender: corrected ? forSender : undefined };
};

/** Gives the cells and values `changes` names newer stamps with their current content: undoes a refused change at its sender. */
const restamp = (peer: Peer, batch: Batch, changes: Changes): StampedWrite => {
  const { model } = peer.context;
  const writes: StoreWrite[] = [];
  for (const tableId in changes[0]) {
    const table = changes[0][tableId];
    if (table === DELETED) continue;
    for (const rowId in table) {
      const row = table[rowId];
      if (row === DELETED) continue;
      for (const cellId in row) writes.push({ kind: "cell", path: [tableId, rowId, cellId], value: model.getCell(tableId, rowId, cellId) });
    }
  }
  for (const valueId in changes[1]) writes.push({ kind: "value", id: valueId, value: model.getValue(valueId) });
  return stampWrites(peer, batch, { writes });
};

export const createMergeablePeer = (context: PeerContext) => {
  const uniqueId = "roomstore:" + context.name;
  const [nextHlc, seenHlc] = getHlcFunctions(uniqueId, context.now);
  const peer: Peer = { context, keys: stampKeys(context.storagePrefix), uniqueId, nextHlc, seenHlc, latest: "", version: 0 };
  return {
    open: () => open(peer),
    get loaded(): boolean {
      return peer.stamps !== undefined;
    },
    loadStamps: (batch: Batch) => loadStamps(peer, batch),
    /** Changes whenever the stamped content may have: what is derived from it is stale. */
    get version(): number {
      return peer.version;
    },
    winners: (incoming: MergeableChanges) => winners(peer, incoming),
    stampWrites: (batch: Batch, writes: StoreWrite[], input?: StampedInput) => stampWrites(peer, batch, { writes, input }),
    restamp: (batch: Batch, changes: Changes) => restamp(peer, batch, changes),
    mergeable: () => mergeable(peer),
  };
};

export type MergeablePeer = ReturnType<typeof createMergeablePeer>;
export type { CellStamps, TableStamps };
