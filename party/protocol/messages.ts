// roomstore's own WebSocket messages (`{prefix}x{JSON}`), subscriptions' bounds, and presence.
import type { ErrorBody } from "./errors.ts";
import { encodeFrame, ROOM_MESSAGE, SET_CHANGES } from "./frames.ts";

// ---- roomstore's own WebSocket messages (`{prefix}x{JSON}`) ----

/** Selectors as a subscription sends them: the query parameters of `GET {eventsPath}`. */
export interface SelectorParams {
  stream?: string;
  types?: string[] | string;
  from?: number;
  after?: number | "past-events";
  to?: number;
  until?: number | "caught-up";
}

/** Client → room. `mid` (message id) makes a write acknowledged and safe to resend. */
export type ClientMessage =
  | { t: "sub"; sid: string; selectors?: SelectorParams; credit: number; timeoutMs?: number }
  | { t: "ack"; sid: string; credit: number }
  | { t: "unsub"; sid: string }
  | { t: "changes"; mid: string; changes: unknown }
  | { t: "append"; mid: string; events: unknown[]; ifMatch?: number }
  /** A new token for this socket (main socket only): `ok` when it opens this room, else `nack` and the old one stays. */
  | { t: "auth"; mid: string; token: string }
  /** Sets this socket's presence state (`null` clears it); see Presence below. */
  | { t: "presence"; state: PresenceState | null };

/** Why a subscription ended. */
export type EndReason = "done" | "unsubscribed" | "error" | "timeout" | "reset";

/** Room → client. Event frames (`ev`) carry the stored event JSON verbatim. */
export type ServerMessage =
  | ({ t: "error"; mid?: string; sid?: string } & ErrorBody)
  | { t: "ev"; sid: string; e: unknown }
  | { t: "caught-up"; sid: string; seq: number }
  | ({ t: "end"; sid: string; reason: EndReason } & Partial<ErrorBody>)
  | { t: "ok"; mid: string; seq?: number | null; seqs?: number[] }
  | ({ t: "nack"; mid: string } & ErrorBody)
  | PresenceHello
  | PresenceChanges;

export const encodeServerMessage = (prefix: string, message: ServerMessage): string =>
  encodeFrame(prefix, ROOM_MESSAGE, JSON.stringify(message));

/** An event frame built around the stored event text, without parsing it again. */
export const encodeEventMessage = (prefix: string, sid: string, eventJson: string): string =>
  encodeFrame(prefix, ROOM_MESSAGE, `{"t":"ev","sid":${JSON.stringify(sid)},"e":${eventJson}}`);

/** Most subscriptions one connection may hold at once. */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 16;
/** Most credit a subscription may hold unspent. */
export const MAX_CREDIT = 10_000;
/**
 * A subscription that has had no credit for this long while events wait for it ends with reason
 * `timeout` (a `sub` may ask for a shorter or longer one, up to MAX_SUBSCRIPTION_TIMEOUT_MS).
 */
export const SUBSCRIPTION_TIMEOUT_MS = 5 * 60_000;
export const MAX_SUBSCRIPTION_TIMEOUT_MS = 60 * 60_000;
/** Longest subscription or message id. */
export const MAX_MESSAGE_ID_CHARS = 128;

/** A TinyBase changeset frame: `{prefix}s{Changes JSON}`; DELETED strings stand for deletions. */
export const encodeChangesFrame = (prefix: string, changes: unknown): string =>
  encodeFrame(prefix, SET_CHANGES, JSON.stringify(changes));

// ---- Presence: per-connection ephemeral state on the main socket ----

/** `GET {room}/presence` answers `{"peers":{…}}`: every open connection's state. */
export const PRESENCE_PATH = "/presence";
/**
 * Largest presence state, in UTF-8 bytes of its JSON. It is kept in the socket's attachment, which
 * both runtimes cap at 16 KiB (Cloudflare's serializeAttachment limit) and which also holds the
 * role, the socket id and up to MAX_SUBSCRIPTIONS_PER_CONNECTION subscription ids; V8's
 * serialization of a JSON value takes at most about twice its JSON bytes (a short double: 9 bytes
 * for "1.5,"), so a room may lower this limit but never raise it past the default.
 */
export const MAX_PRESENCE_BYTES = 4096;
/** Presence changes reach every socket coalesced: at most one frame every this many milliseconds. */
export const PRESENCE_INTERVAL_MS = 50;

/** A connection's presence: any JSON object. */
export type PresenceState = Record<string, unknown>;
/** States by the room's own connection id (never a client-chosen one). */
export type PresencePeers = Record<string, PresenceState>;
/** Sent once when a main socket opens: its own id, and every connection that has a state. */
export type PresenceHello = { t: "presence"; self: string; peers: PresencePeers };
/** What changed since the last frame: new states (`null`: cleared) and connections that closed. */
export type PresenceChanges = { t: "presence"; set: Record<string, PresenceState | null>; left: string[] };

/** True for what a `presence` frame may carry: a JSON object (not an array), or null. */
export const isPresenceState = (thing: unknown): thing is PresenceState | null =>
  thing === null || (typeof thing === "object" && !Array.isArray(thing));
