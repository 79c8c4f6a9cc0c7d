// What a table grid (grid.ts) shows, and how it is drawn: the header, the rows the virtualizer has
// on screen, and the active cell. A row that stays on screen keeps its element; only rows that come
// are built and only rows that go are removed.
import type { Virtualizer } from "@tanstack/virtual-core";
import type { Store } from "tinybase";
import { formatCell } from "./cells.ts";
import { element } from "./dom.ts";

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

/** One grid's elements and state, which its functions share. */
export interface GridView {
  readonly store: Store;
  readonly handlers: GridHandlers;
  readonly scroller: HTMLDivElement;
  readonly header: HTMLElement;
  readonly space: HTMLElement;
  readonly virtualizer: Virtualizer<HTMLDivElement, HTMLDivElement>;
  tableId: string;
  rowIds: string[];
  cellIds: string[];
  readonly rendered: Map<string, RenderedRow>;
  readonly active: { row: number; column: number };
  listeners: string[];
  reportedFirstRows: boolean;
}

export const showCell = (node: HTMLElement, store: Store, { tableId, rowId, cellId }: CellAddress) => {
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

export const addressAt = (grid: GridView, row: number, column: number): CellAddress | undefined =>
  grid.rowIds[row] !== undefined && grid.cellIds[column] !== undefined ? { tableId: grid.tableId, rowId: grid.rowIds[row], cellId: grid.cellIds[column] } : undefined;

const gridWidth = (grid: GridView) => `calc(var(--row-head) + ${grid.cellIds.length} * var(--cell-width))`;

export const renderHeader = (grid: GridView) => {
  const corner = element("div", "row-head", "row id");
  corner.setAttribute("role", "columnheader");
  grid.header.replaceChildren(
    corner,
    ...grid.cellIds.map((cellId) => {
      const node = element("div", "cell", cellId);
      node.setAttribute("role", "columnheader");
      node.title = cellId;
      return node;
    }),
  );
  grid.header.style.width = grid.space.style.width = gridWidth(grid);
  grid.scroller.setAttribute("aria-colcount", String(grid.cellIds.length + 1));
};

const buildRow = (grid: GridView, rowId: string, index: number): RenderedRow => {
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
  grid.cellIds.forEach((cellId, column) => {
    const node = element("div");
    node.setAttribute("role", "gridcell");
    node.dataset.cell = cellId;
    node.dataset.column = String(column);
    showCell(node, grid.store, { tableId: grid.tableId, rowId, cellId });
    cells.set(cellId, node);
    row.append(node);
  });
  row.setAttribute("aria-rowindex", String(index + 2));
  return { element: row, cells };
};

export const markActive = (grid: GridView) => {
  for (const [rowId, { cells }] of grid.rendered) {
    for (const [cellId, node] of cells) {
      const isActive = rowId === grid.rowIds[grid.active.row] && cellId === grid.cellIds[grid.active.column];
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
const placeRows = ({ header, space }: GridView, ordered: HTMLElement[]) => {
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

export const renderRows = (grid: GridView) => {
  const items = grid.virtualizer.getVirtualItems();
  const keep = new Set<string>();
  const ordered: HTMLElement[] = [];
  for (const item of items) {
    const rowId = grid.rowIds[item.index];
    if (rowId === undefined) continue;
    keep.add(rowId);
    let row = grid.rendered.get(rowId);
    if (!row) grid.rendered.set(rowId, (row = buildRow(grid, rowId, item.index)));
    row.element.setAttribute("aria-rowindex", String(item.index + 2));
    row.element.style.transform = `translateY(${item.start}px)`;
    ordered.push(row.element);
  }
  for (const [rowId, row] of [...grid.rendered]) {
    if (keep.has(rowId)) continue;
    row.element.remove();
    grid.rendered.delete(rowId);
  }
  grid.space.style.height = `${grid.virtualizer.getTotalSize()}px`;
  placeRows(grid, ordered);
  markActive(grid);
  if (!grid.reportedFirstRows && ordered.length > 0) {
    grid.reportedFirstRows = true;
    grid.handlers.firstRows?.(grid.tableId);
  }
};

export const refreshRows = (grid: GridView) => {
  grid.rowIds = !grid.tableId ? [] : grid.handlers.rowIds ? grid.handlers.rowIds(grid.tableId) : grid.store.getRowIds(grid.tableId);
  grid.active.row = Math.min(grid.active.row, Math.max(0, grid.rowIds.length - 1));
  grid.scroller.setAttribute("aria-rowcount", String(grid.rowIds.length + 1));
  grid.virtualizer.setOptions({ ...grid.virtualizer.options, count: grid.rowIds.length });
  grid.virtualizer._willUpdate();
  // Rows that stay keep their element (renderRows places them where they now are); only rows
  // that came are built and only rows that went are removed.
  renderRows(grid);
};

export const refreshColumns = (grid: GridView) => {
  grid.cellIds = grid.tableId ? grid.store.getTableCellIds(grid.tableId) : [];
  grid.active.column = Math.min(grid.active.column, Math.max(0, grid.cellIds.length - 1));
  renderHeader(grid);
  grid.rendered.clear();
  renderRows(grid);
};
