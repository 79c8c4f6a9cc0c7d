// The event log as readers and producers see it: the store's own stream and types, the `$changes`
// data encoding, events, and the names of the SSE records.
import { DELETED, JSON_CELL_PREFIX } from "./frames.ts";

/** Stream of the store's own history. Clients cannot append to `$`-prefixed streams or types. */
export const STORE_STREAM = "$store";
export const RESERVED_PREFIX = "$";
export const EVENT_INIT = "$init";
export const EVENT_REPLACE = "$replace";
export const EVENT_CHANGES = "$changes";
/** Every type the `$store` stream has, and no other stream. */
export const STORE_TYPES = [EVENT_INIT, EVENT_REPLACE, EVENT_CHANGES];

/**
 * Maps every leaf (cell or value, or a deleted table or row) of tables (`depth` 2) or values (0)
 * into a copy without prototypes, so that an id like "__proto__" stays an id.
 */
export const mapLeaves = (things: Record<string, unknown>, depth: number, leaf: (thing: unknown) => unknown): Record<string, unknown> => {
  const mapped: Record<string, unknown> = Object.create(null);
  for (const id in things) {
    const thing = things[id];
    mapped[id] = depth > 0 && typeof thing === "object" && thing !== null ? mapLeaves(thing as Record<string, unknown>, depth - 1, leaf) : leaf(thing);
  }
  return mapped;
};

/** How a real `null` cell or value is written in `$changes` data: TinyBase's own encoding of a JSON null. */
export const LOGGED_NULL = JSON_CELL_PREFIX + "null";

type TablesAndValues = readonly [tables: Record<string, unknown>, values: Record<string, unknown>, ...unknown[]];
type LoggedChanges = [tables: Record<string, unknown>, values: Record<string, unknown>, 1];

/**
 * Changes as a `$changes` event holds them (SPEC: `null` for deletions). A cell or value really
 * set to `null` is logged as LOGGED_NULL, so that folding the log over an empty store gives back
 * the store exactly.
 */
export const changesForLog = ([tables, values]: TablesAndValues): LoggedChanges => {
  const toLog = (thing: unknown) => (thing === DELETED ? null : thing === null ? LOGGED_NULL : thing);
  return [mapLeaves(tables, 2, toLog), mapLeaves(values, 0, toLog), 1];
};

/** The Changes (DELETED for deletions) a `$changes` event's data stands for: changesForLog's inverse. */
export const changesFromLog = ([tables, values]: TablesAndValues): LoggedChanges => {
  const fromLog = (thing: unknown) => (thing === null ? DELETED : thing === LOGGED_NULL ? null : thing);
  return [mapLeaves(tables, 2, fromLog), mapLeaves(values, 0, fromLog), 1];
};

/** An event as readers receive it. */
export interface RoomEvent {
  seq: number;
  id: string;
  stream: string;
  type: string;
  data: unknown;
  ts: string;
  tz?: string;
  room: string;
}

/** What a producer sends to append one event. */
export interface EventInput {
  type: string;
  data?: unknown;
  stream?: string;
  id?: string;
  tz?: string;
}

/** Names of the SSE records that are not log events; every other record is named by its event's type. */
export const SSE_SNAPSHOT = "snapshot";
export const SSE_CAUGHT_UP = "caught-up";
export const SSE_ERROR = "error";
