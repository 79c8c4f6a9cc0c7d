// The stamps of the room's cells and values, as data: where they are kept, how they are read back,
// and how a batch changes the ones in memory (with its undo). The peer that gives and compares them
// is mergeable-peer.ts.
//
// Storage layout (P is the room's storagePrefix; ids JSON-escaped as in storage/keys.ts):
//   P hc "t","r","c"  the hlc of a cell the store has had; a stamp whose cell is not in the store
//                     is a deletion (a tombstone, kept as TinyBase keeps them)
//   P hv "id"         the hlc of a value (or of its deletion)
//   P hl              the latest hlc of every stamp kept: the room's clock starts past it
// One key per cell, written blind: a change writes as many stamp keys as it changes cells, however
// large their row (a key per row would rewrite the row's every stamp on each change).
import { JSON_CELL_PREFIX } from "../../protocol.ts";
import type { Cell } from "../store/changes.ts";
import type { Batch } from "../storage/commit-queue.ts";
import type { RoomStorage } from "../storage/room-storage.ts";
import type { StoreWrite } from "../store/model.ts";
import type { MergeableChanges } from "./wire.ts";

/** Most stamp entries read per listing while loading. */
const LOAD_PAGE_KEYS = 10_000;

/** tableId → rowId → cellId → hlc; valueId → hlc. */
export interface Stamps {
  cells: Map<string, Map<string, Map<string, string>>>;
  values: Map<string, string>;
}

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

/** The stamps' keys under a room's storage prefix. */
export const stampKeys = (storagePrefix: string) => {
  const cells = storagePrefix + "hc";
  const values = storagePrefix + "hv";
  return {
    cells,
    values,
    latest: storagePrefix + "hl",
    cell: (tableId: string, rowId: string, cellId: string) => cells + JSON.stringify([tableId, rowId, cellId]).slice(1, -1),
    value: (valueId: string) => values + JSON.stringify(valueId),
  };
};

export type StampKeys = ReturnType<typeof stampKeys>;

/**
 * A model cell as synchronizers hold and send it: TinyBase 10's synchronizer keeps and sends object
 * and array cells encoded ("\uFFFD" + JSON, as the model keeps them) and hashes that text, so a raw
 * object (which persister clients may send) is encoded the same way.
 */
export const toEncoded = (cell: unknown): Cell | undefined =>
  typeof cell === "object" && cell !== null ? JSON_CELL_PREFIX + JSON.stringify(cell) : (cell as Cell | undefined);

export const emptyChanges = (): MergeableChanges => [[Object.create(null)], [Object.create(null)], 1];

export const addCell = (changes: MergeableChanges, [tableId, rowId, cellId]: string[], thing: unknown, hlc: string) => {
  const tables = changes[0][0];
  const table = (tables[tableId] ??= [Object.create(null)]);
  const row = (table[0][rowId] ??= [Object.create(null)]);
  row[0][cellId] = [thing, hlc];
};

/** A row's stamps, made when it has none. */
export const rowOf = (cells: Stamps["cells"], tableId: string, rowId: string) => {
  let table = cells.get(tableId);
  if (!table) cells.set(tableId, (table = new Map()));
  let row = table.get(rowId);
  if (!row) table.set(rowId, (row = new Map()));
  return row;
};

/** Reads every stored stamp, and the latest of them. */
export const readStamps = async (storage: RoomStorage, keys: StampKeys): Promise<{ read: Stamps; newest: string }> => {
  const read: Stamps = { cells: new Map(), values: new Map() };
  let newest = "";
  for (const prefix of [keys.cells, keys.values]) {
    let start = prefix;
    for (;;) {
      const page = await storage.list({ start, prefix, limit: LOAD_PAGE_KEYS });
      for (const [key, stored] of page) {
        start = key + "\0";
        const hlc = stored as string;
        if (hlc > newest) newest = hlc;
        if (prefix === keys.values) {
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

/** Sets the stamps of `changes` in `stamps`, to be taken back if the batch fails. */
export const rememberStamps = (stamps: Stamps, batch: Batch, changes: MergeableChanges): void => {
  const { cells, values } = stamps;
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

/** The stamp a synchronizer client sent for this write; it holds only for the value it sent (a rewrite gets the room's own). */
export const stampOf = (input: StampedInput | undefined, write: StoreWrite): string | undefined => {
  if (!input) return undefined;
  const stamp =
    write.kind === "cell"
      ? input.changes[0][0][write.path[0]]?.[0][write.path[1]]?.[0][write.path[2]]
      : input.changes[1][0][write.id];
  return stamp && toEncoded(stamp[0]) === write.value ? stamp[1] : undefined;
};
