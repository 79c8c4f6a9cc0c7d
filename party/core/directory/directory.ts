// A party's directory of rooms, over the storage seam: what rooms reported, listed in name order.
// Layout (the directory object's own storage; it holds nothing else):
//   r <name>    a listed room: its figures and the `v` of the report that set them
//   t <name>    a tombstone: the `v` of the report that removed the room, and when (ms); kept
//               TOMBSTONE_MS so that a report overtaken in flight cannot list a deleted room again
// Keys order names by code point (UTF-8 byte order in Durable Object storage), which is the
// listing's order.
//
// Postconditions of `report`: reports are applied in the order they arrived; one is applied only
// when its `v` exceeds every `v` held for its name (listed or tombstone), and its answer says
// whether it was; reports that arrive while a group is being written are applied together in the
// next group, one atomic storage write each (as the room's own commit queue does), so that a
// burst of reports costs a few writes, not one each. A failed write fails every report of its
// group, and none of them is answered as applied.
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, MAX_ROOM_NAME_CHARS, type ListedRoom, type RoomListing } from "../../protocol.ts";
import { RoomError } from "../common/errors.ts";
import type { RoomStorage } from "../storage/room-storage.ts";
import type { DirectoryReport, ReportAnswer, RoomFigures } from "./reports.ts";

const LISTED = "r";
const TOMBSTONE = "t";
/** How long a removal is remembered: far longer than any report can stay in flight or be retried for. */
export const TOMBSTONE_MS = 24 * 60 * 60 * 1000;
/** Tombstones looked at per group of reports, to drop those past TOMBSTONE_MS a few at a time. */
const TOMBSTONES_SWEPT_PER_GROUP = 16;
/** Most reports applied in one storage write. */
const MAX_REPORTS_PER_GROUP = 128;

interface Listed extends RoomFigures {
  v: number;
}

interface Tombstone {
  v: number;
  at: number;
}

export interface ListQuery {
  prefix: string;
  after?: string;
  limit: number;
}

const QUERY_NAMES = new Set(["prefix", "after", "limit"]);

/** `?prefix=&after=&limit=` of a listing, or a `bad_request` RoomError naming what is wrong. */
export const parseListQuery = (search: URLSearchParams): ListQuery => {
  for (const name of search.keys()) {
    if (!QUERY_NAMES.has(name)) throw new RoomError("bad_request", `Unknown parameter ${JSON.stringify(name)}: a listing takes prefix, after and limit.`);
    if (search.getAll(name).length > 1) throw new RoomError("bad_request", `The parameter ${name} is given twice.`);
  }
  const limitText = search.get("limit");
  const limit = limitText === null ? DEFAULT_LIST_LIMIT : /^[0-9]{1,4}$/.test(limitText) ? Number(limitText) : NaN;
  if (!(limit >= 1 && limit <= MAX_LIST_LIMIT)) throw new RoomError("bad_request", `limit is an integer from 1 to ${MAX_LIST_LIMIT}.`);
  // Names are kept in NFC (protocol.ts canonicalRoomName), so a query compares in NFC too.
  const prefix = (search.get("prefix") ?? "").normalize("NFC");
  const after = search.get("after")?.normalize("NFC") ?? undefined;
  if (prefix.length > MAX_ROOM_NAME_CHARS || (after !== undefined && (after === "" || after.length > MAX_ROOM_NAME_CHARS))) {
    throw new RoomError("bad_request", `prefix and after are at most ${MAX_ROOM_NAME_CHARS} characters (after: a room name, the next of a page).`);
  }
  return { prefix, after, limit };
};

interface Pending {
  report: DirectoryReport;
  resolve: (answer: ReportAnswer) => void;
  reject: (error: unknown) => void;
}

export interface Directory {
  report(report: DirectoryReport): Promise<ReportAnswer>;
  list(query: ListQuery): Promise<RoomListing>;
}

export const createDirectory = ({ storage, now }: { storage: RoomStorage; now: () => number }): Directory => {
  const queue: Pending[] = [];
  let draining = false;
  /** Where the sweep of old tombstones goes on (a key), cycling through them group by group. */
  let sweepFrom = TOMBSTONE;

  const versionOf = (found: Map<string, unknown>, name: string): number =>
    Math.max((found.get(LISTED + name) as Listed | undefined)?.v ?? 0, (found.get(TOMBSTONE + name) as Tombstone | undefined)?.v ?? 0);

  /**
   * Old tombstones among the next few, for the group to delete; the sweep starts over at the end.
   * It looks at more than a group can add (one tombstone per report), so removal keeps pace with deletes.
   */
  const sweep = async (at: number, reports: number): Promise<string[]> => {
    const limit = TOMBSTONES_SWEPT_PER_GROUP + reports;
    const seen = await storage.list({ start: sweepFrom, prefix: TOMBSTONE, limit });
    const keys = [...seen.keys()];
    sweepFrom = keys.length < limit ? TOMBSTONE : keys[keys.length - 1] + "\u0000";
    return keys.filter((key) => at - (seen.get(key) as Tombstone).at > TOMBSTONE_MS);
  };

  const apply = async (reports: DirectoryReport[]): Promise<ReportAnswer[]> => {
    const names = [...new Set(reports.map((report) => report.name))];
    const [found, expired] = await Promise.all([storage.get(names.flatMap((name) => [LISTED + name, TOMBSTONE + name])), sweep(now(), reports.length)]);
    const versions = new Map(names.map((name) => [name, versionOf(found, name)]));
    const puts = new Map<string, unknown>();
    const deletes = new Set(expired);
    const at = now();
    const answers = reports.map(({ name, v, room }): ReportAnswer => {
      const held = versions.get(name)!;
      if (v <= held) return { applied: false, v: held };
      versions.set(name, v);
      const [put, remove] = room ? [LISTED + name, TOMBSTONE + name] : [TOMBSTONE + name, LISTED + name];
      puts.set(put, room ? { ...room, v } : { v, at });
      puts.delete(remove);
      deletes.add(remove);
      deletes.delete(put);
      return { applied: true, v };
    });
    if (puts.size > 0 || deletes.size > 0) await storage.write(puts, deletes);
    return answers;
  };

  const drain = async () => {
    draining = true;
    while (queue.length > 0) {
      const group = queue.splice(0, MAX_REPORTS_PER_GROUP);
      try {
        const answers = await apply(group.map((pending) => pending.report));
        group.forEach((pending, i) => pending.resolve(answers[i]));
      } catch (error) {
        for (const pending of group) pending.reject(error);
      }
    }
    draining = false;
  };

  return {
    report: (report) =>
      new Promise<ReportAnswer>((resolve, reject) => {
        queue.push({ report, resolve, reject });
        if (!draining) void drain();
      }),
    async list({ prefix, after, limit }) {
      const first = LISTED + prefix;
      const start = after !== undefined && LISTED + after + "\u0000" > first ? LISTED + after + "\u0000" : first;
      const found = await storage.list({ start, prefix: first, limit: limit + 1 });
      const rooms: ListedRoom[] = [];
      for (const [key, value] of found) {
        if (rooms.length === limit) break;
        const { head, cells, events, created, lastWrite } = value as Listed;
        rooms.push({ name: key.slice(LISTED.length), head, cells, events, created, lastWrite });
      }
      return { rooms, next: found.size > limit ? rooms[rooms.length - 1].name : null };
    },
  };
};
