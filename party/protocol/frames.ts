// Frames: TinyBase's frame kinds and markers, the framing both kinds of frame share, and a seq as
// text (the ETag included).

// ---- TinyBase's PartyKit persister protocol (tinybase/persisters/persister-partykit-*) ----

/** TinyBase's frame type for a changeset: `{prefix}s{Changes JSON}`. */
export const SET_CHANGES = "s";
/** roomstore's own frame type, ignored by TinyBase clients: `{prefix}x{Message JSON}`. */
export const ROOM_MESSAGE = "x";
/** TinyBase's marker for a deleted table, row, cell or value inside Changes. */
export const DELETED = "\uFFFC";
/** TinyBase 8+ prefix of an object or array cell encoded as a string. */
export const JSON_CELL_PREFIX = "\uFFFD";

// ---- Frames ----

/** `{prefix}{type}{payload}`, as TinyBase's `construct` builds it. */
export const encodeFrame = (prefix: string, type: string, payload: string): string =>
  prefix + type + payload;

/**
 * Splits a frame into its type character and payload text, or undefined when the frame does not
 * carry the prefix (TinyBase's `deconstruct`, without parsing).
 */
export const decodeFrame = (
  prefix: string,
  frame: string,
): { type: string; payload: string } | undefined =>
  frame.length > prefix.length && frame.startsWith(prefix)
    ? { type: frame[prefix.length], payload: frame.slice(prefix.length + 1) }
    : undefined;

/** True when a frame's UTF-8 size is over `maxBytes`; it is measured only when the length alone cannot decide. */
export const exceedsBytes = (text: string, maxBytes: number): boolean =>
  text.length > maxBytes || (text.length * 3 > maxBytes && new TextEncoder().encode(text).byteLength > maxBytes);

/** Most decimal digits of a seq as text: 16 write every safe integer (2^53 - 1 has 16). */
export const MAX_SEQ_DIGITS = 16;
/** A seq as text, for a RegExp: 1 to MAX_SEQ_DIGITS digits (a reader that needs a safe integer checks it too). */
export const SEQ_PATTERN = `\\d{1,${MAX_SEQ_DIGITS}}`;
const SEQ_TEXT = new RegExp(`^${SEQ_PATTERN}$`);
/** True when `text` is a seq: digits alone, no more than MAX_SEQ_DIGITS of them. */
export const isSeqText = (text: string): boolean => SEQ_TEXT.test(text);
const ETAG = new RegExp(`^(?:W/)?"?(${SEQ_PATTERN})"?$`);

/** The `ETag` value for log position `seq`. */
export const etagOf = (seq: number): string => `"${seq}"`;

/** Reads a seq from `If-Match`/`If-None-Match` (`"12"`, `W/"12"` or `12`); undefined if absent or malformed. */
export const parseEtag = (header: string | null): number | undefined => {
  const match = header?.trim().match(ETAG);
  return match ? Number(match[1]) : undefined;
};
