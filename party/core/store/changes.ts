// TinyBase content and changesets: their types and their validation at the boundary.
// Postcondition of every `parse*` here: the result is exactly TinyBase's shape, every id path fits a
// storage key and every cell fits a storage value; otherwise a RoomError and nothing else happened.
import { DELETED, LOGGED_NULL, MAX_CELL_CHARS, MAX_PATH_CHARS } from "../../protocol.ts";
import { fail } from "../common/errors.ts";
import { unstorableReason } from "../common/validation.ts";

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
      // Depth first: a value storage cannot serialize must not reach JSON.stringify either.
      return cell === null ? 4 : unstorableReason(cell) === undefined ? JSON.stringify(cell).length : undefined;
    default:
      return undefined;
  }
};

const checkCell = (cell: unknown, ids: string[]): void => {
  const chars = cellChars(cell);
  if (chars === undefined) {
    const reason = typeof cell === "object" && cell !== null ? unstorableReason(cell) : undefined;
    const detail = reason ? ` (it ${reason})` : "";
    fail("invalid_content", `${ids.length === 3 ? "cell" : "value"} ${describe(ids)} is not a TinyBase cell or value${detail}.`);
  } else if (chars > MAX_CELL_CHARS) {
    fail("too_large", `${ids.length === 3 ? "cell" : "value"} ${describe(ids)} is larger than ${MAX_CELL_CHARS} JSON characters.`);
  }
};

/** Ids are JSON-escaped in keys: only a path whose raw length is near the limit needs measuring. */
const checkPath = (...ids: string[]): void => {
  let raw = 0;
  for (const id of ids) raw += id.length + 3;
  if (raw * 6 <= MAX_PATH_CHARS) return;
  if (JSON.stringify(ids).length > MAX_PATH_CHARS) {
    fail("too_large", `The id path ${JSON.stringify(ids).slice(0, 64)}… is longer than ${MAX_PATH_CHARS} characters.`);
  }
};

const describe = (ids: string[]): string => ids.map((id) => JSON.stringify(id)).join("/");

/** Validates TinyBase Content (a PUT body): no deletions allowed. */
export const parseContent = (thing: unknown): Content => {
  if (!Array.isArray(thing) || thing.length !== 2) {
    fail("invalid_content", "Content must be a JSON array [tables, values].");
  }
  const [tables, values] = thing as unknown[];
  checkLevels(tables, values, false);
  return thing as Content;
};

/** Validates TinyBase Changes (a `s` frame's payload): DELETED allowed at every level. */
export const parseChanges = (thing: unknown): Changes => {
  if (!Array.isArray(thing) || thing.length !== 3 || thing[2] !== 1) {
    fail("invalid_content", "Changes must be a JSON array [changedTables, changedValues, 1].");
  }
  const [tables, values] = thing as unknown[];
  checkLevels(tables, values, true);
  return thing as Changes;
};

/** Walks tables and values once; messages are built only on failure (this is a hot path). */
const checkLevels = (tables: unknown, values: unknown, deletions: boolean): void => {
  const deleted = (thing: unknown, ids: string[]) => {
    if (!isDeleted(thing)) return false;
    if (!deletions) fail("invalid_content", `${describe(ids)}: content cannot hold deletions.`);
    return true;
  };
  if (!isPlainObject(tables)) fail("invalid_content", "tables must be a JSON object.");
  for (const tableId in tables as object) {
    const table = (tables as Record<string, unknown>)[tableId];
    if (deleted(table, [tableId])) continue;
    if (!isPlainObject(table)) return fail("invalid_content", `table ${describe([tableId])} must be a JSON object.`);
    for (const rowId in table) {
      const row = table[rowId];
      if (deleted(row, [tableId, rowId])) continue;
      if (!isPlainObject(row)) return fail("invalid_content", `row ${describe([tableId, rowId])} must be a JSON object.`);
      for (const cellId in row) {
        const cell = row[cellId];
        if (!deleted(cell, [tableId, rowId, cellId])) checkCell(cell, [tableId, rowId, cellId]);
        // TinyBase reads "\uFFFDnull" as null; keeping it as null keeps the log unambiguous.
        if (cell === LOGGED_NULL) row[cellId] = null;
        checkPath(tableId, rowId, cellId);
      }
    }
  }
  if (!isPlainObject(values)) fail("invalid_content", "values must be a JSON object.");
  for (const valueId in values as object) {
    const value = (values as Record<string, unknown>)[valueId];
    if (!deleted(value, [valueId])) checkCell(value, [valueId]);
    if (value === LOGGED_NULL) (values as Record<string, unknown>)[valueId] = null;
    checkPath(valueId);
  }
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
