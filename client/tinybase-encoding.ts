// TinyBase's own wire encoding, between what its public API takes and gives (objects, undefined
// for deleted) and what travels in frames and bodies: "\uFFFC" (DELETED) for a deletion at any
// level, "\uFFFD" + JSON (JSON_CELL_PREFIX) for an object or array cell (TinyBase 8+). TinyBase's
// persisters do this with the store's internal `_` functions; the public `applyChanges` silently
// ignores a "\uFFFD…" string (checked against tinybase 10.0.1), hence the decoding here.
// How the log writes Changes (null for deleted) is the room's: `changesFromLog` is imported, not
// respelled.
import type { Changes as WireChanges } from "../party/core/changes.ts";
import { changesFromLog } from "../party/core/changes.ts";
import { DELETED, JSON_CELL_PREFIX } from "../party/protocol.ts";

type Things = Record<string, unknown>;
/** `[tables, values]` as TinyBase's `getContent` gives it. */
export type Content = [tables: Things, values: Things];
/** `[changedTables, changedValues, 1]` as TinyBase's `getTransactionChanges` gives it. */
export type Changes = [tables: Things, values: Things, 1];

const encodeLeaf = (leaf: unknown): unknown =>
  leaf === undefined ? DELETED : typeof leaf === "object" && leaf !== null ? JSON_CELL_PREFIX + JSON.stringify(leaf) : leaf;

const decodeLeaf = (leaf: unknown): unknown =>
  leaf === DELETED ? undefined : typeof leaf === "string" && leaf.startsWith(JSON_CELL_PREFIX) ? parseJsonCell(leaf) : leaf;

/** A malformed "\uFFFD" cell stays the string it is rather than failing the whole changeset. */
const parseJsonCell = (leaf: string): unknown => {
  try {
    return JSON.parse(leaf.slice(JSON_CELL_PREFIX.length));
  } catch {
    return leaf;
  }
};

/**
 * Maps the leaves of tables (`depth` 2) or values (0); a deleted table or row (not an object) is a
 * leaf too. The copy has no prototype, so an id like "__proto__" stays an id.
 */
const mapLeaves = (things: Things, depth: number, leaf: (thing: unknown) => unknown): Things => {
  const mapped: Things = Object.create(null);
  for (const id in things) {
    const thing = things[id];
    mapped[id] = depth > 0 && typeof thing === "object" && thing !== null ? mapLeaves(thing as Things, depth - 1, leaf) : leaf(thing);
  }
  return mapped;
};

export const encodeChanges = ([tables, values]: Changes): WireChanges =>
  [mapLeaves(tables, 2, encodeLeaf), mapLeaves(values, 0, encodeLeaf), 1] as WireChanges;

export const decodeChanges = ([tables, values]: readonly [Things, Things, ...unknown[]]): Changes => [
  mapLeaves(tables, 2, decodeLeaf),
  mapLeaves(values, 0, decodeLeaf),
  1,
];

export const encodeContent = ([tables, values]: Content): Content => [mapLeaves(tables, 2, encodeLeaf), mapLeaves(values, 0, encodeLeaf)];

export const decodeContent = ([tables, values]: Content): Content => [mapLeaves(tables, 2, decodeLeaf), mapLeaves(values, 0, decodeLeaf)];

/** A `$changes` event's data (null for deleted) as TinyBase changes. */
export const decodeLoggedChanges = (data: [Things, Things]): Changes => decodeChanges(changesFromLog(data));

const isThings = (thing: unknown): thing is Things => typeof thing === "object" && thing !== null && !Array.isArray(thing);

/** True for `[tables, values, …]`: Content, Changes, or a `$store` event's data. */
export const isTablesAndValues = (thing: unknown): thing is [Things, Things, ...unknown[]] =>
  Array.isArray(thing) && thing.length >= 2 && isThings(thing[0]) && isThings(thing[1]);
