// `roomstore rooms <party-url> [--prefix P]`: the party's rooms as NDJSON, one room per line in name
// order ({name, head, cells, events, created, lastWrite}), paging through the listing's `next`.
import type { HttpOptions } from "../client/http.ts";
import { listRooms } from "../client/rooms.ts";
import { MAX_LIST_LIMIT } from "../party/protocol.ts";
import { noMore, out, type CommandContext } from "./commands.ts";
import { UsageError } from "./usage.ts";

const PARTY_URL = /^(https?):\/\/([^/?#]+)\/parties\/([^/?#]+)\/?$/;

/** A `<party-url>`, `http(s)://host/parties/<party>`, as HTTP options (with no room). */
export const parsePartyUrl = (text: string | undefined, token: string | undefined): HttpOptions => {
  if (text === undefined) throw new UsageError("Missing <party-url>, e.g. http://127.0.0.1:8787/parties/main.");
  const match = text.match(PARTY_URL);
  if (!match) throw new UsageError(`Not a party URL: ${text} (expected http(s)://host/parties/<party>).`);
  const [, protocol, host, party] = match;
  return { protocol: protocol as "http" | "https", host, party: decodeURIComponent(party), room: "", headers: token ? { Authorization: `Bearer ${token}` } : {} };
};

export const rooms = async ({ room: target, values, rest, signal }: CommandContext) => {
  noMore(rest);
  const prefix = typeof values.prefix === "string" ? values.prefix : undefined;
  let after: string | null = null;
  do {
    const listing = await listRooms({ ...target, prefix, after: after ?? undefined, limit: MAX_LIST_LIMIT, fetch: (url, init) => fetch(url, { ...init, signal }) });
    if (listing.rooms.length > 0) await out(listing.rooms.map((listed) => JSON.stringify(listed)).join("\n") + "\n");
    after = listing.next;
  } while (after !== null);
};
