// What a room tells its party's directory, and how the directory answers: the shapes both sides
// agree on, read at the directory's boundary before anything is stored.
//
// A report is the room's whole state at the time it was sent, never a delta: `room` holds its
// figures, or null once the room holds nothing (deleted). Reports are idempotent and ordered by
// `v`, a version the room makes strictly increasing (see reporter.ts): the directory applies a
// report only when its `v` is higher than any it holds for that name, deletions included, so a
// report retried by an alarm, or one overtaken in flight, never undoes a newer one.
import { MAX_ROOM_NAME_CHARS, type ListedRoom } from "../../protocol.ts";
import { RoomError } from "../common/errors.ts";

/**
 * The one name under which a party's directory lives, an object of the party's own class: a name
 * with a control character, which every URL segment refuses (protocol.ts, canonicalRoomName), so
 * no request from outside can reach it and no room can be called so. Under PartyKit the object
 * sees it as its URL segment spells it, `DIRECTORY_SEGMENT`.
 */
export const DIRECTORY_NAME = "\u0000directory";
export const DIRECTORY_SEGMENT = encodeURIComponent(DIRECTORY_NAME);
/** The directory's two resources, as the last segment of the path it is asked at. */
export const REPORT_RESOURCE = "report";
export const ROOMS_RESOURCE = "rooms";

/** A room's figures as listed (ListedRoom without its name). */
export type RoomFigures = Omit<ListedRoom, "name">;

export interface DirectoryReport {
  name: string;
  /** The report's version: higher than every earlier report of the room (reporter.ts). */
  v: number;
  /** The room's figures, or null for a room that holds nothing. */
  room: RoomFigures | null;
}

export interface ReportAnswer {
  /** False when the directory held a report with this `v` or a higher one: nothing changed. */
  applied: boolean;
  /** The version the directory now holds for the name. */
  v: number;
}

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isTime = (value: unknown): value is string | null => value === null || (typeof value === "string" && value.length <= 64);

const figuresOf = (room: unknown): RoomFigures | null => {
  if (room === null) return null;
  if (typeof room !== "object") throw new RoomError("bad_request", "A report's room is an object or null.");
  const { head, cells, events, created, lastWrite } = room as Record<string, unknown>;
  if (!isCount(head) || !isCount(cells) || !isCount(events) || !isTime(created) || !isTime(lastWrite)) {
    throw new RoomError("bad_request", "A report's room has head, cells and events (counts), created and lastWrite (ISO times or null).");
  }
  return { head, cells, events, created, lastWrite };
};

/** A report from its JSON, or a `bad_request` RoomError. */
export const parseReport = (json: unknown): DirectoryReport => {
  if (typeof json !== "object" || json === null) throw new RoomError("bad_request", "A report is a JSON object.");
  const { name, v, room } = json as Record<string, unknown>;
  if (typeof name !== "string" || name === "" || name.length > MAX_ROOM_NAME_CHARS) throw new RoomError("bad_request", "A report names its room.");
  if (!isCount(v)) throw new RoomError("bad_request", "A report's v is a non-negative integer.");
  return { name, v, room: figuresOf(room) };
};

/** The answer from its JSON (the room reads it), or undefined when it is not one. */
export const parseAnswer = (json: unknown): ReportAnswer | undefined => {
  if (typeof json !== "object" || json === null) return undefined;
  const { applied, v } = json as Record<string, unknown>;
  return typeof applied === "boolean" && isCount(v) ? { applied, v } : undefined;
};
