// `GET /parties/<party>`: a page of the party's rooms, from its directory, with the same addressing
// and token as a room's HTTP readers (http.ts). Needs the write token or a token signed for room `*`.
import { PARTY_NAME, type RoomListing } from "../party/protocol.ts";
import { failed, requestQuery, type HttpOptions } from "./http.ts";

export interface ListRoomsOptions extends Omit<HttpOptions, "room" | "storePath" | "eventsPath"> {
  /** Only rooms whose names start with this. */
  prefix?: string;
  /** The `next` of the previous page. */
  after?: string;
  /** Rooms per page: 1 to 1000, default 100. */
  limit?: number;
}

/** One page of the party's rooms, in name order; `next` is the `after` of the next page, null on the last. */
export const listRooms = async (options: ListRoomsOptions): Promise<RoomListing> => {
  const host = options.host.replace(/^(https?|wss?):\/\//, "").replace(/\/$/, "");
  const protocol = options.protocol ?? (/^(localhost|127\.0\.0\.1)(:|$)/.test(host) ? "http" : "https");
  const query = new URLSearchParams();
  const { prefix, after, limit } = options;
  for (const [name, value] of Object.entries({ ...(await requestQuery(options)), prefix, after, limit: limit?.toString() })) {
    if (value !== undefined && value !== null) query.set(name, value);
  }
  const search = query.toString() === "" ? "" : `?${query}`;
  const response = await (options.fetch ?? fetch)(`${protocol}://${host}/parties/${encodeURIComponent(options.party ?? PARTY_NAME)}${search}`, { headers: options.headers });
  if (!response.ok) throw await failed(response);
  return (await response.json()) as RoomListing;
};
