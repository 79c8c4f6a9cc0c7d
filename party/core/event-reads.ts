// The event log's read side: a page of events chosen by selectors.
import { RoomError } from "./errors.ts";
import type { RoomCore } from "./room.ts";

const seqParam = (params: URLSearchParams, name: string): number | undefined => {
  const raw = params.get(name);
  if (raw === null) return undefined;
  if (!/^\d{1,16}$/.test(raw)) throw new RoomError("invalid_selector", `${name} must be a seq (a whole number).`);
  return Number(raw);
};

/** A page `{events, next, head}` as JSON text, built from the stored event texts. */
export const readPage = async (core: RoomCore, params: URLSearchParams): Promise<string> => {
  const { limits } = core.options.config;
  const head = core.head;
  const limit = seqParam(params, "limit") ?? limits.defaultPageLimit;
  if (limit < 1 || limit > limits.maxPageLimit) {
    throw new RoomError("invalid_selector", `limit must be between 1 and ${limits.maxPageLimit}.`);
  }
  const from = seqParam(params, "from") ?? (seqParam(params, "after") ?? 0) + 1;
  const events: string[] = [];
  let last = from - 1;
  if (from <= head) {
    const range = core.keys.events.range(from, head);
    const listed = await core.options.storage.list({ ...range, limit });
    for (const [key, value] of listed) {
      if (typeof value !== "string") continue;
      events.push(value);
      last = core.keys.events.seqOf(key);
    }
  }
  const next = events.length === limit && last < head ? last : null;
  return `{"events":[${events.join(",")}],"next":${next},"head":${head}}`;
};
