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

/**
 * The model's state, owned by createStoreModel and changed only by the functions below.
 * `tableJson` holds a table's text until one of its cells changes; `valuesJson` the values' text
 * until one of them does.
 */
interface Store {
  readonly tables: Map<string, TableMap>;
  readonly values: Map<string, Cell>;
  readonly tableJson: Map<string, string>;
  valuesJson: string | undefined;
  hasStore: boolean;
  cellCount: number;
  rowCount: number;
}

/** Sets or deletes one cell; a row or table left empty goes with it, and the table's text is stale. */
const setCell = (store: Store, [tableId, rowId, cellId]: CellPath, value: Cell | undefined): void => {
  store.tableJson.delete(tableId);
  let table = store.tables.get(tableId);
  if (value === undefined) {
    const row = table?.get(rowId);
    if (row?.delete(cellId)) {
      store.cellCount--;
      if (row.size === 0 && table!.delete(rowId)) store.rowCount--;
      if (table!.size === 0) store.tables.delete(tableId);
    }
    return;
  }
  if (!table) store.tables.set(tableId, (table = new Map()));
  let row = table.get(rowId);
  if (!row) {
    table.set(rowId, (row = new Map()));
    store.rowCount++;
  }
  if (!row.has(cellId)) store.cellCount++;
  row.set(cellId, value);
};

const setValue = (store: Store, id: string, value: Cell | undefined): void => {
  store.valuesJson = undefined;
  if (value === undefined) store.values.delete(id);
  else store.values.set(id, value);
};

const put = (store: Store, write: StoreWrite): void =>
  write.kind === "cell" ? setCell(store, write.path, write.value) : setValue(store, write.id, write.value);

const getCell = (store: Store, [tableId, rowId, cellId]: CellPath) => store.tables.get(tableId)?.get(rowId)?.get(cellId);

/** Pushes onto `into` the deletion of every cell the rows `rowIds` of a table hold. */
const cellWrites = (store: Store, tableId: string, rowIds: Iterable<string>, into: StoreWrite[]): void => {
  const table = store.tables.get(tableId);
  for (const rowId of rowIds) {
    for (const cellId of table?.get(rowId)?.keys() ?? []) {
      into.push({ kind: "cell", path: [tableId, rowId, cellId], value: undefined });
    }
  }
};

const plan = (store: Store, [changedTables, changedValues]: Changes): StoreWrite[] => {
  const writes: StoreWrite[] = [];
  for (const tableId in changedTables) {
    const table = changedTables[tableId];
    if (isDeleted(table)) {
      cellWrites(store, tableId, store.tables.get(tableId)?.keys() ?? [], writes);
      continue;
    }
    for (const rowId in table) {
      const row = table[rowId];
      if (isDeleted(row)) {
        cellWrites(store, tableId, [rowId], writes);
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

const planReplace = (store: Store, [newTables, newValues]: Content): StoreWrite[] => {
  const writes: StoreWrite[] = [];
  for (const tableId of store.tables.keys()) cellWrites(store, tableId, store.tables.get(tableId)!.keys(), writes);
  for (const id of store.values.keys()) writes.push({ kind: "value", id, value: undefined });
  for (const tableId in newTables) {
    for (const rowId in newTables[tableId]) {
      const row = newTables[tableId][rowId];
      for (const cellId in row) writes.push({ kind: "cell", path: [tableId, rowId, cellId], value: row[cellId] });
    }
  }
  for (const id in newValues) writes.push({ kind: "value", id, value: newValues[id] });
  return writes;
};

const commit = (store: Store, writes: StoreWrite[]): void => {
  for (const write of writes) put(store, write);
  store.hasStore = true;
};

const revert = (store: Store, writes: StoreWrite[], previous: (Cell | undefined)[], hadStore: boolean): void => {
  for (let i = writes.length - 1; i >= 0; i--) put(store, { ...writes[i], value: previous[i] });
  store.hasStore = hadStore;
};

/** A table's text, from cache unless one of its cells changed since it was last serialized. */
const serializeTable = (store: Store, tableId: string, table: TableMap): string => {
  let json = store.tableJson.get(tableId);
  if (json === undefined) {
    const parts: string[] = [];
    for (const [rowId, row] of table) {
      const cells: string[] = [];
      for (const [cellId, cell] of row) cells.push(JSON.stringify(cellId) + ":" + JSON.stringify(cell));
      parts.push(JSON.stringify(rowId) + ":{" + cells.join(",") + "}");
    }
    store.tableJson.set(tableId, (json = "{" + parts.join(",") + "}"));
  }
  return json;
};

const serializeValues = (store: Store): string => {
  if (store.valuesJson === undefined) {
    const parts: string[] = [];
    for (const [id, value] of store.values) parts.push(JSON.stringify(id) + ":" + JSON.stringify(value));
    store.valuesJson = "{" + parts.join(",") + "}";
  }
  return store.valuesJson;
};

const toJson = (store: Store): string => {
  const parts: string[] = [];
  for (const [tableId, table] of store.tables) parts.push(JSON.stringify(tableId) + ":" + serializeTable(store, tableId, table));
  return "[{" + parts.join(",") + "}," + serializeValues(store) + "]";
};

const toJsonParts = (store: Store): string[] => {
  const parts = ["[{"];
  for (const [tableId, table] of store.tables) parts.push((parts.length > 1 ? "," : "") + JSON.stringify(tableId) + ":", serializeTable(store, tableId, table));
  parts.push("},", serializeValues(store), "]");
  return parts;
};

const contentOf = (store: Store): Content => {
  const outTables: Tables = Object.create(null);
  for (const [tableId, table] of store.tables) {
    const outTable: Tables[string] = (outTables[tableId] = Object.create(null));
    for (const [rowId, row] of table) outTable[rowId] = Object.assign(Object.create(null), Object.fromEntries(row));
  }
  const outValues: Values = Object.assign(Object.create(null), Object.fromEntries(store.values));
  return [outTables, outValues];
};

type Current<T> = T | typeof DELETED;

/** The current state of what a changeset names in one table the store holds (currentOf's step). */
const currentTable = (table: TableMap, changedTable: Changes[0][string]): Current<Record<string, Current<Record<string, Current<Cell>>>>> => {
  if (isDeleted(changedTable)) {
    // The whole table was asked to go: send it back whole.
    const rows: Record<string, Record<string, Cell>> = Object.create(null);
    for (const [rowId, row] of table) rows[rowId] = Object.fromEntries(row);
    return rows;
  }
  const outTable: Record<string, Current<Record<string, Current<Cell>>>> = Object.create(null);
  for (const rowId in changedTable) {
    const changedRow = changedTable[rowId];
    const row = table.get(rowId);
    if (!row) outTable[rowId] = DELETED;
    else if (isDeleted(changedRow)) outTable[rowId] = Object.fromEntries(row);
    else {
      const outRow: Record<string, Current<Cell>> = Object.create(null);
      for (const cellId in changedRow) outRow[cellId] = row.has(cellId) ? row.get(cellId)! : DELETED;
      outTable[rowId] = outRow;
    }
  }
  return outTable;
};

const currentOf = (store: Store, [changedTables, changedValues]: Changes): Changes => {
  const current: Changes = [Object.create(null), Object.create(null), 1];
  for (const tableId in changedTables) {
    const table = store.tables.get(tableId);
    current[0][tableId] = table ? currentTable(table, changedTables[tableId]) : DELETED;
  }
  for (const valueId in changedValues) {
    current[1][valueId] = store.values.has(valueId) ? store.values.get(valueId)! : DELETED;
  }
  return current;
};

export const createStoreModel = (): StoreModel => {
  const store: Store = { tables: new Map(), values: new Map(), tableJson: new Map(), valuesJson: undefined, hasStore: false, cellCount: 0, rowCount: 0 };
  return {
    get hasStore() {
      return store.hasStore;
    },
    get cellCount() {
      return store.cellCount;
    },
    get counts() {
      return { tables: store.tables.size, rows: store.rowCount, values: store.values.size };
    },
    getCell: (tableId, rowId, cellId) => store.tables.get(tableId)?.get(rowId)?.get(cellId),
    getValue: (valueId) => store.values.get(valueId),
    plan: (changes) => plan(store, changes),
    planReplace: (content) => planReplace(store, content),
    commit: (writes) => commit(store, writes),
    read: (writes) => writes.map((write) => (write.kind === "cell" ? getCell(store, write.path) : store.values.get(write.id))),
    revert: (writes, previous, hadStore) => revert(store, writes, previous, hadStore),
    load: (write) => put(store, write),
    markCreated(created) {
      store.hasStore = created;
    },
    toJson: () => toJson(store),
    toJsonParts: () => toJsonParts(store),
    content: () => contentOf(store),
    currentOf: (changes) => currentOf(store, changes),
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
