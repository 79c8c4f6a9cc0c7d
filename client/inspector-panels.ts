// The inspector's smaller panels: the rooms remembered in this browser, and the room's stats.
import { STATS_PATH } from "../party/protocol.ts";
import { element } from "./inspector-dom.ts";
import { roomUrl, type HttpOptions } from "./http.ts";

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

const statText = (value: unknown): { text: string; title?: string } => {
  if (value === null) return { text: "—" };
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT/.test(value)) return { text: new Date(value).toLocaleString(), title: value };
  return { text: typeof value === "object" ? JSON.stringify(value) : String(value) };
};

/** `GET {room}/stats` as a list, read every STATS_POLL_MS and on `refresh()`. */
export const createStatsPanel = (http: HttpOptions, into: HTMLElement, onRefused: () => void) => {
  let first = 1;
  let queued = false;
  const read = async () => {
    const response = await fetch(await roomUrl(http, STATS_PATH), { cache: "no-store" });
    if (response.status === 401) return onRefused();
    if (!response.ok) return;
    const stats = (await response.json()) as Record<string, unknown>;
    first = Number(stats.first) || 1;
    into.replaceChildren(
      ...Object.entries(stats)
        .filter(([name]) => name !== "room")
        .map(([name, value]) => {
          const { text, title } = statText(value);
          const dd = element("dd", "", text);
          if (title) dd.title = title;
          dd.dataset.stat = name;
          const item = element("div");
          item.append(element("dt", "", name), dd);
          return item;
        }),
    );
  };
  const refresh = () => {
    if (queued) return;
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
