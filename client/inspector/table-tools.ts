// The search and sort of the table shown (the form #row-tools above the grid), and the row counts
// of the table tabs. The grid asks `rowIds(tableId)` for the rows it shows, whenever rows come or
// go or the query changes; a cell edit does not re-sort or re-filter (the row being edited stays
// where it is, and an edit costs the same in any room), the next change of the query does.
// Each computation is timed as the performance measure "inspector:rows" (the browser test reads it).
import type { Store } from "tinybase";
import { element } from "./dom.ts";
import { EVERY_ROW, isEveryRow, orderRows, type RowQuery, type RowSort } from "./rows.ts";

/** Typing waits this long for the next key before the rows are searched again. */
const SEARCH_DEBOUNCE_MS = 120;
const STORE_ORDER = "";
/** Option values "" (store order), "row" and "cell:<id>" cannot collide. */
const BY_ROW_ID = "row";
const cellOption = (cellId: string) => `cell:${cellId}`;

export interface TableToolsOptions {
  store: Store;
  form: HTMLFormElement;
  /** Says how many rows the query shows, of how many. */
  count: HTMLElement;
  /** Called when the query changed: the grid reads `rowIds` again. */
  onChange(): void;
}

export const createTableTools = ({ store, form, count, onChange }: TableToolsOptions) => {
  const field = <T extends HTMLElement>(name: string) => form.elements.namedItem(name) as unknown as T;
  const search = field<HTMLInputElement>("search");
  const sortBy = field<HTMLSelectElement>("sort");
  const order = field<HTMLSelectElement>("order");
  let query: RowQuery = EVERY_ROW;
  let tableId = "";
  let timer: ReturnType<typeof setTimeout> | undefined;

  const sortOf = (value: string): RowSort =>
    value === STORE_ORDER ? { by: "store" } : value === BY_ROW_ID ? { by: "row" } : { by: "cell", cellId: value.slice("cell:".length) };

  const read = () => {
    clearTimeout(timer);
    query = { search: search.value, sort: sortOf(sortBy.value), descending: order.value === "desc" };
    onChange();
  };
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(read, SEARCH_DEBOUNCE_MS);
  });
  sortBy.addEventListener("change", read);
  order.addEventListener("change", read);
  form.addEventListener("submit", (submit) => {
    submit.preventDefault();
    read();
  });

  /** The sort choices of the table shown: store order, row id, then each of its columns. */
  const showColumns = () => {
    const chosen = sortBy.value;
    const cellIds = tableId ? store.getTableCellIds(tableId) : [];
    sortBy.replaceChildren(
      Object.assign(element("option", "", "store order"), { value: STORE_ORDER }),
      Object.assign(element("option", "", "row id"), { value: BY_ROW_ID }),
      ...cellIds.map((cellId) => Object.assign(element("option", "", cellId), { value: cellOption(cellId) })),
    );
    // A column this table does not have: back to the store's order.
    sortBy.value = [...sortBy.options].some((option) => option.value === chosen) ? chosen : STORE_ORDER;
    if (sortBy.value !== chosen) query = { ...query, sort: { by: "store" } };
  };
  store.addTableCellIdsListener(null, (_store, changed) => changed === tableId && showColumns());

  return {
    /** The grid shows another table: its columns become the sort choices; the search stays. */
    show(id: string) {
      tableId = id;
      showColumns();
    },
    /** The rows of a table to show, in order. */
    rowIds(id: string): string[] {
      const all = store.getRowIds(id);
      if (isEveryRow(query)) {
        count.textContent = "";
        return all;
      }
      const started = performance.now();
      const cells = {
        forEachCell: (rowId: string, visit: (cell: unknown) => void) => store.forEachCell(id, rowId, (_cellId, cell) => visit(cell)),
        getCell: (rowId: string, cellId: string) => store.getCell(id, rowId, cellId),
      };
      const shown = orderRows(cells, all, query);
      performance.measure("inspector:rows", { start: started, end: performance.now() });
      count.textContent = `${shown.length.toLocaleString("en")} of ${all.length.toLocaleString("en")} rows`;
      return shown;
    },
  };
};

/** Each table tab's count of rows, kept current by one row count listener. */
export const showRowCounts = (store: Store, tabs: HTMLElement) => {
  const update = () => {
    for (const badge of tabs.querySelectorAll<HTMLElement>("[data-row-count]")) {
      badge.textContent = store.getRowCount(badge.dataset.rowCount!).toLocaleString("en");
    }
  };
  store.addRowCountListener(null, update);
  return update;
};
