// TinyBase's WsSynchronizer wire format (tinybase 10), as the room reads and writes it.
//   frame:     `<to>\n<JSON [requestId, messageType, body]>`, `"\uFFFC"` standing for undefined
//   fragment:  `<to>\n<messageId16>\n<index>\n<total>\n<chunk>`, chunks joined give the JSON
// `to` is "" (everyone, the room included), "S" (the room) or another client's id. Every frame the
// room sends is whole and comes from "S": the room answers and forwards everything itself.
// Postcondition of `createSyncDecoder`: a message reaches `receive` only when it is whole and its
// body has the shape its type asks for; anything else throws a RoomError and keeps nothing.
import { DELETED, MAX_SYNC_FRAGMENTS, MAX_SYNC_MESSAGE_BYTES, MAX_SYNC_PARTIAL_BYTES_PER_ROOM, MAX_SYNC_PARTIAL_MESSAGES, SYNC_MESSAGE, SYNC_REQUEST_TIMEOUT_MS, SYNC_ROOM_ID, exceedsBytes } from "../../protocol.ts";
import { fail } from "../common/errors.ts";

/** A stamp: `[thing, hlc]`, or `[thing]` when it has no time (TinyBase's container stamps). */
export type Stamp<T> = [T, string?];
export type CellStamps = Record<string, Stamp<unknown>>;
export type RowStamps = Record<string, Stamp<CellStamps>>;
export type TableStamps = Record<string, Stamp<RowStamps>>;
/** TinyBase MergeableChanges: `[tablesStamp, valuesStamp, 1]`; an undefined thing is a deletion. */
export type MergeableChanges = [Stamp<TableStamps>, Stamp<CellStamps>, 1];
export type HashTree = { [id: string]: number | HashTree };

export interface SyncMessage {
  to: string;
  requestId: string | null;
  type: number;
  body: unknown;
}

const HLC = /^[-0-9A-Z_a-z]{16}$/;
const FRAGMENT = /^([-0-9A-Z_a-z]{16})\n(\d{1,6})\n(\d{1,6})\n/;
const UINT32_MAX = 0xffff_ffff;
/** TinyBase refuses stamps more than 5 minutes ahead of its clock (HLC_MAX_FUTURE_OFFSET). */
export const HLC_MAX_FUTURE_MS = 5 * 60_000;

const isObject = (thing: unknown): thing is Record<string, unknown> =>
  typeof thing === "object" && thing !== null && !Array.isArray(thing);

const HLC_DIGITS = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
/** The millisecond time in an HLC's first 7 characters. */
export const hlcTime = (hlc: string): number => {
  let time = 0;
  for (let i = 0; i < 7; i++) time = time * 64 + HLC_DIGITS.indexOf(hlc[i]);
  return time;
};

const isHash = (thing: unknown) => Number.isInteger(thing) && (thing as number) >= 0 && (thing as number) <= UINT32_MAX;
const isHashTree = (thing: unknown, depth: number): boolean => {
  if (!isObject(thing)) return false;
  for (const id in thing) if (!(depth ? isHashTree(thing[id], depth - 1) : isHash(thing[id]))) return false;
  return true;
};
const isThing = (thing: unknown) =>
  thing === undefined || thing === null || typeof thing === "string" || typeof thing === "boolean" || (typeof thing === "number" && Number.isFinite(thing)) || typeof thing === "object";

/** A validator of stamps `depth` levels deep, refusing HLCs later than `maxTime`. */
const stampValidator = (maxTime: number) => {
  const isStamp = (stamp: unknown, depth: number): boolean => {
    if (!Array.isArray(stamp) || stamp.length < 1 || stamp.length > 2) return false;
    if (stamp.length === 2 && !(stamp[1] === "" || (typeof stamp[1] === "string" && HLC.test(stamp[1]) && hlcTime(stamp[1]) <= maxTime))) return false;
    if (!depth) return isThing(stamp[0]);
    if (!isObject(stamp[0])) return false;
    for (const id in stamp[0]) if (!isStamp(stamp[0][id], depth - 1)) return false;
    return true;
  };
  return isStamp;
};

/** The shape each message type's body must have; a Response is checked against its request's type. */
export const bodyValidator = (now: number) => {
  const isStamp = stampValidator(now + HLC_MAX_FUTURE_MS);
  const isChanges = (body: unknown) =>
    Array.isArray(body) && (body.length === 2 || (body.length === 3 && body[2] === 1)) && isStamp(body[0], 3) && isStamp(body[1], 1);
  const isHashes = (body: unknown) => Array.isArray(body) && body.length === 2 && isHash(body[0]) && isHash(body[1]);
  const byType: Record<number, (body: unknown) => boolean> = {
    [SYNC_MESSAGE.getContentHashes]: (body) => body === "",
    [SYNC_MESSAGE.contentHashes]: isHashes,
    [SYNC_MESSAGE.contentDiff]: isChanges,
    [SYNC_MESSAGE.getTableDiff]: (body) => isHashTree(body, 0),
    [SYNC_MESSAGE.getRowDiff]: (body) => isHashTree(body, 1),
    [SYNC_MESSAGE.getCellDiff]: (body) => isHashTree(body, 2),
    [SYNC_MESSAGE.getValueDiff]: (body) => isHashTree(body, 0),
  };
  /** Answers to the room's requests, by the request's type. */
  const byRequest: Record<number, (body: unknown) => boolean> = {
    [SYNC_MESSAGE.getContentHashes]: isHashes,
    [SYNC_MESSAGE.getTableDiff]: (body) => Array.isArray(body) && body.length === 2 && isStamp(body[0], 3) && isHashTree(body[1], 0),
    [SYNC_MESSAGE.getRowDiff]: (body) => Array.isArray(body) && body.length === 2 && isStamp(body[0], 3) && isHashTree(body[1], 1),
    [SYNC_MESSAGE.getCellDiff]: (body) => isStamp(body, 3),
    [SYNC_MESSAGE.getValueDiff]: (body) => isStamp(body, 1),
  };
  return {
    /** False for an unknown type or a body of the wrong shape; a Response is checked later (`isAnswer`). */
    isValid: (type: number, body: unknown) => type === SYNC_MESSAGE.response || (byType[type]?.(body) ?? false),
    isAnswer: (requestType: number, body: unknown) => byRequest[requestType]?.(body) ?? false,
  };
};

/** JSON.parse turning TinyBase's "\uFFFC" strings back into undefined. */
const parseWithUndefined = (text: string): unknown => {
  const revive = (thing: unknown): unknown => {
    if (thing === DELETED) return undefined;
    if (Array.isArray(thing)) return thing.map(revive);
    if (isObject(thing)) {
      const out: Record<string, unknown> = Object.create(null);
      for (const id in thing) out[id] = revive(thing[id]);
      return out;
    }
    return thing;
  };
  return revive(JSON.parse(text));
};

/**
 * A message body as TinyBase writes it, undefined as "\uFFFC". Undefined is only ever the thing of
 * a stamp (a deletion), which plain JSON writes as `[null,"` or `[null]` and no string holds
 * unescaped as the first; without either, the plain text, written without a replacer function for
 * every node of a possibly large body, is the same.
 */
export const encodeSyncBody = (body: unknown): string => {
  const plain = JSON.stringify(body);
  if (!plain.includes('[null,"') && !plain.includes("[null]")) return plain;
  return JSON.stringify(body, (_key, value) => (value === undefined ? DELETED : value));
};

/** A frame from the room, from a body encoded by `encodeSyncBody` (which may be sent more than once). */
export const encodeSyncFrameOf = (requestId: string | null, type: number, encodedBody: string): string =>
  SYNC_ROOM_ID + "\n[" + JSON.stringify(requestId) + "," + type + "," + encodedBody + "]";

/** A frame from the room: from "S", undefined written as TinyBase writes it. */
export const encodeSyncFrame = (requestId: string | null, type: number, body: unknown): string =>
  encodeSyncFrameOf(requestId, type, encodeSyncBody(body));

/** The bytes of fragments every socket of a room keeps, shared by their decoders. */
export interface FragmentBudget {
  readonly limitBytes: number;
  bytes: number;
}
export const createFragmentBudget = (limitBytes = MAX_SYNC_PARTIAL_BYTES_PER_ROOM): FragmentBudget => ({ limitBytes, bytes: 0 });

/**
 * Reads one socket's frames: whole messages are parsed at once; fragments are kept, within
 * TinyBase's bounds per socket and `budget` across the room, until their message is whole or
 * SYNC_REQUEST_TIMEOUT_MS has passed. `release` frees what the socket keeps when it closes.
 */
export const createSyncDecoder = (now: () => number, budget: FragmentBudget = createFragmentBudget()) => {
  const partial = new Map<string, { chunks: string[]; missing: number; bytes: number; started: number }>();
  let partialBytes = 0;

  const drop = (key: string, bytes: number) => {
    partial.delete(key);
    partialBytes -= bytes;
    budget.bytes -= bytes;
  };

  const dropStale = (time: number) => {
    for (const [key, entry] of partial) if (time - entry.started >= SYNC_REQUEST_TIMEOUT_MS) drop(key, entry.bytes);
  };

  const parse = (to: string, json: string): SyncMessage => {
    let message: unknown;
    try {
      message = parseWithUndefined(json);
    } catch {
      return fail("invalid_json", "The synchronizer message is not valid JSON.");
    }
    if (!Array.isArray(message) || message.length !== 3) return fail("invalid_content", "A synchronizer message is [requestId, type, body].");
    const [requestId, type, body] = message;
    if (requestId !== null && (typeof requestId !== "string" || requestId.length > 64)) return fail("invalid_content", "The request id must be null or a short string.");
    if (!Number.isInteger(type)) return fail("invalid_content", "The message type must be an integer.");
    if (!bodyValidator(now()).isValid(type, body)) return fail("invalid_content", `Not a valid body for synchronizer message type ${type}.`);
    return { to, requestId, type, body };
  };

  return {
    /** The message a frame completes, undefined while a fragmented message is not yet whole. */
    decode(frame: string): SyncMessage | undefined {
      if (exceedsBytes(frame, MAX_SYNC_MESSAGE_BYTES)) fail("too_large", `Synchronizer messages are limited to ${MAX_SYNC_MESSAGE_BYTES} bytes.`);
      const split = frame.indexOf("\n");
      if (split < 0) return fail("invalid_content", "A synchronizer frame is `<to>\\n<message>`.");
      const to = frame.slice(0, split);
      const rest = frame.slice(split + 1);
      const fragment = FRAGMENT.exec(rest);
      if (!fragment) return parse(to, rest);
      const [head, messageId, indexText, totalText] = fragment;
      const index = Number(indexText);
      const total = Number(totalText);
      if (total > MAX_SYNC_FRAGMENTS) fail("too_large", `A message may have at most ${MAX_SYNC_FRAGMENTS} fragments.`);
      if (total < 1 || index >= total) fail("invalid_content", "A fragment's index must be below its total.");
      const time = now();
      dropStale(time);
      const key = to + "\n" + messageId;
      let entry = partial.get(key);
      if (!entry) {
        if (partial.size >= MAX_SYNC_PARTIAL_MESSAGES) fail("too_large", `At most ${MAX_SYNC_PARTIAL_MESSAGES} messages may be in fragments at once.`);
        partial.set(key, (entry = { chunks: new Array(total), missing: total, bytes: 0, started: time }));
      }
      if (entry.chunks.length !== total || entry.chunks[index] !== undefined) fail("invalid_content", "A fragment repeats or disagrees on its total.");
      const chunk = rest.slice(head.length);
      if (partialBytes + chunk.length > MAX_SYNC_MESSAGE_BYTES) fail("too_large", `Synchronizer messages are limited to ${MAX_SYNC_MESSAGE_BYTES} bytes.`);
      if (budget.bytes + chunk.length > budget.limitBytes) fail("too_large", `The room keeps at most ${budget.limitBytes} bytes of message fragments at once.`);
      entry.chunks[index] = chunk;
      entry.bytes += chunk.length;
      partialBytes += chunk.length;
      budget.bytes += chunk.length;
      if (--entry.missing > 0) return undefined;
      drop(key, entry.bytes);
      const json = entry.chunks.join("");
      if (exceedsBytes(json, MAX_SYNC_MESSAGE_BYTES)) fail("too_large", `Synchronizer messages are limited to ${MAX_SYNC_MESSAGE_BYTES} bytes.`);
      return parse(to, json);
    },

    release(): void {
      for (const [key, entry] of partial) drop(key, entry.bytes);
    },
  };
};
