// One table of the store as a virtualized grid: the page holds the rows on screen (plus a few
// above and below), placed by TanStack's framework-free virtualizer, never the whole table. Costs:
// - a cell edit reaches the grid through one TinyBase cell listener, which updates that cell's
//   element if it is on screen: the same work in a table of ten cells or of a million;
// - scrolling renders the rows that come into view;
// - adding or deleting rows re-reads the table's row ids (TinyBase's row ids listener), and a new
//   or vanished cell id re-reads its columns: structural changes only.
// Keyboard: arrow keys, Home/End and PageUp/PageDown move the active cell; Enter edits it; Delete
// deletes it (the editor panel does the writing).
import { elementScroll, observeElementOffset, observeElementRect, Virtualizer } from "@tanstack/virtual-core";
import type { Store } from "tinybase";
import { element } from "./dom.ts";
import { addressAt, markActive, refreshColumns, refreshRows, renderHeader, renderRows, showCell, type CellAddress, type GridHandlers, type GridView } from "./grid-view.ts";

/** Row height in CSS pixels (fixed, so that the virtualizer needs no measuring). */
export const ROW_PX = 28;
/** Rows rendered beyond each edge of the viewport, so that a quick scroll shows no blank. */
const OVERSCAN_ROWS = 8;

const stopListening = (grid: GridView) => {
  for (const id of grid.listeners) grid.store.delListener(id);
  grid.listeners = [];
};

const focusActive = (grid: GridView) => {
  grid.virtualizer.scrollToIndex(grid.active.row, { align: "auto" });
  // The virtualizer renders the row on its next change; focus once it is there.
  requestAnimationFrame(() => {
    const address = addressAt(grid, grid.active.row, grid.active.column);
    const node = address && grid.rendered.get(address.rowId)?.cells.get(address.cellId);
    node?.focus();
    if (address) grid.handlers.select(address);
  });
};

const addressOf = (grid: GridView, target: EventTarget | null): CellAddress | undefined => {
  const node = (target as HTMLElement | null)?.closest<HTMLElement>("[role=gridcell]");
  const rowId = node?.closest<HTMLElement>("[data-row]")?.dataset.row;
  return node && rowId !== undefined ? { tableId: grid.tableId, rowId, cellId: node.dataset.cell! } : undefined;
};

const moveTo = (grid: GridView, address: CellAddress) => {
  grid.active.row = Math.max(0, grid.rowIds.indexOf(address.rowId));
  grid.active.column = Math.max(0, grid.cellIds.indexOf(address.cellId));
  markActive(grid);
};

const onClick = (grid: GridView, event: MouseEvent) => {
  const button = (event.target as HTMLElement).closest<HTMLElement>("[data-action=delete-row]");
  if (button) {
    const rowId = button.closest<HTMLElement>("[data-row]")?.dataset.row;
    if (rowId !== undefined) grid.handlers.deleteRow(grid.tableId, rowId);
    return;
  }
  const address = addressOf(grid, event.target);
  if (!address) return;
  moveTo(grid, address);
  grid.handlers.select(address);
};

const onKeyDown = (grid: GridView, event: KeyboardEvent) => {
  const { active, rowIds, cellIds } = grid;
  const page = Math.max(1, Math.floor(grid.scroller.clientHeight / ROW_PX) - 2);
  const moves: Record<string, [number, number]> = {
    ArrowUp: [-1, 0],
    ArrowDown: [1, 0],
    ArrowLeft: [0, -1],
    ArrowRight: [0, 1],
    PageUp: [-page, 0],
    PageDown: [page, 0],
    Home: [event.ctrlKey ? -rowIds.length : 0, -cellIds.length],
    End: [event.ctrlKey ? rowIds.length : 0, cellIds.length],
  };
  const move = moves[event.key];
  if (move) {
    event.preventDefault();
    active.row = Math.min(Math.max(0, active.row + move[0]), Math.max(0, rowIds.length - 1));
    active.column = Math.min(Math.max(0, active.column + move[1]), Math.max(0, cellIds.length - 1));
    markActive(grid);
    focusActive(grid);
    return;
  }
  const address = addressAt(grid, active.row, active.column);
  if (!address) return;
  if (event.key === "Enter" || event.key === "F2") {
    event.preventDefault();
    grid.handlers.edit(address);
  } else if (event.key === "Delete") {
    event.preventDefault();
    grid.handlers.deleteCell(address);
  }
};

/** Shows a table (or none, with ""): listens to it alone. */
const show = (grid: GridView, id: string) => {
  const { store, scroller } = grid;
  stopListening(grid);
  grid.tableId = id;
  scroller.setAttribute("aria-label", id ? `Table ${id}` : "No table");
  grid.active.row = grid.active.column = 0;
  scroller.scrollTop = 0;
  if (id) {
    grid.listeners = [
      store.addCellListener(id, null, null, (_store, _table, rowId, cellId) => {
        const node = grid.rendered.get(rowId)?.cells.get(cellId);
        if (node) showCell(node, store, { tableId: id, rowId, cellId });
      }),
      store.addRowIdsListener(id, () => refreshRows(grid)),
      store.addTableCellIdsListener(id, () => refreshColumns(grid)),
    ];
  }
  grid.cellIds = id ? store.getTableCellIds(id) : [];
  renderHeader(grid);
  grid.rendered.clear(); // another table's rows, even where a row id is the same
  refreshRows(grid);
};

export const createTableGrid = (store: Store, root: HTMLElement, handlers: GridHandlers) => {
  const scroller = element("div", "grid-scroll");
  scroller.setAttribute("role", "grid");
  const header = element("div", "grid-row grid-head");
  header.setAttribute("role", "row");
  header.setAttribute("aria-rowindex", "1");
  const space = element("div", "grid-space");
  scroller.append(space);
  root.replaceChildren(scroller);

  const virtualizer = new Virtualizer<HTMLDivElement, HTMLDivElement>({
    count: 0,
    getScrollElement: () => scroller,
    estimateSize: () => ROW_PX,
    scrollToFn: elementScroll,
    observeElementRect,
    observeElementOffset,
    overscan: OVERSCAN_ROWS,
    // The sticky header takes the first row's place: items start below it, and a row scrolled
    // into view stops below it.
    paddingStart: ROW_PX,
    scrollPaddingStart: ROW_PX,
    onChange: () => renderRows(grid),
  });
  const grid: GridView = {
    store,
    handlers,
    scroller,
    header,
    space,
    virtualizer,
    tableId: "",
    rowIds: [],
    cellIds: [],
    rendered: new Map(),
    active: { row: 0, column: 0 },
    listeners: [],
    reportedFirstRows: false,
  };
  const unmount = virtualizer._didMount();

  scroller.addEventListener("click", (event) => onClick(grid, event));
  scroller.addEventListener("dblclick", (event) => {
    const address = addressOf(grid, event.target);
    if (address) handlers.edit(address);
  });
  scroller.addEventListener("keydown", (event) => onKeyDown(grid, event));

  return {
    show: (id: string) => show(grid, id),
    /** Scrolls to a row and makes its cell the active one. */
    reveal(address: CellAddress) {
      if (address.tableId !== grid.tableId) return;
      moveTo(grid, address);
      focusActive(grid);
    },
    /** Reads the rows to show again (the search or the sort changed). */
    refresh: () => refreshRows(grid),
    get tableId() {
      return grid.tableId;
    },
    destroy() {
      stopListening(grid);
      unmount();
    },
  };
};

export type TableGrid = ReturnType<typeof createTableGrid>;
