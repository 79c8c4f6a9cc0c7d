// Deletions in the inspector take effect at once and can be taken back for UNDO_MS: a bar says what
// went ("Row fido deleted") with an Undo button, which writes the deleted cells back through the
// page's store, as any edit is written (one changeset, through the room's hooks). One offer at a
// time: a newer deletion replaces it, and a deletion undone is not offered again.
import type { Store } from "tinybase";

/** How long a deletion can be undone, in ms. */
export const UNDO_MS = 8_000;

export const createUndo = (store: Store, bar: HTMLElement) => {
  const text = bar.querySelector("span")!;
  const button = bar.querySelector("button")!;
  let restore: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const hide = () => {
    clearTimeout(timer);
    restore = undefined;
    bar.hidden = true;
  };
  const offer = (message: string, undo: () => void) => {
    clearTimeout(timer);
    restore = undo;
    text.textContent = message;
    bar.hidden = false;
    timer = setTimeout(hide, UNDO_MS);
  };
  button.addEventListener("click", () => {
    const undo = restore;
    hide();
    undo?.();
  });

  return {
    /** Deletes a row; Undo writes its cells back (partially: cells another client added since stay). */
    delRow(tableId: string, rowId: string) {
      const row = store.getRow(tableId, rowId);
      if (Object.keys(row).length === 0) return;
      store.delRow(tableId, rowId);
      offer(`Row ${rowId} deleted`, () => store.setPartialRow(tableId, rowId, row));
    },
    delCell(tableId: string, rowId: string, cellId: string) {
      if (!store.hasCell(tableId, rowId, cellId)) return;
      const cell = store.getCell(tableId, rowId, cellId)!;
      store.delCell(tableId, rowId, cellId);
      offer(`Cell ${rowId} / ${cellId} deleted`, () => store.setCell(tableId, rowId, cellId, cell));
    },
    delValue(valueId: string) {
      if (!store.hasValue(valueId)) return;
      const value = store.getValue(valueId)!;
      store.delValue(valueId);
      offer(`Value ${valueId} deleted`, () => store.setValue(valueId, value));
    },
    hide,
  };
};

export type Undo = ReturnType<typeof createUndo>;
