// Stamped changes (TinyBase MergeableChanges) as plain data: their plain form, and merging them.
import { DELETED } from "../../protocol.ts";
import type { Changes } from "../store/changes.ts";
import { toEncoded } from "./stamps.ts";
import type { MergeableChanges, Stamp, TableStamps } from "./wire.ts";

/** The later of two HLCs ("" is the earliest). */
const latest = (a: string | undefined, b: string | undefined) => ((a ?? "") > (b ?? "") ? a : b);

/** Every cell and value `changes` names, as plain Changes (a stamp of undefined is a deletion). */
export const plainOf = ([[tables], [values]]: MergeableChanges): Changes => {
  const changes: Changes = [Object.create(null), Object.create(null), 1];
  for (const tableId in tables) {
    const rows = tables[tableId][0];
    const table: Record<string, Record<string, unknown>> = Object.create(null);
    for (const rowId in rows) {
      const cells = rows[rowId][0];
      const row: Record<string, unknown> = Object.create(null);
      for (const cellId in cells) row[cellId] = cells[cellId][0] === undefined ? DELETED : toEncoded(cells[cellId][0]);
      table[rowId] = row;
    }
    changes[0][tableId] = table as never;
  }
  for (const valueId in values) changes[1][valueId] = values[valueId][0] === undefined ? DELETED : (toEncoded(values[valueId][0]) as never);
  return changes;
};

/**
 * Adds `more` to `into`, as TinyBase's synchronizer assembles a diff from its answers
 * (mergeTablesStamps): a cell in both keeps `more`'s stamp, containers the later HLC.
 */
export const mergeTablesStamps = (into: Stamp<TableStamps>, [tables, tablesHlc]: Stamp<TableStamps>): void => {
  for (const tableId in tables) {
    const [rows, tableHlc] = tables[tableId];
    const table = (into[0][tableId] ??= [Object.create(null)]);
    for (const rowId in rows) {
      const [cells, rowHlc] = rows[rowId];
      const row = (table[0][rowId] ??= [Object.create(null)]);
      for (const cellId in cells) row[0][cellId] = cells[cellId];
      if (rowHlc) row[1] = latest(row[1], rowHlc);
    }
    if (tableHlc) table[1] = latest(table[1], tableHlc);
  }
  if (tablesHlc) into[1] = latest(into[1], tablesHlc);
};

/** One MergeableChanges saying all of `list`, the later stamp of each cell or value winning. */
export const mergeStamped = (list: MergeableChanges[]): MergeableChanges => {
  if (list.length === 1) return list[0];
  const merged: MergeableChanges = [[Object.create(null)], [Object.create(null)], 1];
  for (const [tables, values] of list) {
    for (const tableId in tables[0]) {
      const table = (merged[0][0][tableId] ??= [Object.create(null)]);
      for (const rowId in tables[0][tableId][0]) {
        const row = (table[0][rowId] ??= [Object.create(null)]);
        const cells = tables[0][tableId][0][rowId][0];
        for (const cellId in cells) {
          const current = row[0][cellId];
          if (!current || (cells[cellId][1] ?? "") > (current[1] ?? "")) row[0][cellId] = cells[cellId];
        }
      }
    }
    for (const valueId in values[0]) {
      const current = merged[1][0][valueId];
      if (!current || (values[0][valueId][1] ?? "") > (current[1] ?? "")) merged[1][0][valueId] = values[0][valueId];
    }
  }
  return merged;
};
