// `GET {room}/presence`: the peers' states, read from the open sockets (live/presence.ts).
import { PRESENCE_PATH } from "../../protocol.ts";
import type { Presence } from "../live/presence.ts";
import { jsonResponse } from "../room/http.ts";
import type { Resource } from "./routes.ts";

/** `GET {room}/presence`: reads the open sockets, creates and stores nothing. */
export const presenceResource = (presence: Pick<Presence, "peers">): [string, Resource] => [
  PRESENCE_PATH,
  {
    GET: async (_request, headers) => {
      headers.set("Cache-Control", "no-store");
      return jsonResponse(200, { peers: presence.peers() }, headers);
    },
  },
];
