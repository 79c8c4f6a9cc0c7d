// The authoritative store in memory: tables and values as Maps, plus the serialized snapshot cached
// per table, so that a GET after a small change re-serializes only the tables that changed.
// Invariants: no empty row or table is ever kept (TinyBase drops them too); `write` lists exactly
// the cells and values whose stored state changed, deletions expanded down to single cells.
import type { Cell, Changes, Content, Tables, Values } from "./changes.ts";
import { isDeleted } from "./changes.ts";
import { DELETED } from "../../protocol.ts";

export type CellPath = [tableId: string, rowId: string, cellId: string];

/** One cell or value whose stored state changed; `value` undefined means deleted. */
export type StoreWrite =
  | { kind: "cell"; path: CellPath; value: Cell | undefined }
  | { kind: "value"; id: string; value: Cell | undefined };

type RowMap = Map<string, Cell>;
type TableMap = Map<string, RowMap>;

export interface StoreModel {
  /** True once a first PUT (or a changeset on top of one) created the store. */
  readonly hasStore: boolean;
  readonly cellCount: number;
  /** Tables, rows and values held, kept as cells change (read by the room's stats). */
  readonly counts: { tables: number; rows: number; values: number };
  getCell(tableId: string, rowId: string, cellId: string): Cell | undefined;
  getValue(valueId: string): Cell | undefined;
  /** What applying accepted changes would change, deletions expanded to single cells. */
  plan(changes: Changes): StoreWrite[];
  /** What emptying the store and loading `content` would change. */
  planReplace(content: Content): StoreWrite[];
  /** The current state of the cells and values `writes` name, for `revert`. */
  read(writes: StoreWrite[]): (Cell | undefined)[];
  /** Applies planned writes and marks the store as created. */
  commit(writes: StoreWrite[]): void;
  /** Puts back the state read before `commit` (undo after a failed storage write). */
  revert(writes: StoreWrite[], previous: (Cell | undefined)[], hadStore: boolean): void;
  /** Loads one stored cell or value at start-up. */
  load(write: StoreWrite): void;
  markCreated(created: boolean): void;
  /** `[tables, values]` as TinyBase Content JSON, from cache where nothing changed. */
  toJson(): string;
  /** toJson's text as the parts it is joined from (each table's cached text among them), unjoined. */
  toJsonParts(): string[];
  content(): Content;
  /** The authoritative state of every cell and value named by `changes`, as Changes. */
  currentOf(changes: Changes): Changes;
}

export const createStoreModel = (): StoreModel => {
  const tables = new Map<string, TableMap>();
  const values = new Map<string, Cell>();
  const tableJson = new Map<string, string>();
  let valuesJson: string | undefined;
  let hasStore = false;
  let cellCount = 0;
  let rowCount = 0;

  const setCell = ([tableId, rowId, cellId]: CellPath, value: Cell | undefined): void => {
    tableJson.delete(tableId);
    let table = tables.get(tableId);
    if (value === undefined) {
      const row = table?.get(rowId);
      if (row?.delete(cellId)) {
        cellCount--;
        if (row.size === 0 && table!.delete(rowId)) rowCount--;
        if (table!.size === 0) tables.delete(tableId);
      }
      return;
    }
    if (!table) tables.set(tableId, (table = new Map()));
    let row = table.get(rowId);
    if (!row) {
      table.set(rowId, (row = new Map()));
      rowCount++;
    }
    if (!row.has(cellId)) cellCount++;
    row.set(cellId, value);
  };

  const setValue = (id: string, value: Cell | undefined): void => {
    valuesJson = undefined;
    if (value === undefined) values.delete(id);
    else values.set(id, value);
  };

  const put = (write: StoreWrite): void =>
    write.kind === "cell" ? setCell(write.path, write.value) : setValue(write.id, write.value);

  const cellWrites = (tableId: string, rowIds: Iterable<string>, into: StoreWrite[]): void => {
    const table = tables.get(tableId);
    for (const rowId of rowIds) {
      for (const cellId of table?.get(rowId)?.keys() ?? []) {
        into.push({ kind: "cell", path: [tableId, rowId, cellId], value: undefined });
      }
    }
  };

  const plan = ([changedTables, changedValues]: Changes): StoreWrite[] => {
    const writes: StoreWrite[] = [];
    for (const tableId in changedTables) {
      const table = changedTables[tableId];
      if (isDeleted(table)) {
        cellWrites(tableId, tables.get(tableId)?.keys() ?? [], writes);
        continue;
      }
      for (const rowId in table) {
        const row = table[rowId];
        if (isDeleted(row)) {
          cellWrites(tableId, [rowId], writes);
          continue;
        }
        for (const cellId in row) {
          const cell = row[cellId];
          writes.push({ kind: "cell", path: [tableId, rowId, cellId], value: isDeleted(cell) ? undefined : cell });
        }
      }
    }
    for (const valueId in changedValues) {
      const value = changedValues[valueId];
      writes.push({ kind: "value", id: valueId, value: isDeleted(value) ? undefined : value });
    }
    return writes;
  };

  const getCell = (tableId: string, rowId: string, cellId: string) => tables.get(tableId)?.get(rowId)?.get(cellId);
  const getValue = (valueId: string) => values.get(valueId);

  const serializeTable = (tableId: string, table: TableMap): string => {
    let json = tableJson.get(tableId);
    if (json === undefined) {
      const parts: string[] = [];
      for (const [rowId, row] of table) {
        const cells: string[] = [];
        for (const [cellId, cell] of row) cells.push(JSON.stringify(cellId) + ":" + JSON.stringify(cell));
        parts.push(JSON.stringify(rowId) + ":{" + cells.join(",") + "}");
      }
      tableJson.set(tableId, (json = "{" + parts.join(",") + "}"));
    }
    return json;
  };

  const serializeValues = (): string => {
    if (valuesJson === undefined) {
      const parts: string[] = [];
      for (const [id, value] of values) parts.push(JSON.stringify(id) + ":" + JSON.stringify(value));
      valuesJson = "{" + parts.join(",") + "}";
    }
    return valuesJson;
  };

  return {
    get hasStore() {
      return hasStore;
    },
    get cellCount() {
      return cellCount;
    },
    get counts() {
      return { tables: tables.size, rows: rowCount, values: values.size };
    },
    getCell,
    getValue,
    plan,
    planReplace([newTables, newValues]) {
      const writes: StoreWrite[] = [];
      for (const tableId of tables.keys()) cellWrites(tableId, tables.get(tableId)!.keys(), writes);
      for (const id of values.keys()) writes.push({ kind: "value", id, value: undefined });
      for (const tableId in newTables) {
        for (const rowId in newTables[tableId]) {
          const row = newTables[tableId][rowId];
          for (const cellId in row) writes.push({ kind: "cell", path: [tableId, rowId, cellId], value: row[cellId] });
        }
      }
      for (const id in newValues) writes.push({ kind: "value", id, value: newValues[id] });
      return writes;
    },
    commit(writes) {
      writes.forEach(put);
      hasStore = true;
    },
    read: (writes) =>
      writes.map((write) => (write.kind === "cell" ? getCell(...write.path) : getValue(write.id))),
    revert(writes, previous, hadStore) {
      for (let i = writes.length - 1; i >= 0; i--) put({ ...writes[i], value: previous[i] });
      hasStore = hadStore;
    },
    load: put,
    markCreated(created) {
      hasStore = created;
    },
    toJson() {
      const parts: string[] = [];
      for (const [tableId, table] of tables) parts.push(JSON.stringify(tableId) + ":" + serializeTable(tableId, table));
      return "[{" + parts.join(",") + "}," + serializeValues() + "]";
    },
    toJsonParts() {
      const parts = ["[{"];
      for (const [tableId, table] of tables) parts.push((parts.length > 1 ? "," : "") + JSON.stringify(tableId) + ":", serializeTable(tableId, table));
      parts.push("},", serializeValues(), "]");
      return parts;
    },
    content() {
      const outTables: Tables = Object.create(null);
      for (const [tableId, table] of tables) {
        const outTable: Tables[string] = (outTables[tableId] = Object.create(null));
        for (const [rowId, row] of table) outTable[rowId] = Object.assign(Object.create(null), Object.fromEntries(row));
      }
      const outValues: Values = Object.assign(Object.create(null), Object.fromEntries(values));
      return [outTables, outValues];
    },
    currentOf([changedTables, changedValues]) {
      const current: Changes = [Object.create(null), Object.create(null), 1];
      const deleted = DELETED;
      for (const tableId in changedTables) {
        const changedTable = changedTables[tableId];
        const table = tables.get(tableId);
        if (!table) {
          current[0][tableId] = deleted;
          continue;
        }
        if (isDeleted(changedTable)) {
          // The whole table was asked to go: send it back whole.
          const rows: Record<string, Record<string, Cell>> = Object.create(null);
          for (const [rowId, row] of table) rows[rowId] = Object.fromEntries(row);
          current[0][tableId] = rows;
          continue;
        }
        const outTable: Record<string, Record<string, Cell | typeof deleted> | typeof deleted> = Object.create(null);
        for (const rowId in changedTable) {
          const changedRow = changedTable[rowId];
          const row = table.get(rowId);
          if (!row) outTable[rowId] = deleted;
          else if (isDeleted(changedRow)) outTable[rowId] = Object.fromEntries(row);
          else {
            const outRow: Record<string, Cell | typeof deleted> = Object.create(null);
            for (const cellId in changedRow) outRow[cellId] = row.has(cellId) ? row.get(cellId)! : deleted;
            outTable[rowId] = outRow;
          }
        }
        current[0][tableId] = outTable;
      }
      for (const valueId in changedValues) {
        current[1][valueId] = values.has(valueId) ? values.get(valueId)! : deleted;
      }
      return current;
    },
  };
};

/** The Changes that bring a client from the state before `writes` to the state after them. */
export const changesOf = (writes: StoreWrite[]): Changes => {
  const changes: Changes = [Object.create(null), Object.create(null), 1];
  for (const write of writes) {
    const value = write.value === undefined ? DELETED : write.value;
    if (write.kind === "value") {
      changes[1][write.id] = value;
      continue;
    }
    const [tableId, rowId, cellId] = write.path;
    const table = (changes[0][tableId] ??= Object.create(null)) as Record<string, Record<string, unknown>>;
    (table[rowId] ??= Object.create(null))[cellId] = value;
  }
  return changes;
};
