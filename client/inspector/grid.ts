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
import { formatCell } from "./cells.ts";
import { element } from "./dom.ts";

/** Row height in CSS pixels (fixed, so that the virtualizer needs no measuring). */
export const ROW_PX = 28;
/** Rows rendered beyond each edge of the viewport, so that a quick scroll shows no blank. */
const OVERSCAN_ROWS = 8;

export interface CellAddress {
  tableId: string;
  rowId: string;
  cellId: string;
}

export interface GridHandlers {
  /** A cell was chosen (click or keyboard): show it in the editor. */
  select(address: CellAddress): void;
  /** Enter on a cell, or a double click: move to the editor's input. */
  edit(address: CellAddress): void;
  /** Delete on a cell. */
  deleteCell(address: CellAddress): void;
  deleteRow(tableId: string, rowId: string): void;
  /** The first rows of a table were put on the page (the bench's "time to first rows"). */
  firstRows?(tableId: string): void;
  /** The rows to show, in order (a search, a sort); default: every row, in the store's order. */
  rowIds?(tableId: string): string[];
}

interface RenderedRow {
  element: HTMLElement;
  cells: Map<string, HTMLElement>;
}


const showCell = (node: HTMLElement, store: Store, { tableId, rowId, cellId }: CellAddress) => {
  if (!store.hasCell(tableId, rowId, cellId)) {
    node.textContent = "";
    node.className = "cell t-none";
    node.title = "no cell";
    return;
  }
  const { text, kind } = formatCell(store.getCell(tableId, rowId, cellId));
  node.textContent = text;
  node.className = `cell t-${kind}`;
  node.title = kind;
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

  let tableId = "";
  let rowIds: string[] = [];
  let cellIds: string[] = [];
  const rendered = new Map<string, RenderedRow>();
  const active = { row: 0, column: 0 };
  let listeners: string[] = [];
  let reportedFirstRows = false;

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
    onChange: () => renderRows(),
  });
  const unmount = virtualizer._didMount();

  const addressAt = (row: number, column: number): CellAddress | undefined =>
    rowIds[row] !== undefined && cellIds[column] !== undefined ? { tableId, rowId: rowIds[row], cellId: cellIds[column] } : undefined;

  const gridWidth = () => `calc(var(--row-head) + ${cellIds.length} * var(--cell-width))`;

  const renderHeader = () => {
    const corner = element("div", "row-head", "row id");
    corner.setAttribute("role", "columnheader");
    header.replaceChildren(
      corner,
      ...cellIds.map((cellId) => {
        const node = element("div", "cell", cellId);
        node.setAttribute("role", "columnheader");
        node.title = cellId;
        return node;
      }),
    );
    header.style.width = space.style.width = gridWidth();
    scroller.setAttribute("aria-colcount", String(cellIds.length + 1));
  };

  const buildRow = (rowId: string, index: number): RenderedRow => {
    const row = element("div", "grid-row");
    row.setAttribute("role", "row");
    row.dataset.row = rowId;
    const head = element("div", "row-head");
    head.setAttribute("role", "rowheader");
    const label = element("span", "row-id", rowId);
    label.title = rowId;
    const remove = element("button", "icon write", "×");
    remove.type = "button";
    remove.tabIndex = -1;
    remove.dataset.action = "delete-row";
    remove.setAttribute("aria-label", `Delete row ${rowId}`);
    head.append(label, remove);
    row.append(head);
    const cells = new Map<string, HTMLElement>();
    cellIds.forEach((cellId, column) => {
      const node = element("div");
      node.setAttribute("role", "gridcell");
      node.dataset.cell = cellId;
      node.dataset.column = String(column);
      showCell(node, store, { tableId, rowId, cellId });
      cells.set(cellId, node);
      row.append(node);
    });
    row.setAttribute("aria-rowindex", String(index + 2));
    return { element: row, cells };
  };

  const markActive = () => {
    for (const [rowId, { cells }] of rendered) {
      for (const [cellId, node] of cells) {
        const isActive = rowId === rowIds[active.row] && cellId === cellIds[active.column];
        node.tabIndex = isActive ? 0 : -1;
        node.setAttribute("aria-selected", String(isActive));
      }
    }
  };

  /**
   * Puts `ordered` after the header, inserting only the rows that came: a row that stays is never
   * taken out of the page. A node taken out, even to go straight back, loses focus, and a click
   * pressed on it before and released after lands on the grid instead (Chromium retargets it).
   * The virtualizer re-renders on each scroll and 150 ms after (its isScrolling flag): a click
   * right after a scroll would select nothing, and the keyboard would go on from the old cell.
   */
  const placeRows = (ordered: HTMLElement[]) => {
    if (header.parentNode !== space) space.prepend(header);
    let next = header.nextSibling;
    for (const row of ordered) {
      if (row === next) next = row.nextSibling;
      else space.insertBefore(row, next);
    }
    while (next) {
      const after = next.nextSibling;
      next.remove();
      next = after;
    }
  };

  function renderRows() {
    const items = virtualizer.getVirtualItems();
    const keep = new Set<string>();
    const ordered: HTMLElement[] = [];
    for (const item of items) {
      const rowId = rowIds[item.index];
      if (rowId === undefined) continue;
      keep.add(rowId);
      let row = rendered.get(rowId);
      if (!row) rendered.set(rowId, (row = buildRow(rowId, item.index)));
      row.element.setAttribute("aria-rowindex", String(item.index + 2));
      row.element.style.transform = `translateY(${item.start}px)`;
      ordered.push(row.element);
    }
    for (const [rowId, row] of [...rendered]) {
      if (keep.has(rowId)) continue;
      row.element.remove();
      rendered.delete(rowId);
    }
    space.style.height = `${virtualizer.getTotalSize()}px`;
    placeRows(ordered);
    markActive();
    if (!reportedFirstRows && ordered.length > 0) {
      reportedFirstRows = true;
      handlers.firstRows?.(tableId);
    }
  }

  const refreshRows = () => {
    rowIds = !tableId ? [] : handlers.rowIds ? handlers.rowIds(tableId) : store.getRowIds(tableId);
    active.row = Math.min(active.row, Math.max(0, rowIds.length - 1));
    scroller.setAttribute("aria-rowcount", String(rowIds.length + 1));
    virtualizer.setOptions({ ...virtualizer.options, count: rowIds.length });
    virtualizer._willUpdate();
    // Rows that stay keep their element (renderRows places them where they now are); only rows
    // that came are built and only rows that went are removed.
    renderRows();
  };

  const refreshColumns = () => {
    cellIds = tableId ? store.getTableCellIds(tableId) : [];
    active.column = Math.min(active.column, Math.max(0, cellIds.length - 1));
    renderHeader();
    rendered.clear();
    renderRows();
  };

  const stopListening = () => {
    for (const id of listeners) store.delListener(id);
    listeners = [];
  };

  const focusActive = () => {
    virtualizer.scrollToIndex(active.row, { align: "auto" });
    // The virtualizer renders the row on its next change; focus once it is there.
    requestAnimationFrame(() => {
      const address = addressAt(active.row, active.column);
      const node = address && rendered.get(address.rowId)?.cells.get(address.cellId);
      node?.focus();
      if (address) handlers.select(address);
    });
  };

  const addressOf = (target: EventTarget | null): CellAddress | undefined => {
    const node = (target as HTMLElement | null)?.closest<HTMLElement>("[role=gridcell]");
    const rowId = node?.closest<HTMLElement>("[data-row]")?.dataset.row;
    return node && rowId !== undefined ? { tableId, rowId, cellId: node.dataset.cell! } : undefined;
  };

  const moveTo = (address: CellAddress) => {
    active.row = Math.max(0, rowIds.indexOf(address.rowId));
    active.column = Math.max(0, cellIds.indexOf(address.cellId));
    markActive();
  };

  scroller.addEventListener("click", (event) => {
    const button = (event.target as HTMLElement).closest<HTMLElement>("[data-action=delete-row]");
    if (button) {
      const rowId = button.closest<HTMLElement>("[data-row]")?.dataset.row;
      if (rowId !== undefined) handlers.deleteRow(tableId, rowId);
      return;
    }
    const address = addressOf(event.target);
    if (!address) return;
    moveTo(address);
    handlers.select(address);
  });
  scroller.addEventListener("dblclick", (event) => {
    const address = addressOf(event.target);
    if (address) handlers.edit(address);
  });
  scroller.addEventListener("keydown", (event) => {
    const page = Math.max(1, Math.floor(scroller.clientHeight / ROW_PX) - 2);
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
      markActive();
      focusActive();
      return;
    }
    const address = addressAt(active.row, active.column);
    if (!address) return;
    if (event.key === "Enter" || event.key === "F2") {
      event.preventDefault();
      handlers.edit(address);
    } else if (event.key === "Delete") {
      event.preventDefault();
      handlers.deleteCell(address);
    }
  });

  return {
    /** Shows a table (or none, with ""): listens to it alone. */
    show(id: string) {
      stopListening();
      tableId = id;
      scroller.setAttribute("aria-label", id ? `Table ${id}` : "No table");
      active.row = active.column = 0;
      scroller.scrollTop = 0;
      if (id) {
        listeners = [
          store.addCellListener(id, null, null, (_store, _table, rowId, cellId) => {
            const node = rendered.get(rowId)?.cells.get(cellId);
            if (node) showCell(node, store, { tableId: id, rowId, cellId });
          }),
          store.addRowIdsListener(id, refreshRows),
          store.addTableCellIdsListener(id, refreshColumns),
        ];
      }
      cellIds = id ? store.getTableCellIds(id) : [];
      renderHeader();
      rendered.clear(); // another table's rows, even where a row id is the same
      refreshRows();
    },
    /** Scrolls to a row and makes its cell the active one. */
    reveal(address: CellAddress) {
      if (address.tableId !== tableId) return;
      moveTo(address);
      focusActive();
    },
    /** Reads the rows to show again (the search or the sort changed). */
    refresh: () => refreshRows(),
    get tableId() {
      return tableId;
    },
    destroy() {
      stopListening();
      unmount();
    },
  };
};

export type TableGrid = ReturnType<typeof createTableGrid>;
