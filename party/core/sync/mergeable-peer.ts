// The room as a MergeableStore peer: every cell and value of the store has a stamp (an HLC), kept
// with the store in the same storage write, and TinyBase's own MergeableStore answers the
// synchronizer's hash and diff requests, so its hashing is TinyBase's by construction.
//
// Storage layout (P is the room's storagePrefix; ids JSON-escaped as in storage/keys.ts):
//   P hc "t","r","c"  the hlc of a cell the store has had; a stamp whose cell is not in the store
//                     is a deletion (a tombstone, kept as TinyBase keeps them)
//   P hv "id"         the hlc of a value (or of its deletion)
//   P hl              the latest hlc of every stamp kept: the room's clock starts past it
// One key per cell, written blind: a change writes as many stamp keys as it changes cells, however
// large their row (a key per row would rewrite the row's every stamp on each change).
// A cell with no stamp (written before any stamp was kept) has the empty HLC, which every stamped
// change beats, as in TinyBase.
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
import { DELETED, JSON_CELL_PREFIX } from "../../protocol.ts";
import type { Cell, Changes } from "../store/changes.ts";
import type { Batch, GroupPart } from "../storage/commit-queue.ts";
import type { RoomStorage } from "../storage/room-storage.ts";
import type { StoreModel, StoreWrite } from "../store/model.ts";
import type { CellStamps, MergeableChanges, TableStamps } from "./wire.ts";

/** Most stamp entries read per listing while loading. */
const LOAD_PAGE_KEYS = 10_000;

/** A changeset from a synchronizer client, as the store write observer receives it. */
export interface StampedInput {
  changes: MergeableChanges;
  senderId: string;
}

/** What a committed write means to synchronizer clients: everyone's diff, and the sender's own. */
export interface StampedWrite {
  changes: MergeableChanges;
  /** The part the room stamped itself although the sender sent it (a rewrite): for the sender. */
  forSender?: MergeableChanges;
  senderId?: string;
}

/**
 * A model cell as synchronizers hold and send it: TinyBase 10's synchronizer keeps and sends object
 * and array cells encoded ("\uFFFD" + JSON, as the model keeps them) and hashes that text, so a raw
 * object (which persister clients may send) is encoded the same way.
 */
export const toEncoded = (cell: unknown): Cell | undefined =>
  typeof cell === "object" && cell !== null ? JSON_CELL_PREFIX + JSON.stringify(cell) : (cell as Cell | undefined);

/**
 * Applies encoded MergeableChanges, as TinyBase's own synchronizer does (`store.__[4]`, its
 * applyEncodedMergeableChanges, tinybase 10): the public applyMergeableChanges would hash decoded
 * objects, which no client does, and every sync round would then find the hashes different.
 */
const applyEncoded = (store: MergeableStore, changes: MergeableChanges) =>
  (store as unknown as { __: ((changes: unknown) => void)[] }).__[4](changes);

const emptyChanges = (): MergeableChanges => [[Object.create(null)], [Object.create(null)], 1];

const addCell = (changes: MergeableChanges, [tableId, rowId, cellId]: string[], thing: unknown, hlc: string) => {
  const tables = changes[0][0];
  const table = (tables[tableId] ??= [Object.create(null)]);
  const row = (table[0][rowId] ??= [Object.create(null)]);
  row[0][cellId] = [thing, hlc];
};

export const createMergeablePeer = (context: {
  storage: RoomStorage;
  storagePrefix: string;
  model: StoreModel;
  /** The room's name: its HLCs end with a hash of it. */
  name: string;
  now: () => number;
}) => {
  const { storage, model } = context;
  const cellPrefix = context.storagePrefix + "hc";
  const valuePrefix = context.storagePrefix + "hv";
  const latestKey = context.storagePrefix + "hl";
  const cellKey = (tableId: string, rowId: string, cellId: string) => cellPrefix + JSON.stringify([tableId, rowId, cellId]).slice(1, -1);
  const valueKey = (valueId: string) => valuePrefix + JSON.stringify(valueId);
  const uniqueId = "roomstore:" + context.name;
  const [nextHlc, seenHlc] = getHlcFunctions(uniqueId, context.now);

  /** The latest HLC recorded (P hl). */
  let latest = "";
  /** tableId → rowId → cellId → hlc; valueId → hlc. Undefined until loaded. */
  let stamps: { cells: Map<string, Map<string, Map<string, string>>>; values: Map<string, string> } | undefined;
  /** Stamps recorded in a group while `stamps` was not loaded: a load later in that group takes them in. */
  const unloadedStamps: GroupPart<MergeableChanges[]> = { create: () => [] };
  let store: MergeableStore | undefined;
  /** Counts changes to the stamped content, for caches of what is derived from it. */
  let version = 0;

  const loaded = () => {
    if (!stamps) throw new Error("The room's stamps are not loaded.");
    return stamps;
  };
  const cellHlc = (tableId: string, rowId: string, cellId: string) => loaded().cells.get(tableId)?.get(rowId)?.get(cellId);
  const rowOf = (cells: Map<string, Map<string, Map<string, string>>>, tableId: string, rowId: string) => {
    let table = cells.get(tableId);
    if (!table) cells.set(tableId, (table = new Map()));
    let row = table.get(rowId);
    if (!row) table.set(rowId, (row = new Map()));
    return row;
  };

  /** Reads every stored stamp, and the latest of them. */
  const readStamps = async () => {
    const read: NonNullable<typeof stamps> = { cells: new Map(), values: new Map() };
    let newest = "";
    for (const prefix of [cellPrefix, valuePrefix]) {
      let start = prefix;
      for (;;) {
        const page = await storage.list({ start, prefix, limit: LOAD_PAGE_KEYS });
        for (const [key, stored] of page) {
          start = key + "\0";
          const hlc = stored as string;
          if (hlc > newest) newest = hlc;
          if (prefix === valuePrefix) {
            read.values.set(JSON.parse(key.slice(prefix.length)) as string, hlc);
            continue;
          }
          const [tableId, rowId, cellId] = JSON.parse("[" + key.slice(prefix.length) + "]") as [string, string, string];
          rowOf(read.cells, tableId, rowId).set(cellId, hlc);
        }
        if (page.size < LOAD_PAGE_KEYS) break;
      }
    }
    return { read, newest };
  };

  /** The store's content with its stamps, tombstones included, as one MergeableChanges. */
  const everything = (): MergeableChanges => {
    const changes = emptyChanges();
    const [tables, values] = model.content();
    for (const tableId in tables) {
      for (const rowId in tables[tableId]) {
        const row = tables[tableId][rowId];
        for (const cellId in row) addCell(changes, [tableId, rowId, cellId], toEncoded(row[cellId]), cellHlc(tableId, rowId, cellId) ?? "");
      }
    }
    const { cells: cellStamps, values: valueStamps } = loaded();
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
  const mergeable = (): MergeableStore => {
    if (!store) {
      // Its own clock never stamps anything (the room passes every HLC): it only merges.
      store = createMergeableStore(uniqueId, context.now);
      applyEncoded(store, everything());
    }
    return store;
  };

  /** Sets the stamps of `changes` in the loaded stamps, to be taken back if the batch fails. */
  const remember = (batch: Batch, changes: MergeableChanges) => {
    const { cells, values } = loaded();
    const undo: (() => void)[] = [];
    for (const tableId in changes[0][0]) {
      const rows = changes[0][0][tableId][0];
      for (const rowId in rows) {
        const row = rowOf(cells, tableId, rowId);
        for (const cellId in rows[rowId][0]) {
          const previous = row.get(cellId);
          row.set(cellId, rows[rowId][0][cellId][1]!);
          undo.push(() => (previous === undefined ? row.delete(cellId) : row.set(cellId, previous)));
        }
      }
    }
    for (const valueId in changes[1][0]) {
      const previous = values.get(valueId);
      values.set(valueId, changes[1][0][valueId][1]!);
      undo.push(() => (previous === undefined ? values.delete(valueId) : values.set(valueId, previous)));
    }
    batch.onUndo(() => {
      for (let i = undo.length - 1; i >= 0; i--) undo[i]();
    });
  };

  /** Records the stamps of `changes` (cells and values) in the batch and in memory, with undo. */
  const record = (batch: Batch, changes: MergeableChanges) => {
    const before = latest;
    for (const tableId in changes[0][0]) {
      const rows = changes[0][0][tableId][0];
      for (const rowId in rows) {
        for (const cellId in rows[rowId][0]) {
          const hlc = rows[rowId][0][cellId][1]!;
          batch.put(cellKey(tableId, rowId, cellId), hlc);
          if (hlc > latest) latest = hlc;
        }
      }
    }
    for (const valueId in changes[1][0]) {
      const hlc = changes[1][0][valueId][1]!;
      batch.put(valueKey(valueId), hlc);
      if (hlc > latest) latest = hlc;
    }
    if (latest !== before) batch.put(latestKey, latest);
    let unrecorded: MergeableChanges[] | undefined;
    if (stamps) remember(batch, changes);
    else (unrecorded = batch.part(unloadedStamps)).push(changes);
    if (store) applyEncoded(store, changes);
    version++;
    batch.onUndo(() => {
      // Undo steps run newest first: this record is the list's last.
      unrecorded?.pop();
      latest = before;
      // A MergeableStore cannot take a stamp back: build it again from what is kept.
      store = undefined;
      version++;
    });
  };

  const stampOf = (input: StampedInput | undefined, write: StoreWrite): string | undefined => {
    if (!input) return undefined;
    const stamp =
      write.kind === "cell"
        ? input.changes[0][0][write.path[0]]?.[0][write.path[1]]?.[0][write.path[2]]
        : input.changes[1][0][write.id];
    // The sender's stamp holds only for the value it sent; a rewrite gets the room's own.
    return stamp && toEncoded(stamp[0]) === write.value ? stamp[1] : undefined;
  };

  return {
    /** At wake-up: sets the room's clock past every stamp it gave, whatever the wall clock does. */
    async open(): Promise<void> {
      const stored = (await storage.get([latestKey])).get(latestKey);
      if (typeof stored === "string") latest = stored;
      else {
        // A room whose stamps were kept before P hl: its latest stamp is found by reading them all.
        const { read, newest } = await readStamps();
        stamps = read;
        latest = newest;
      }
      if (latest) seenHlc(latest);
    },

    get loaded(): boolean {
      return stamps !== undefined;
    },

    /**
     * Reads the stamps, as a job of the commit queue: no group is being written meanwhile, and
     * the stamps that jobs before it in its group recorded (not stored yet) are taken in with it.
     */
    async loadStamps(batch: Batch): Promise<void> {
      if (stamps) return;
      const { read } = await readStamps();
      if (stamps) return;
      stamps = read;
      for (const changes of batch.part(unloadedStamps)) remember(batch, changes);
      store = undefined;
      version++;
    },

    /** Changes whenever the stamped content may have: what is derived from it is stale. */
    get version(): number {
      return version;
    },

    /**
     * The plain Changes of the cells and values in `incoming` that are newer than the room's (last
     * writer wins, as in MergeableStore); the room's clock moves past every HLC it sees.
     */
    winners(incoming: MergeableChanges): Changes {
      const changes: Changes = [Object.create(null), Object.create(null), 1];
      const wins = (hlc: string | undefined, old: string | undefined) => {
        if (hlc) seenHlc(hlc);
        return !old || (hlc ?? "") > old;
      };
      for (const tableId in incoming[0][0]) {
        const rows = incoming[0][0][tableId][0];
        for (const rowId in rows) {
          const cells = rows[rowId][0];
          for (const cellId in cells) {
            const [thing, hlc] = cells[cellId];
            if (!wins(hlc, cellHlc(tableId, rowId, cellId))) continue;
            const table = (changes[0][tableId] ??= Object.create(null)) as Record<string, Record<string, unknown>>;
            (table[rowId] ??= Object.create(null))[cellId] = thing === undefined ? DELETED : toEncoded(thing);
          }
        }
      }
      for (const valueId in incoming[1][0]) {
        const [thing, hlc] = incoming[1][0][valueId];
        if (wins(hlc, loaded().values.get(valueId))) changes[1][valueId] = thing === undefined ? DELETED : (toEncoded(thing) as Cell);
      }
      return changes;
    },

    /**
     * Stamps committed store writes: with the sender's HLC where it sent that very value, else with
     * a new HLC of the room's (a change from a persister client or HTTP, a rewrite by a hook, or a
     * correction). Records the stamps in the same batch.
     */
    stampWrites(batch: Batch, writes: StoreWrite[], input?: StampedInput): StampedWrite {
      const changes = emptyChanges();
      const forSender = emptyChanges();
      let corrected = false;
      for (const write of writes) {
        const sent = stampOf(input, write);
        const hlc = sent ?? nextHlc();
        const thing = toEncoded(write.value);
        if (write.kind === "cell") addCell(changes, write.path, thing, hlc);
        else changes[1][0][write.id] = [thing, hlc];
        if (input && !sent) {
          corrected = true;
          if (write.kind === "cell") addCell(forSender, write.path, thing, hlc);
          else forSender[1][0][write.id] = [thing, hlc];
        }
      }
      record(batch, changes);
      return { changes, senderId: input?.senderId, forSender: corrected ? forSender : undefined };
    },

    /** Gives the cells and values `changes` names newer stamps with their current content: undoes a refused change at its sender. */
    restamp(batch: Batch, changes: Changes): StampedWrite {
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
      return this.stampWrites(batch, writes);
    },

    mergeable,
  };
};

export type MergeablePeer = ReturnType<typeof createMergeablePeer>;
export type { CellStamps, TableStamps };
