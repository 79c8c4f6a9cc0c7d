// Reads `[tables, values]` JSON text into store writes in the order the text lists its ids.
//
// Why: the room serves tables, rows, cells and values in insertion order, as TinyBase keeps them,
// and writes its snapshot (and an export's base) in that order. `JSON.parse` does not keep it: a
// JavaScript object lists array-index keys ("0", "1", "10", …) first, in numeric order, whatever
// the text said. So the text is parsed with `JSON.parse` when no id is an array index (the common
// case, and fast), and otherwise walked by the small reader below, which keeps the text's order.
import type { Cell } from "./changes.ts";
import type { StoreWrite } from "./model.ts";

/** Largest array index (ECMAScript: 2^32 - 2): ids that JavaScript objects reorder. */
const MAX_ARRAY_INDEX = 4_294_967_294;

const isArrayIndex = (id: string): boolean =>
  /^(?:0|[1-9]\d{0,9})$/.test(id) && Number(id) <= MAX_ARRAY_INDEX;

type Entries = [string, unknown][];

/** The writes that load `content` into an empty store, in the order of its text. */
export const orderedContentWrites = (json: string): StoreWrite[] => {
  const parsed = JSON.parse(json) as [Record<string, Record<string, Record<string, Cell>>>, Record<string, Cell>];
  const [tables, values] = hasArrayIndexId(parsed) ? readOrdered(json) : [entriesOf(parsed[0], 2), entriesOf(parsed[1], 0)];
  const writes: StoreWrite[] = [];
  for (const [tableId, rows] of tables) {
    for (const [rowId, cells] of rows as Entries) {
      for (const [cellId, value] of cells as Entries) writes.push({ kind: "cell", path: [tableId, rowId, cellId], value: value as Cell });
    }
  }
  for (const [id, value] of values) writes.push({ kind: "value", id, value: value as Cell });
  return writes;
};

/** An object's entries, `depth` levels down, in its own key order. */
const entriesOf = (thing: Record<string, unknown>, depth: number): Entries =>
  Object.keys(thing).map((id) => [id, depth > 0 ? entriesOf(thing[id] as Record<string, unknown>, depth - 1) : thing[id]]);

const hasArrayIndexId = ([tables, values]: [Record<string, Record<string, Record<string, Cell>>>, Record<string, Cell>]): boolean => {
  for (const tableId in tables) {
    if (isArrayIndex(tableId)) return true;
    for (const rowId in tables[tableId]) {
      if (isArrayIndex(rowId)) return true;
      for (const cellId in tables[tableId][rowId]) if (isArrayIndex(cellId)) return true;
    }
  }
  for (const id in values) if (isArrayIndex(id)) return true;
  return false;
};

/**
 * Walks valid JSON text (JSON.parse has accepted it) for `[tables, values]`: objects of the top
 * three table levels and of values become entry lists; strings and leaves go to JSON.parse.
 */
const readOrdered = (json: string): [Entries, Entries] => {
  let at = 0;
  const skipSpace = () => {
    while (at < json.length && " \t\n\r".includes(json[at])) at++;
  };
  const expect = (char: string) => {
    skipSpace();
    if (json[at] !== char) throw new SyntaxError(`Expected ${char} at ${at}.`);
    at++;
  };
  /** The end of the JSON value (of any kind) that starts at `at`. */
  const skipValue = (): number => {
    skipSpace();
    let depth = 0;
    for (let inString = false; at < json.length; at++) {
      const char = json[at];
      if (inString) {
        if (char === "\\") at++;
        else if (char === '"') {
          inString = false;
          if (depth === 0) return ++at;
        }
      } else if (char === '"') inString = true;
      else if (char === "{" || char === "[") depth++;
      else if (char === "}" || char === "]") {
        if (depth === 0) return at;
        if (--depth === 0) return ++at;
      } else if (depth === 0 && (char === "," || " \t\n\r".includes(char))) return at;
    }
    return at;
  };
  const leaf = (): unknown => {
    skipSpace();
    const start = at;
    return JSON.parse(json.slice(start, skipValue()));
  };
  const object = (depth: number): Entries => {
    const entries: Entries = [];
    expect("{");
    skipSpace();
    if (json[at] === "}") return at++, entries;
    for (;;) {
      const id = leaf() as string;
      expect(":");
      entries.push([id, depth > 0 ? object(depth - 1) : leaf()]);
      skipSpace();
      if (json[at++] === "}") return entries;
    }
  };
  expect("[");
  const tables = object(2);
  expect(",");
  const values = object(0);
  return [tables, values];
};
