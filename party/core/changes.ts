// TinyBase content and changesets: their types and their validation at the boundary.
// Postcondition of every `parse*` here: the result is exactly TinyBase's shape, every id path fits a
// storage key and every cell fits a storage value; otherwise a RoomError and nothing else happened.
import { DELETED, JSON_CELL_PREFIX, MAX_CELL_CHARS, MAX_PATH_CHARS } from "../protocol.ts";
import { fail } from "./errors.ts";

/**
 * A cell or value as TinyBase stores it. Object and array cells travel as `"\uFFFD" + JSON` strings
 * (TinyBase 8+) and are kept verbatim; raw objects and arrays, which TinyBase's own server also
 * accepts, are kept as they came.
 */
export type Cell = string | number | boolean | null | { [key: string]: unknown } | unknown[];
export type Deleted = typeof DELETED;
export type Row = Record<string, Cell>;
export type Table = Record<string, Row>;
export type Tables = Record<string, Table>;
export type Values = Record<string, Cell>;
/** TinyBase Content: `[tables, values]`. */
export type Content = [Tables, Values];
export type ChangedRow = Record<string, Cell | Deleted>;
export type ChangedTable = Record<string, ChangedRow | Deleted>;
export type ChangedTables = Record<string, ChangedTable | Deleted>;
export type ChangedValues = Record<string, Cell | Deleted>;
/** TinyBase Changes: `[changedTables, changedValues, 1]`; DELETED marks a deletion at any level. */
export type Changes = [ChangedTables, ChangedValues, 1];

export const isDeleted = (thing: unknown): thing is Deleted => thing === DELETED;

export const isPlainObject = (thing: unknown): thing is Record<string, unknown> =>
  typeof thing === "object" && thing !== null && !Array.isArray(thing);

/** Returns the cell's size in JSON characters if it is a valid cell, else undefined. */
const cellChars = (cell: unknown): number | undefined => {
  switch (typeof cell) {
    case "string":
      return cell.length + 2;
    case "boolean":
      return 5;
    case "number":
      return Number.isFinite(cell) ? 24 : undefined;
    case "object":
      return cell === null ? 4 : JSON.stringify(cell).length;
    default:
      return undefined;
  }
};

const checkCell = (cell: unknown, where: string): Cell => {
  const chars = cellChars(cell);
  if (chars === undefined) {
    fail("invalid_content", `${where} is not a TinyBase cell or value.`);
  } else if (chars > MAX_CELL_CHARS) {
    fail("too_large", `${where} is larger than ${MAX_CELL_CHARS} JSON characters.`);
  }
  return cell as Cell;
};

const checkPath = (ids: string[]): void => {
  if (JSON.stringify(ids).length > MAX_PATH_CHARS) {
    fail("too_large", `The id path ${JSON.stringify(ids).slice(0, 64)}… is longer than ${MAX_PATH_CHARS} characters.`);
  }
};

const checkObject = (thing: unknown, where: string): Record<string, unknown> =>
  isPlainObject(thing) ? thing : fail("invalid_content", `${where} must be a JSON object.`);

const describe = (ids: string[]): string => ids.map((id) => JSON.stringify(id)).join("/");

/** Validates TinyBase Content (a PUT body): no deletions allowed. */
export const parseContent = (thing: unknown): Content => {
  if (!Array.isArray(thing) || thing.length !== 2) {
    fail("invalid_content", "Content must be a JSON array [tables, values].");
  }
  const [tables, values] = thing as unknown[];
  for (const [tableId, table] of Object.entries(checkObject(tables, "tables"))) {
    for (const [rowId, row] of Object.entries(checkObject(table, `table ${describe([tableId])}`))) {
      for (const [cellId, cell] of Object.entries(checkObject(row, `row ${describe([tableId, rowId])}`))) {
        const where = `cell ${describe([tableId, rowId, cellId])}`;
        if (isDeleted(cell)) fail("invalid_content", `${where}: content cannot hold deletions.`);
        checkCell(cell, where);
        checkPath([tableId, rowId, cellId]);
      }
    }
  }
  for (const [valueId, value] of Object.entries(checkObject(values, "values"))) {
    if (isDeleted(value)) fail("invalid_content", `value ${describe([valueId])}: content cannot hold deletions.`);
    checkCell(value, `value ${describe([valueId])}`);
    checkPath([valueId]);
  }
  return thing as Content;
};

/** Validates TinyBase Changes (a `s` frame's payload): DELETED allowed at every level. */
export const parseChanges = (thing: unknown): Changes => {
  if (!Array.isArray(thing) || thing.length !== 3 || thing[2] !== 1) {
    fail("invalid_content", "Changes must be a JSON array [changedTables, changedValues, 1].");
  }
  const [tables, values] = thing as unknown[];
  for (const [tableId, table] of Object.entries(checkObject(tables, "changed tables"))) {
    if (isDeleted(table)) continue;
    for (const [rowId, row] of Object.entries(checkObject(table, `table ${describe([tableId])}`))) {
      if (isDeleted(row)) continue;
      for (const [cellId, cell] of Object.entries(checkObject(row, `row ${describe([tableId, rowId])}`))) {
        if (!isDeleted(cell)) checkCell(cell, `cell ${describe([tableId, rowId, cellId])}`);
        checkPath([tableId, rowId, cellId]);
      }
    }
  }
  for (const [valueId, value] of Object.entries(checkObject(values, "changed values"))) {
    if (!isDeleted(value)) checkCell(value, `value ${describe([valueId])}`);
    checkPath([valueId]);
  }
  return thing as Changes;
};

/** Parses JSON text, turning a syntax error into `invalid_json`. */
export const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return fail("invalid_json", "The body is not valid JSON.");
  }
};

/** How many cells, rows, tables and values a changeset names (each deletion counts one). */
export const countChanges = ([tables, values]: Changes): number => {
  let count = 0;
  for (const tableId in tables) {
    const table = tables[tableId];
    if (isDeleted(table)) count++;
    else for (const rowId in table) count += isDeleted(table[rowId]) ? 1 : Object.keys(table[rowId]).length;
  }
  return count + Object.keys(values).length;
};

/** True when a changeset changes nothing. */
export const isEmptyChanges = ([tables, values]: Changes): boolean => {
  for (const _ in tables) return false;
  for (const _ in values) return false;
  return true;
};

/**
 * Changes as the event log holds them (SPEC: `null` for deletions). A cell or value really set to
 * `null` is logged as `"\uFFFDnull"`, TinyBase's own encoding of a JSON null, so that folding the
 * log over an empty store gives back the store exactly.
 */
export const changesForLog = (changes: Changes): Changes => [
  mapLeaves(changes[0], 2),
  mapLeaves(changes[1], 0),
  1,
] as Changes;

const mapLeaves = (things: Record<string, unknown>, depth: number): Record<string, unknown> => {
  const mapped: Record<string, unknown> = Object.create(null);
  for (const id in things) {
    const thing = things[id];
    mapped[id] = isDeleted(thing)
      ? null
      : thing === null
        ? LOGGED_NULL
        : depth > 0
          ? mapLeaves(thing as Record<string, unknown>, depth - 1)
          : thing;
  }
  return mapped;
};

/** How a real `null` cell or value is written in `$changes` data. */
export const LOGGED_NULL = JSON_CELL_PREFIX + "null";
