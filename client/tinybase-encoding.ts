// TinyBase's own wire encoding, between what its public API takes and gives (objects, undefined
// for deleted) and what travels in frames and bodies: "\uFFFC" (DELETED) for a deletion at any
// level, "\uFFFD" + JSON (JSON_CELL_PREFIX) for an object or array cell (TinyBase 8+). TinyBase's
// persisters do this with the store's internal functions; its public `applyChanges` and
// `setContent` silently drop a "\uFFFD…" string (checked against tinybase 10.0.1), hence the decoding here.
// How the log writes Changes (null for deleted) comes from the protocol module, as the room does.
import { changesFromLog, DELETED, JSON_CELL_PREFIX, mapLeaves } from "../party/protocol.ts";

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

export const encodeChanges = ([tables, values]: Changes): Changes => [mapLeaves(tables, 2, encodeLeaf), mapLeaves(values, 0, encodeLeaf), 1];

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
