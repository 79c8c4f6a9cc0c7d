// The Selected panel: the cell or value selected, as the room has it now, and its editor.
// Keys in the editor: Enter saves (so do Ctrl+Enter and Cmd+Enter), Shift+Enter adds a line,
// Escape puts the room's value back; both return the keyboard to the grid (or the value's name).
// The line above the editor always shows the current value: after an edit the room refused, the
// value the room put back, even while the editor keeps the keyboard. The editor's own fields are
// refilled from it unless they are being typed in, and after a refusal in any case.
import type { Store } from "tinybase";
import { CellInputError, editText, formatCell, kindOf, parseCell, type CellKind } from "./cells.ts";
import { byId, element } from "./dom.ts";
import type { CellAddress } from "./grid.ts";
import { showHistory, type HistoryTarget } from "./log.ts";
import type { HttpOptions } from "../http.ts";
import type { createUndo } from "./undo.ts";

export type Target = { kind: "cell"; address: CellAddress } | { kind: "value"; id: string };

export interface EditorOptions {
  store: Store;
  http: HttpOptions;
  canWrite: () => boolean;
  undo: ReturnType<typeof createUndo>;
  /** After a save or Escape: give the keyboard back to where the target is shown. */
  back(target: Target): void;
  onError(error: Error): void;
}

export const createEditor = ({ store, http, canWrite, undo, back, onError }: EditorOptions) => {
  let selected: Target | undefined;
  /** A refusal came: the next change to the target refills the fields even while they are typed in. */
  let refillOnChange = false;
  const editor = byId<HTMLFormElement>("editor");
  const kind = editor.elements.namedItem("kind") as HTMLSelectElement;
  const text = editor.elements.namedItem("text") as HTMLTextAreaElement;
  const errorLine = byId("editor-error");

  const currentOf = (target: Target) =>
    target.kind === "cell" ? store.getCell(target.address.tableId, target.address.rowId, target.address.cellId) : store.getValue(target.id);
  const describe = (target: Target) =>
    target.kind === "cell" ? `cell ${target.address.tableId} / ${target.address.rowId} / ${target.address.cellId}` : `value ${target.id}`;

  const showTarget = (target: Target) => {
    const current = currentOf(target);
    const shown = current === undefined ? { text: "(no cell)", kind: "none" } : formatCell(current);
    byId("editor-target").replaceChildren(element("span", "", describe(target) + ": "), element("code", `t-${shown.kind}`, shown.text), element("span", "kind", ` ${shown.kind}`));
  };
  const fill = (target: Target) => {
    const current = currentOf(target);
    kind.value = current === undefined ? "string" : kindOf(current);
    text.value = editText(current);
    text.disabled = kind.value === "null";
  };

  const select = (target: Target) => {
    selected = target;
    refillOnChange = false;
    showTarget(target);
    fill(target);
    byId<HTMLFieldSetElement>("editor-fields").disabled = false;
    byId("history-row").hidden = target.kind !== "cell";
    errorLine.textContent = "";
    byId("history").replaceChildren();
  };

  kind.addEventListener("change", () => (text.disabled = kind.value === "null"));
  editor.addEventListener("submit", (submit) => {
    submit.preventDefault();
    if (!selected || !canWrite()) return;
    const target = selected;
    try {
      const value = parseCell(kind.value as CellKind, text.value) as never;
      if (target.kind === "cell") store.setCell(target.address.tableId, target.address.rowId, target.address.cellId, value);
      else store.setValue(target.id, value);
    } catch (error) {
      if (!(error instanceof CellInputError)) throw error;
      errorLine.textContent = error.message;
      return;
    }
    showTarget(target);
    back(target);
  });
  text.addEventListener("keydown", (event) => {
    if (!selected) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      editor.requestSubmit();
    } else if (event.key === "Escape") {
      event.preventDefault();
      fill(selected);
      errorLine.textContent = "";
      back(selected);
    }
  });
  byId("delete-selected").addEventListener("click", () => {
    if (!selected || !canWrite()) return;
    if (selected.kind === "cell") undo.delCell(selected.address.tableId, selected.address.rowId, selected.address.cellId);
    else undo.delValue(selected.id);
    select(selected);
  });

  const history = (target: HistoryTarget) => void showHistory(http, target, byId("history")).catch(onError);
  byId("history-cell").addEventListener("click", () => {
    if (selected?.kind === "cell") history({ table: selected.address.tableId, row: selected.address.rowId, cell: selected.address.cellId });
    else if (selected) history({ value: selected.id });
  });
  byId("history-row").addEventListener("click", () => {
    if (selected?.kind === "cell") history({ table: selected.address.tableId, row: selected.address.rowId });
  });

  // A selected cell or value that changes (elsewhere, or put back by the room) shows its new state.
  store.addDidFinishTransactionListener(() => {
    if (!selected) return;
    const [tables, values] = store.getTransactionChanges();
    if (!(selected.kind === "cell" ? tables[selected.address.tableId] : values)) return;
    showTarget(selected);
    if (refillOnChange || document.activeElement !== text) fill(selected);
    refillOnChange = false;
  });

  return {
    select,
    /** Enter or a double click on a cell: select it and type. */
    edit(target: Target) {
      select(target);
      if (canWrite()) text.focus();
    },
    /** The room refused an edit: say why, and show the room's value once it is back. */
    rejected(error: Error) {
      errorLine.textContent = error.message;
      refillOnChange = true;
      // The correction is usually written right after the refusal is reported (store-sync's undo).
      queueMicrotask(() => {
        if (!selected) return;
        showTarget(selected);
        fill(selected);
      });
    },
    /** Shows an error in the panel (history that could not be read, filters). */
    error(message: string) {
      errorLine.textContent = message;
    },
  };
};
