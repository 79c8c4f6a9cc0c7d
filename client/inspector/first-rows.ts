// The first rows of a room, drawn from its snapshot while TinyBase takes it in (the store sync's
// `onSnapshot`): for 50,000 cells TinyBase's setContent takes about 200 ms, after the snapshot
// has arrived. The preview is the first table's first screenful of rows, with the grid's classes
// and data attributes, read-only; the grid replaces it as soon as the store holds the snapshot.
// Its columns are those of the rows shown (the grid's are those of the whole table).
import type { Content } from "../tinybase-encoding.ts";
import { formatCell } from "./cells.ts";
import { element } from "./dom.ts";
import { ROW_PX } from "./grid.ts";

/** Rows drawn: a screenful of the grid (34rem) and some. */
const PREVIEW_ROWS = 30;

/**
 * Draws the preview into `root` (an element in the grid's place) and resolves once a frame has
 * painted it; draws nothing for a snapshot without tables.
 */
export const showFirstRows = async ([tables]: Content, root: HTMLElement): Promise<void> => {
  const tableId = Object.keys(tables)[0];
  if (tableId === undefined) return;
  const table = tables[tableId] as Record<string, Record<string, unknown>>;
  const rowIds = Object.keys(table).slice(0, PREVIEW_ROWS);
  const cellIds = [...new Set(rowIds.flatMap((rowId) => Object.keys(table[rowId])))];
  const line = (head: HTMLElement, cells: HTMLElement[], index: number) => {
    const row = element("div", index === 0 ? "grid-row grid-head" : "grid-row");
    row.style.transform = `translateY(${index * ROW_PX}px)`;
    row.append(head, ...cells);
    row.style.width = `calc(var(--row-head) + ${cellIds.length} * var(--cell-width))`;
    return row;
  };
  const header = line(element("div", "row-head", "row id"), cellIds.map((cellId) => element("div", "cell", cellId)), 0);
  const rows = rowIds.map((rowId, index) => {
    const cells = cellIds.map((cellId) => {
      const node = element("div");
      node.dataset.cell = cellId;
      const cell = table[rowId][cellId];
      if (cell === undefined) node.className = "cell t-none";
      else {
        const { text, kind } = formatCell(cell);
        node.className = `cell t-${kind}`;
        node.textContent = text;
      }
      return node;
    });
    const row = line(element("div", "row-head", rowId), cells, index + 1);
    row.dataset.row = rowId;
    return row;
  });
  const space = element("div", "grid-space");
  space.style.height = `${(rowIds.length + 1) * ROW_PX}px`;
  space.append(header, ...rows);
  const scroller = element("div", "grid-scroll");
  scroller.setAttribute("aria-label", `Table ${tableId}, loading`);
  scroller.append(space);
  root.replaceChildren(scroller);
  root.hidden = false;
  performance.mark("inspector:first-rows");
  // requestAnimationFrame runs before the paint; the timeout after it, once the frame is out.
  await new Promise<void>((done) => requestAnimationFrame(() => setTimeout(done, 0)));
};
