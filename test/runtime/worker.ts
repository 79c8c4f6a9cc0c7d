// The worker under test in workerd: the real entry, plus a room class with permission hooks.
import { Room } from "../../party/worker.ts";
import type { Cell, Changes } from "../../party/core/changes.ts";

export { default, LiveRoom, Room } from "../../party/worker.ts";

/** Refuses negative legs and the deletion of row "fido"; stamps every changeset. */
export class HookedRoom extends Room {
  override canSetCell(_tableId: string, _rowId: string, cellId: string, cell: Cell, initialSave: boolean) {
    return initialSave || cellId !== "legs" || (typeof cell === "number" && cell >= 0);
  }
  override async canDelRow(_tableId: string, rowId: string) {
    return rowId !== "fido";
  }
  override canApplyChanges([tables, values]: Changes, initialSave: boolean): Changes | boolean {
    return initialSave ? true : [tables, { ...values, stamped: true }, 1];
  }
}

/** Keeps only the newest five events. */
export class RetainingRoom extends Room {
  override config = { retention: { maxEvents: 5 } };
}
