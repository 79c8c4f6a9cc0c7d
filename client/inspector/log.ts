// The inspector's event log: the newest events first, filtered by stream and types, live (the
// client library's feed over the room's socket), with paging back through history and each event's
// time and data as pretty JSON. Also the history of one cell, row or value ({eventsPath}/history).
import { DEFAULT_EVENTS_PATH, type RoomEvent } from "../../party/protocol.ts";
import { readEventPage, roomUrl, RoomHttpError, type HttpOptions } from "../http.ts";
import { element, timeElement } from "./dom.ts";
import type { Room } from "../room.ts";

/** Seqs the live tail starts behind the head, and each "older" step reads. */
export const LOG_WINDOW_SEQS = 200;
/** Steps of LOG_WINDOW_SEQS an "older" click reads at most while the filters match nothing. */
const MAX_EMPTY_STEPS = 25;
/** Events the list keeps on the page; past it, the oldest shown leave (and "older" brings them back). */
export const MAX_LOG_ITEMS = 1_000;
/** Data longer than this (as JSON) starts folded. */
const FOLD_DATA_CHARS = 120;

export interface LogFilters {
  stream?: string;
  types?: string[];
}


/** Data as JSON, folded when long; pretty-printed when unfolded (a `$init` may hold a whole store). */
export const dataView = (data: unknown): HTMLElement => {
  const compact = JSON.stringify(data) ?? "undefined";
  if (compact.length <= FOLD_DATA_CHARS) return element("code", "data", compact);
  const details = element("details", "data");
  const pre = element("pre");
  details.append(element("summary", "", compact.slice(0, FOLD_DATA_CHARS) + "…"), pre);
  details.addEventListener("toggle", () => details.open && !pre.textContent && (pre.textContent = JSON.stringify(data, null, 2)));
  return details;
};

const eventItem = (event: RoomEvent): HTMLLIElement => {
  const item = element("li");
  item.dataset.seq = String(event.seq);
  item.append(
    element("span", "seq", `#${event.seq}`),
    timeElement(event.ts),
    element("span", "stream", event.stream),
    element("b", "type", event.type),
    dataView(event.data),
  );
  return item;
};

export interface EventLogOptions {
  room: Room;
  list: HTMLOListElement;
  olderButton: HTMLButtonElement;
  status: HTMLElement;
  /** The oldest seq the room keeps (retention), for "older" to stop at. */
  first: () => number;
  /** Every live event, after it is shown (the stats refresh on it). */
  onLive?: (event: RoomEvent) => void;
  onError: (error: Error) => void;
}

/** One log's state, which the functions below share. */
interface LogState {
  readonly options: EventLogOptions;
  filters: LogFilters;
  feed: ReturnType<Room["events"]> | undefined;
  /** The lowest seq the list covers: everything the filters match from here up is shown. */
  lower: number;
  generation: number;
}

const selectorsOf = ({ filters }: LogState) => ({ stream: filters.stream || undefined, types: filters.types?.length ? filters.types : undefined });

const setLower = (log: LogState, seq: number) => {
  log.lower = seq;
  log.options.olderButton.disabled = log.lower <= log.options.first();
};

const trim = (log: LogState) => {
  const { list } = log.options;
  while (list.childElementCount > MAX_LOG_ITEMS) list.lastElementChild!.remove();
  const oldest = list.lastElementChild as HTMLElement | null;
  if (list.childElementCount === MAX_LOG_ITEMS && oldest) setLower(log, Number(oldest.dataset.seq));
};

const showLive = (log: LogState, event: RoomEvent) => {
  log.options.list.prepend(eventItem(event));
  trim(log);
  log.options.onLive?.(event);
};

/** Starts the tail afresh: the newest window of seqs, then live. */
const restart = async (log: LogState) => {
  const { room, list, status } = log.options;
  const mine = ++log.generation;
  log.feed?.close();
  list.replaceChildren();
  status.textContent = "loading…";
  let head: number;
  try {
    ({ head } = await readEventPage(room.http, { until: "caught-up", limit: 1 }));
  } catch (error) {
    // Never "loading…" for good: say the log could not be read, and why (the caller shows it).
    if (mine === log.generation) status.textContent = error instanceof RoomHttpError && (error.status === 401 || error.status === 403) ? "refused" : "stopped";
    throw error;
  }
  if (mine !== log.generation) return;
  const after = Math.max(0, head - LOG_WINDOW_SEQS);
  setLower(log, after + 1);
  const current = (log.feed = room.events({ ...selectorsOf(log), after }));
  void current.caughtUp.then(() => mine === log.generation && (status.textContent = "live"));
  current.each((event) => showLive(log, event)).catch((error: Error) => {
    if (mine !== log.generation) return;
    status.textContent = "stopped";
    log.options.onError(error);
  });
};

/** Reads back through history, a window at a time, until it finds events or reaches the first seq. */
const older = async (log: LogState) => {
  const { room, list, olderButton, first } = log.options;
  olderButton.disabled = true;
  const mine = log.generation;
  let found: RoomEvent[] = [];
  for (let step = 0; step < MAX_EMPTY_STEPS && found.length === 0 && log.lower > first(); step++) {
    const from = Math.max(first(), log.lower - LOG_WINDOW_SEQS);
    const page = await readEventPage(room.http, { ...selectorsOf(log), from, to: log.lower - 1, limit: LOG_WINDOW_SEQS });
    if (mine !== log.generation) return;
    found = page.events;
    setLower(log, from);
  }
  list.append(...found.reverse().map(eventItem));
  olderButton.disabled = log.lower <= first();
};

export const createEventLog = (options: EventLogOptions) => {
  const log: LogState = { options, filters: {}, feed: undefined, lower: 1, generation: 0 };
  options.olderButton.addEventListener("click", () => void older(log).catch(options.onError));
  return {
    setFilters(next: LogFilters) {
      log.filters = next;
      return restart(log);
    },
    start: () => restart(log),
    stop() {
      log.generation++;
      log.feed?.close();
    },
  };
};

export type HistoryTarget = { table: string; row: string; cell?: string } | { value: string };

interface HistoryPage {
  history: { seq: number; value?: unknown; cells?: Record<string, unknown> }[];
  next: number | null;
}

/** History entries per page. */
const HISTORY_PAGE_ENTRIES = 100;

/**
 * A cell as `$changes` data logs it: null deletes, "\uFFFDnull" is a real null, and "\uFFFD" + JSON
 * an object or array (TinyBase's encoding); shown as the inspector shows cells.
 */
const loggedText = (logged: unknown): string => {
  if (logged === null) return "(deleted)";
  if (typeof logged === "string" && logged.startsWith(JSON_MARK)) return logged.slice(JSON_MARK.length);
  return JSON.stringify(logged);
};
const JSON_MARK = "\uFFFD";

/** Lists a cell's, row's or value's history, oldest first, a page at a time ("more"). */
export const showHistory = async (http: HttpOptions, target: HistoryTarget, into: HTMLElement, after?: number): Promise<void> => {
  const url = await roomUrl(http, (http.eventsPath ?? DEFAULT_EVENTS_PATH) + "/history", {
    ...(target as Record<string, string>),
    limit: String(HISTORY_PAGE_ENTRIES),
    after: after === undefined ? undefined : String(after),
  });
  const response = await (http.fetch ?? fetch)(url);
  if (!response.ok) throw new RoomHttpError(response.status, await response.json().catch(() => undefined));
  const page = (await response.json()) as HistoryPage;
  if (after === undefined) into.replaceChildren();
  into.querySelector("button.more")?.remove();
  const list = into.querySelector("ol") ?? into.appendChild(element("ol", "history"));
  for (const entry of page.history) {
    const item = element("li");
    item.append(element("span", "seq", `#${entry.seq}`));
    if (entry.cells) {
      for (const [cellId, logged] of Object.entries(entry.cells)) item.append(element("span", "history-cell", `${cellId}: ${loggedText(logged)}`));
    } else item.append(element("code", "", loggedText(entry.value)));
    list.append(item);
  }
  if (page.history.length === 0 && after === undefined) into.append(element("p", "hint", "No history kept for it."));
  if (page.next !== null && page.history.length === HISTORY_PAGE_ENTRIES) {
    const more = element("button", "more", "More");
    more.type = "button";
    more.addEventListener("click", () => void showHistory(http, target, into, page.next!));
    into.append(more);
  }
};
