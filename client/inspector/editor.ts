// The Selected panel: the cell or value selected, as the room has it now, and its editor.
// Keys in the editor: Enter saves (so do Ctrl+Enter and Cmd+Enter), Shift+Enter adds a line,
// Escape puts the room's value back; both return the keyboard to the grid (or the value's name).
// The line above the editor always shows the current value: after an edit the room refused, the
// value the room put back, even while the editor keeps the keyboard. The editor's own fields are
// refilled from it unless they are being typed in, and after a refusal in any case.
import type { Store } from "tinybase";
import { CellInputError, editText, formatCell, kindOf, parseCell, type CellKind } from "./cells.ts";
import { byId, element } from "./dom.ts";
import type { CellAddress } from "./grid-view.ts";
import { showHistory, type HistoryTarget } from "./log.ts";
import type { HttpOptions } from "../http.ts";
import type { Undo } from "./undo.ts";

export type Target = { kind: "cell"; address: CellAddress } | { kind: "value"; id: string };

export interface EditorOptions {
  store: Store;
  http: HttpOptions;
  canWrite: () => boolean;
  undo: Undo;
  /** After a save or Escape: give the keyboard back to where the target is shown. */
  back(target: Target): void;
  onError(error: Error): void;
}

/** One editor's elements and state, which the functions below share. */
interface EditorState {
  readonly options: EditorOptions;
  readonly form: HTMLFormElement;
  readonly kind: HTMLSelectElement;
  readonly text: HTMLTextAreaElement;
  readonly errorLine: HTMLElement;
  selected: Target | undefined;
  /** A refusal came: the next change to the target refills the fields even while they are typed in. */
  refillOnChange: boolean;
}

const currentOf = (store: Store, target: Target) =>
  target.kind === "cell" ? store.getCell(target.address.tableId, target.address.rowId, target.address.cellId) : store.getValue(target.id);
const describe = (target: Target) =>
  target.kind === "cell" ? `cell ${target.address.tableId} / ${target.address.rowId} / ${target.address.cellId}` : `value ${target.id}`;

const showTarget = (editor: EditorState, target: Target) => {
  const current = currentOf(editor.options.store, target);
  const shown = current === undefined ? { text: "(no cell)", kind: "none" } : formatCell(current);
  byId("editor-target").replaceChildren(element("span", "", describe(target) + ": "), element("code", `t-${shown.kind}`, shown.text), element("span", "kind", ` ${shown.kind}`));
};

const fill = (editor: EditorState, target: Target) => {
  const current = currentOf(editor.options.store, target);
  editor.kind.value = current === undefined ? "string" : kindOf(current);
  editor.text.value = editText(current);
  editor.text.disabled = editor.kind.value === "null";
};

const select = (editor: EditorState, target: Target) => {
  editor.selected = target;
  editor.refillOnChange = false;
  showTarget(editor, target);
  fill(editor, target);
  byId<HTMLFieldSetElement>("editor-fields").disabled = false;
  byId("history-row").hidden = target.kind !== "cell";
  editor.errorLine.textContent = "";
  byId("history").replaceChildren();
};

const save = (editor: EditorState) => {
  const { store, canWrite, back } = editor.options;
  if (!editor.selected || !canWrite()) return;
  const target = editor.selected;
  try {
    const value = parseCell(editor.kind.value as CellKind, editor.text.value) as never;
    if (target.kind === "cell") store.setCell(target.address.tableId, target.address.rowId, target.address.cellId, value);
    else store.setValue(target.id, value);
  } catch (error) {
    if (!(error instanceof CellInputError)) throw error;
    editor.errorLine.textContent = error.message;
    return;
  }
  showTarget(editor, target);
  back(target);
};

const onKeyDown = (editor: EditorState, event: KeyboardEvent) => {
  const { selected } = editor;
  if (!selected) return;
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    editor.form.requestSubmit();
  } else if (event.key === "Escape") {
    event.preventDefault();
    fill(editor, selected);
    editor.errorLine.textContent = "";
    editor.options.back(selected);
  }
};

const deleteSelected = (editor: EditorState) => {
  const { selected } = editor;
  if (!selected || !editor.options.canWrite()) return;
  if (selected.kind === "cell") editor.options.undo.delCell(selected.address.tableId, selected.address.rowId, selected.address.cellId);
  else editor.options.undo.delValue(selected.id);
  select(editor, selected);
};

const listenForHistory = (editor: EditorState) => {
  const history = (target: HistoryTarget) => void showHistory(editor.options.http, target, byId("history")).catch(editor.options.onError);
  byId("history-cell").addEventListener("click", () => {
    const { selected } = editor;
    if (selected?.kind === "cell") history({ table: selected.address.tableId, row: selected.address.rowId, cell: selected.address.cellId });
    else if (selected) history({ value: selected.id });
  });
  byId("history-row").addEventListener("click", () => {
    const { selected } = editor;
    if (selected?.kind === "cell") history({ table: selected.address.tableId, row: selected.address.rowId });
  });
};

/** A selected cell or value that changes (elsewhere, or put back by the room) shows its new state. */
const onStoreChange = (editor: EditorState) => {
  const { selected } = editor;
  if (!selected) return;
  const [tables, values] = editor.options.store.getTransactionChanges();
  if (!(selected.kind === "cell" ? tables[selected.address.tableId] : values)) return;
  showTarget(editor, selected);
  if (editor.refillOnChange || document.activeElement !== editor.text) fill(editor, selected);
  editor.refillOnChange = false;
};

export const createEditor = (options: EditorOptions) => {
  const form = byId<HTMLFormElement>("editor");
  const editor: EditorState = {
    options,
    form,
    kind: form.elements.namedItem("kind") as HTMLSelectElement,
    text: form.elements.namedItem("text") as HTMLTextAreaElement,
    errorLine: byId("editor-error"),
    selected: undefined,
    refillOnChange: false,
  };
  editor.kind.addEventListener("change", () => (editor.text.disabled = editor.kind.value === "null"));
  form.addEventListener("submit", (submit) => {
    submit.preventDefault();
    save(editor);
  });
  editor.text.addEventListener("keydown", (event) => onKeyDown(editor, event));
  byId("delete-selected").addEventListener("click", () => deleteSelected(editor));
  listenForHistory(editor);
  options.store.addDidFinishTransactionListener(() => onStoreChange(editor));

  return {
    select: (target: Target) => select(editor, target),
    /** Enter or a double click on a cell: select it and type. */
    edit(target: Target) {
      select(editor, target);
      if (options.canWrite()) editor.text.focus();
    },
    /** The room refused an edit: say why, and show the room's value once it is back. */
    rejected(error: Error) {
      editor.errorLine.textContent = error.message;
      editor.refillOnChange = true;
      // The correction is usually written right after the refusal is reported (store-sync's undo).
      queueMicrotask(() => {
        if (!editor.selected) return;
        showTarget(editor, editor.selected);
        fill(editor, editor.selected);
      });
    },
    /** Shows an error in the panel (history that could not be read, filters). */
    error(message: string) {
      editor.errorLine.textContent = message;
    },
  };
};
