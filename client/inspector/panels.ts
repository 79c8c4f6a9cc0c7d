// The inspector's smaller panels: the rooms remembered in this browser, and the room's stats.
import { STATS_PATH, type ErrorBody } from "../../party/protocol.ts";
import { isRefusal, type AccessState } from "./access.ts";
import { element, timeElement } from "./dom.ts";
import { roomUrl, type HttpOptions } from "../http.ts";

/** Rooms remembered in localStorage (names and parties; never tokens). */
const MAX_RECENT_ROOMS = 12;
const RECENT_KEY = "roomstore.inspector.recent";
/** How often the stats are read while the page is open (they also refresh after live events). */
const STATS_POLL_MS = 2_000;
/** Refreshes asked for within this long are read once. */
const STATS_COALESCE_MS = 100;

export type Recent = { room: string; party?: string };

export const readRecent = (): Recent[] => {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) ?? "[]") as unknown;
    return Array.isArray(list) ? list.filter((item): item is Recent => typeof item?.room === "string") : [];
  } catch {
    return [];
  }
};

export const rememberRoom = (recent: Recent) => {
  const list = [recent, ...readRecent().filter((item) => item.room !== recent.room || item.party !== recent.party)].slice(0, MAX_RECENT_ROOMS);
  localStorage.setItem(RECENT_KEY, JSON.stringify(list));
};

/** The remembered rooms as options of the room field and as links on the start page. */
export const showRecent = (options: HTMLElement, links: HTMLElement) => {
  const recent = readRecent();
  options.replaceChildren(...recent.map(({ room }) => Object.assign(element("option"), { value: room })));
  const link = ({ room, party }: Recent) => {
    const anchor = element("a", "badge", party ? `${room} (${party})` : room);
    anchor.href = "?" + new URLSearchParams(party ? { room, party } : { room });
    return anchor;
  };
  links.replaceChildren(...(recent.length ? [element("span", "hint", "Recent:"), ...recent.map(link)] : []));
};

/** Stats that count this page too, and what the figure includes. */
const STAT_NOTES: Record<string, string> = {
  connections: "including this inspector",
  subscriptions: "including this inspector's store and event feeds",
};

const statValue = (value: unknown): Node => {
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT/.test(value)) return timeElement(value);
  return document.createTextNode(value === null ? "—" : typeof value === "object" ? JSON.stringify(value) : String(value));
};

/** `GET {room}/stats` as a list, read every STATS_POLL_MS and on `refresh()`; each read also tells the role. */
export const createStatsPanel = (http: HttpOptions, into: HTMLElement, access: AccessState) => {
  let first = 1;
  let queued = false;
  let stopped = false;
  const read = async () => {
    const response = await fetch(await roomUrl(http, STATS_PATH), { cache: "no-store" });
    access.fromResponse(response);
    if (isRefusal(response.status)) {
      stopped = true;
      const body = (await response.json().catch(() => undefined)) as Partial<ErrorBody> | undefined;
      return access.refuse({ status: response.status, message: body?.error?.message ?? response.statusText });
    }
    if (!response.ok) return;
    const stats = (await response.json()) as Record<string, unknown>;
    first = Number(stats.first) || 1;
    into.replaceChildren(
      ...Object.entries(stats)
        .filter(([name]) => name !== "room")
        .map(([name, value]) => {
          const dd = element("dd");
          dd.append(statValue(value));
          dd.dataset.stat = name;
          const item = element("div");
          item.append(element("dt", "", name), dd);
          if (STAT_NOTES[name]) item.append(element("span", "stat-note", STAT_NOTES[name]));
          return item;
        }),
    );
  };
  const refresh = () => {
    if (queued || stopped) return;
    queued = true;
    setTimeout(() => {
      queued = false;
      void read().catch(() => {});
    }, STATS_COALESCE_MS);
  };
  refresh();
  setInterval(refresh, STATS_POLL_MS);
  return {
    refresh,
    /** The oldest seq the room keeps, as the last read said. */
    get first() {
      return first;
    },
  };
};
