// Durable Streams payloads: how one append's body is kept in the log. JSON streams keep message
// boundaries (an array body is its elements, PROTOCOL.md 7.1); text stays text when it is UTF-8;
// other bytes are base64, since event data is JSON.
import { RoomError } from "../common/errors.ts";

/** One append as the log keeps it: JSON messages, UTF-8 text, or other bytes in base64. */
export type Payload = { json: unknown[] } | { text: string } | { base64: string };

/** The media type without parameters, lower case: `application/json; charset=utf-8` is JSON mode. */
export const mediaType = (contentType: string): string => contentType.split(";")[0]!.trim().toLowerCase();
export const isJsonMode = (contentType: string): boolean => mediaType(contentType) === "application/json";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Base64 in slices, so that a large body never becomes one huge argument list. */
export const toBase64 = (bytes: Uint8Array): string => {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
};

export const fromBase64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (char) => char.charCodeAt(0));

/**
 * The payload of a body, or undefined when it holds no message (an empty body; `[]` on create).
 * JSON mode flattens one level of array; text stays text when it is valid UTF-8.
 */
export const encodePayload = (contentType: string, body: Uint8Array, creating: boolean): Payload | undefined => {
  if (body.length === 0) return undefined;
  if (isJsonMode(contentType)) {
    let value: unknown;
    try {
      value = JSON.parse(utf8.decode(body));
    } catch {
      throw new RoomError("invalid_json", "A JSON stream takes a valid JSON body.");
    }
    if (!Array.isArray(value)) return { json: [value] };
    if (value.length > 0) return { json: value };
    if (creating) return undefined;
    throw new RoomError("bad_request", "An append of an empty JSON array appends nothing.");
  }
  if (mediaType(contentType).startsWith("text/")) {
    try {
      return { text: utf8.decode(body) };
    } catch {
      // Not UTF-8: kept as bytes.
    }
  }
  return { base64: toBase64(body) };
};
