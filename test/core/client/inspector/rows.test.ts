// The inspector's row search and sort (client/inspector/rows.ts), over plain table content.
import { describe, expect, it } from "vitest";
import { EVERY_ROW, isEveryRow, orderRows, type RowQuery, type TableCells } from "../../../../client/inspector/rows.ts";

/** The accessor over plain content, as the page's one reads a TinyBase table. */
const cellsOfContent = (content: Record<string, Record<string, unknown>>): TableCells => ({
  forEachCell: (rowId, visit) => Object.values(content[rowId] ?? {}).forEach(visit),
  getCell: (rowId, cellId) => content[rowId]?.[cellId],
});

const table = {
  r10: { name: "Fido", age: 3, tags: ["good"] },
  r2: { name: "rex", age: 12, alive: true },
  r1: { name: "Zed", age: "7" },
  r3: { age: null },
  r20: { name: "ada" },
};
const storeOrder = Object.keys(table);
const order = (query: Partial<RowQuery>) => orderRows(cellsOfContent(table), storeOrder, { ...EVERY_ROW, ...query });

describe("the rows a table shows", () => {
  it("are every row in the store's order without a query", () => {
    expect(isEveryRow(EVERY_ROW)).toBe(true);
    expect(order({})).toEqual(storeOrder);
    expect(order({ descending: true })).toEqual([...storeOrder].reverse());
  });

  it.each([
    ["fido", ["r10"]],
    ["R2", ["r2", "r20"]],
    ["good", ["r10"]],
    ["12", ["r2"]],
    ["true", ["r2"]],
    ["null", ["r3"]],
    ["  zed ", ["r1"]],
    ["nobody", []],
  ])("searched for %j: row ids and cell values, case-insensitive", (search, expected) => {
    expect(order({ search })).toEqual(expected);
  });

  it("sort by row id in a numeric-aware order, both ways", () => {
    expect(order({ sort: { by: "row" } })).toEqual(["r1", "r2", "r3", "r10", "r20"]);
    expect(order({ sort: { by: "row" }, descending: true })).toEqual(["r20", "r10", "r3", "r2", "r1"]);
  });

  it("sort by a cell: numbers, then strings, then null, rows without it last in both directions", () => {
    expect(order({ sort: { by: "cell", cellId: "age" } })).toEqual(["r10", "r2", "r1", "r3", "r20"]);
    expect(order({ sort: { by: "cell", cellId: "age" }, descending: true })).toEqual(["r3", "r1", "r2", "r10", "r20"]);
    expect(order({ sort: { by: "cell", cellId: "name" } })).toEqual(["r20", "r10", "r2", "r1", "r3"]);
  });

  it("search and sort together", () => {
    expect(order({ search: "r", sort: { by: "cell", cellId: "name" }, descending: true })).toEqual(["r1", "r2", "r10", "r20", "r3"]);
  });
});
