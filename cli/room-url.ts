// The `<room-url>` argument: `http(s)://host/parties/<party>/<room>`, and the options the client
// library's HTTP readers take for it (with the token, from --token or ROOMSTORE_TOKEN).
import { canonicalRoomName, ROOM_NAME_RULE, roomName } from "../party/protocol.ts";
import type { HttpOptions } from "../client/http.ts";
import { UsageError } from "./usage.ts";

const ROOM_URL = /^(https?):\/\/([^/?#]+)\/parties\/([^/?#]+)\/([^/?#]+)\/?$/;

export const parseRoomUrl = (text: string | undefined, token: string | undefined): HttpOptions => {
  if (text === undefined) throw new UsageError("Missing <room-url>, e.g. http://127.0.0.1:8787/parties/main/my-room.");
  const match = text.match(ROOM_URL);
  if (!match) throw new UsageError(`Not a room URL: ${text} (expected http(s)://host/parties/<party>/<room>, the room name percent-encoded: a/b is a%2Fb).`);
  const [, protocol, host, party, segment] = match;
  // The segment as the room reads it: a malformed one would otherwise be taken as a name, encoded
  // again, and name another room.
  const room = canonicalRoomName(segment);
  if (room === undefined) throw new UsageError(`Not a room name: ${segment}. ${ROOM_NAME_RULE}`);
  return {
    protocol: protocol as "http" | "https",
    host,
    party: roomName(party),
    room,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  };
};
