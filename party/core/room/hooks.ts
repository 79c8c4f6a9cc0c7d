// Permission hooks, with TinyBase's names and argument order (TinyBasePartyKitServer), plus one
// whole-changeset hook. All optional, async or not, and allowing when absent. `requestOrConnection`
// is whatever the adapter received: a Request, or the runtime's connection object.
import type { Cell, ChangedRow, ChangedTable, ChangedTables, ChangedValues, Changes } from "../store/changes.ts";
import { isDeleted } from "../store/changes.ts";
import type { StoreModel } from "../store/model.ts";
import type { PresenceState } from "../../protocol.ts";

type Answer = boolean | Promise<boolean>;

export interface RoomHooks {
  canSetTable?(tableId: string, initialSave: boolean, requestOrConnection: unknown): Answer;
  canDelTable?(tableId: string, connection: unknown): Answer;
  canSetRow?(tableId: string, rowId: string, initialSave: boolean, requestOrConnection: unknown): Answer;
  canDelRow?(tableId: string, rowId: string, connection: unknown): Answer;
  canSetCell?(
    tableId: string,
    rowId: string,
    cellId: string,
    cell: Cell,
    initialSave: boolean,
    requestOrConnection: unknown,
    oldCell: Cell | undefined,
  ): Answer;
  canDelCell?(tableId: string, rowId: string, cellId: string, connection: unknown): Answer;
  canSetValue?(valueId: string, value: Cell, initialSave: boolean, requestOrConnection: unknown, oldValue: Cell | undefined): Answer;
  canDelValue?(valueId: string, connection: unknown): Answer;
  /**
   * Sees a whole changeset before the per-item hooks: `true` lets it through, `false` rejects all of
   * it, and a returned Changes replaces it (a rewrite, validated like client input).
   */
  canApplyChanges?(changes: Changes, initialSave: boolean, requestOrConnection: unknown): boolean | Changes | Promise<boolean | Changes>;
  /** Sees a presence state before it is kept (presence.ts): `false` refuses it. Clearing one is always allowed. */
  canSetPresence?(state: PresenceState, connection: unknown): Answer;
}

const ITEM_HOOKS = [
  "canSetTable",
  "canDelTable",
  "canSetRow",
  "canDelRow",
  "canSetCell",
  "canDelCell",
  "canSetValue",
  "canDelValue",
] as const;

export const hasItemHooks = (hooks: RoomHooks): boolean => ITEM_HOOKS.some((name) => typeof hooks[name] === "function");

/** Hooks are methods of the room's class: whether any exists is decided once per hooks object. */
const presence = new WeakMap<RoomHooks, boolean>();
const hooksPresent = (hooks: RoomHooks): boolean => {
  let present = presence.get(hooks);
  if (present === undefined) presence.set(hooks, (present = hasItemHooks(hooks)));
  return present;
};

export interface Filtered {
  accepted: Changes;
  /** True when any part of the input was not accepted. */
  rejected: boolean;
}

/** Runs the per-item hooks over `changes` and keeps what they allow. */
export const filterChanges = async (
  hooks: RoomHooks,
  changes: Changes,
  { initialSave, origin, model }: { initialSave: boolean; origin: unknown; model: StoreModel },
): Promise<Filtered> => {
  if (!hooksPresent(hooks)) return { accepted: changes, rejected: false };
  const allow = async (answer: Answer | undefined): Promise<boolean> => (answer === undefined ? true : await answer);
  let rejected = false;
  const tables: ChangedTables = Object.create(null);
  for (const tableId in changes[0]) {
    const table = changes[0][tableId];
    if (isDeleted(table)) {
      if (await allow(hooks.canDelTable?.(tableId, origin))) tables[tableId] = table;
      else rejected = true;
      continue;
    }
    if (!(await allow(hooks.canSetTable?.(tableId, initialSave, origin)))) {
      rejected = true;
      continue;
    }
    const rows: ChangedTable = Object.create(null);
    for (const rowId in table) {
      const row = table[rowId];
      if (isDeleted(row)) {
        if (await allow(hooks.canDelRow?.(tableId, rowId, origin))) rows[rowId] = row;
        else rejected = true;
        continue;
      }
      if (!(await allow(hooks.canSetRow?.(tableId, rowId, initialSave, origin)))) {
        rejected = true;
        continue;
      }
      const cells: ChangedRow = Object.create(null);
      for (const cellId in row) {
        const cell = row[cellId];
        const ok = isDeleted(cell)
          ? await allow(hooks.canDelCell?.(tableId, rowId, cellId, origin))
          : await allow(hooks.canSetCell?.(tableId, rowId, cellId, cell, initialSave, origin, model.getCell(tableId, rowId, cellId)));
        if (ok) cells[cellId] = cell;
        else rejected = true;
      }
      if (Object.keys(cells).length > 0) rows[rowId] = cells;
    }
    if (Object.keys(rows).length > 0) tables[tableId] = rows;
  }
  const values: ChangedValues = Object.create(null);
  for (const valueId in changes[1]) {
    const value = changes[1][valueId];
    const ok = isDeleted(value)
      ? await allow(hooks.canDelValue?.(valueId, origin))
      : await allow(hooks.canSetValue?.(valueId, value, initialSave, origin, model.getValue(valueId)));
    if (ok) values[valueId] = value;
    else rejected = true;
  }
  return { accepted: [tables, values, 1], rejected };
};
