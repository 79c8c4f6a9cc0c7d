// Routes and names: a room's paths, its name and the one URL segment of it, and the path
// `/parties/:party/:room` read in one place.

/** Default path of the whole-store resource, as TinyBase's server and client use it. */
export const DEFAULT_STORE_PATH = "/store";
/** Default path of the event log resource (roomstore's own). */
export const DEFAULT_EVENTS_PATH = "/events";
/** The room's stats (counts, readers, times), read by the inspector; not configurable. */
export const STATS_PATH = "/stats";
/**
 * Response header of a room's HTTP answers: the role (`read` or `write`) the gate gave the request,
 * so that a client (the inspector) shows writing controls only to a token that may write, before
 * any write is refused. With auth off every request is `write`.
 */
export const ROLE_RESPONSE_HEADER = "Roomstore-Role";
/** Rooms live at `/parties/main/:room` (partyserver routing, PartyKit's default party). */
export const PARTY_NAME = "main";
/** Longest room name, in characters of its decoded (canonical) form. */
export const MAX_ROOM_NAME_CHARS = 256;
/** C0 and C1 control characters and DEL: never part of a room name. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
/**
 * Names no URL can carry as a path segment: WHATWG URL parsers (browsers, Node's fetch and ws,
 * workerd) resolve `.` and `..` away, also when spelled `%2E`, so the room could never be reached.
 */
const DOT_SEGMENTS = new Set([".", ".."]);
/** What a room name may be, as errors on both sides say it. */
export const ROOM_NAME_RULE = `A room name is 1 to ${MAX_ROOM_NAME_CHARS} characters, percent-encoded as UTF-8 in its URL, with no control characters, and not "." or "..".`;

/** True when `name` (decoded, in NFC) may name a room. Any other character may: `/`, `%`, `?`, `#`, spaces… */
const isRoomName = (name: string): boolean =>
  name !== "" && name.length <= MAX_ROOM_NAME_CHARS && !CONTROL_CHARACTER.test(name) && !DOT_SEGMENTS.has(name);

/**
 * A room's one name, from its URL segment as both runtimes hand it over (still percent-encoded):
 * the segment decoded as UTF-8, then in Unicode NFC, so that `caf%C3%A9`, `caf%c3%a9` and
 * `cafe%CC%81` are all the room "café". Undefined when the segment is not an acceptable name: a
 * malformed escape or invalid UTF-8, or a name that breaks ROOM_NAME_RULE.
 */
export const canonicalRoomName = (segment: string): string | undefined => {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    return undefined;
  }
  const name = decoded.normalize("NFC");
  return isRoomName(name) ? name : undefined;
};

/**
 * The one URL segment of a room name: what routing hashes into the room's object id on both
 * runtimes, and what every client puts in its URLs (HTTP and WebSocket alike), so that a name with
 * `/`, `?` or `#` stays one segment and reaches its own room. Throws a RangeError (ROOM_NAME_RULE)
 * for a name no room can have, so that a client fails at once instead of knocking forever.
 */
export const roomSegment = (name: string): string => {
  const canonical = name.normalize("NFC");
  if (!isRoomName(canonical)) throw new RangeError(ROOM_NAME_RULE);
  return encodeURIComponent(canonical);
};

/**
 * A room's name from its URL segment, for a segment the edge already made canonical (so it
 * always decodes); anything else stays as it is.
 */
export const roomName = (segment: string): string => canonicalRoomName(segment) ?? segment;

/**
 * A room's URL path: `/parties/:party/:room` and what follows it, or `/party/:room` (PartyKit's
 * short form for its default party, `party` then undefined). `segment` is the room's segment as it
 * came, still percent-encoded, and empty in `/parties/main/` (no room's name); `rest` is what follows
 * it, `""` or a path from `/`, so that `prefix + segment + rest` is the path again.
 */
export interface RoomPath {
  prefix: string;
  party: string | undefined;
  segment: string;
  rest: string;
}
const ROOM_PATH = /^(\/(?:parties\/([^/]+)|party)\/)([^/]*)(\/.*)?$/;

/** The one reader of a room's path (RoomPath), or undefined for a path that is no room's. */
export const parseRoomPath = (pathname: string): RoomPath | undefined => {
  const match = pathname.match(ROOM_PATH);
  return match ? { prefix: match[1], party: match[2], segment: match[3], rest: match[4] ?? "" } : undefined;
};
