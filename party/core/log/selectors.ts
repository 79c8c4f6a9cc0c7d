// Persistr-style selectors, parsed from query parameters into a closed seq range.
//   from  (seq, included)   after (seq, excluded, or `past-events`: only what comes next)
//   to    (seq, included)   until (seq, excluded, or `caught-up`: stop at the head)
//   stream, types (comma-separated), limit (1..maxPageLimit)
// A range with neither `to` nor `until` is open: it goes on as the log grows (live for SSE and
// subscriptions; for pages, `next` stays a cursor to poll from).
import { isSeqText, MAX_NAME_CHARS } from "../../protocol.ts";
import { RoomError } from "../common/errors.ts";

export interface Selectors {
  stream?: string;
  types?: string[];
  /** First seq of the range. */
  lower: number;
  /** Last seq of the range, or undefined when open. */
  upper?: number;
  /** `until=caught-up`: the range ends at the head when it is read. */
  untilCaughtUp: boolean;
  /** `after=past-events`: the range starts after the head when it is read. */
  pastEvents: boolean;
  limit: number;
}

export const PAST_EVENTS = "past-events";
export const CAUGHT_UP = "caught-up";
const SELECTOR_NAMES = new Set(["stream", "types", "from", "after", "to", "until", "limit"]);
/** Most types one read may name. */
export const MAX_TYPES_PER_READ = 16;

const invalid = (message: string) => new RoomError("invalid_selector", message);

const seqOf = (name: string, raw: string): number => {
  if (!isSeqText(raw) || !Number.isSafeInteger(Number(raw))) throw invalid(`${name} must be a seq (a whole number), not ${JSON.stringify(raw.slice(0, 32))}.`);
  return Number(raw);
};

const nameOf = (what: string, raw: string): string => {
  if (raw.length === 0 || raw.length > MAX_NAME_CHARS) throw invalid(`${what} must have 1 to ${MAX_NAME_CHARS} characters.`);
  return raw;
};

export interface SelectorLimits {
  defaultPageLimit: number;
  maxPageLimit: number;
}

/**
 * Parses selectors from query parameters. `extra` names parameters another layer reads (SSE's
 * `snapshot`, the history route's ids); any other unknown name is an error.
 */
export const parseSelectors = (params: URLSearchParams, limits: SelectorLimits, extra: string[] = []): Selectors => {
  for (const name of params.keys()) {
    if (!SELECTOR_NAMES.has(name) && !extra.includes(name)) throw invalid(`Unknown selector ${JSON.stringify(name.slice(0, 32))}.`);
    if (params.getAll(name).length > 1) throw invalid(`Selector ${name} is given more than once.`);
  }
  const get = (name: string) => params.get(name) ?? undefined;
  const [from, after, to, until] = ["from", "after", "to", "until"].map(get);
  if (from !== undefined && after !== undefined) throw invalid("Give from or after, not both.");
  if (to !== undefined && until !== undefined) throw invalid("Give to or until, not both.");
  const pastEvents = after === PAST_EVENTS;
  const untilCaughtUp = until === CAUGHT_UP;
  const lower = from !== undefined ? seqOf("from", from) : after !== undefined && !pastEvents ? seqOf("after", after) + 1 : 1;
  const upper = to !== undefined ? seqOf("to", to) : until !== undefined && !untilCaughtUp ? seqOf("until", until) - 1 : undefined;
  if (from !== undefined && to !== undefined && lower > upper!) throw invalid(`from (${lower}) is after to (${upper}).`);
  const rawLimit = get("limit");
  const limit = rawLimit === undefined ? limits.defaultPageLimit : seqOf("limit", rawLimit);
  if (limit < 1 || limit > limits.maxPageLimit) throw invalid(`limit must be between 1 and ${limits.maxPageLimit}.`);
  const selectors: Selectors = { lower: Math.max(lower, 1), upper, untilCaughtUp, pastEvents, limit };
  const stream = get("stream");
  if (stream !== undefined) selectors.stream = nameOf("stream", stream);
  const types = get("types");
  if (types !== undefined) {
    const list = [...new Set(types.split(",").map((type) => nameOf("Each type", type.trim())))];
    if (list.length > MAX_TYPES_PER_READ) throw invalid(`At most ${MAX_TYPES_PER_READ} types per read.`);
    selectors.types = list;
  }
  return selectors;
};

const isSeq = (thing: unknown): boolean => Number.isSafeInteger(thing) && (thing as number) >= 0;

/** What each selector may be in a WebSocket `sub`: the JSON types the query parameters stand for. */
const SELECTOR_FIELD_TYPES: Record<string, (thing: unknown) => boolean> = {
  stream: (thing) => typeof thing === "string",
  types: (thing) => typeof thing === "string" || (Array.isArray(thing) && thing.every((type) => typeof type === "string")),
  from: isSeq,
  after: (thing) => isSeq(thing) || thing === PAST_EVENTS,
  to: isSeq,
  until: (thing) => isSeq(thing) || thing === CAUGHT_UP,
};

/**
 * Parses selectors sent as a JSON object (a WebSocket `sub`): each field is type-checked, then the
 * object goes through `parseSelectors`, the one validator HTTP and WebSocket share.
 */
export const parseSelectorObject = (thing: unknown, limits: SelectorLimits): Selectors => {
  if (thing === undefined) return parseSelectors(new URLSearchParams(), limits);
  if (typeof thing !== "object" || thing === null || Array.isArray(thing)) throw invalid("selectors must be a JSON object.");
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(thing)) {
    const check = Object.hasOwn(SELECTOR_FIELD_TYPES, name) ? SELECTOR_FIELD_TYPES[name] : undefined;
    if (!check) throw invalid(`Unknown selector ${JSON.stringify(name.slice(0, 32))}.`);
    if (value === undefined) continue;
    if (!check(value)) throw invalid(`Selector ${name} has the wrong type: ${JSON.stringify(value)?.slice(0, 32)}.`);
    params.set(name, Array.isArray(value) ? value.join(",") : String(value));
  }
  return parseSelectors(params, limits);
};

/** Pins the range against the head at the time of a read: past-events and caught-up resolve here. */
export const pinRange = (selectors: Selectors, head: number): { lower: number; upper: number } => ({
  lower: selectors.pastEvents ? head + 1 : selectors.lower,
  upper: selectors.upper === undefined ? head : Math.min(selectors.upper, head),
});

/** True when the range has a fixed end (to, until, or caught-up). */
export const isClosed = (selectors: Selectors): boolean => selectors.upper !== undefined || selectors.untilCaughtUp;

/** Whether an event belongs to the selection (for live events, checked one by one). */
export const matches = (selectors: Selectors, event: { seq: number; stream: string; type: string }): boolean =>
  event.seq >= selectors.lower &&
  (selectors.upper === undefined || event.seq <= selectors.upper) &&
  (selectors.stream === undefined || event.stream === selectors.stream) &&
  (selectors.types === undefined || selectors.types.includes(event.type));
