// Tokens in the client library: a string, or a function that returns one (or a promise of one).
// A function is called for every connection, reconnection and HTTP request, and, on a room's
// socket, again before a signed token expires (the room closes a socket at its token's `exp`,
// with 4001; createTokenRefresh sends it a fresh one first).
import type { ClientMessage, ServerMessage } from "../party/protocol.ts";
import { newId } from "./ids.ts";

/** A token, or where to get a fresh one. */
export type TokenSource = string | (() => string | Promise<string>);

/**
 * How long before a signed token's `exp` a room's socket asks for a fresh one; half the time the
 * token has left, when that is less (a token of a few seconds is refreshed half-way).
 */
export const TOKEN_REFRESH_MARGIN_MS = 30_000;

export const resolveToken = async (source: TokenSource): Promise<string> => (typeof source === "function" ? await source() : source);

/**
 * The `exp` of a signed token (as `signToken` issues them: base64url claims, a dot, a signature),
 * in milliseconds, read without checking the signature (only the room can); undefined for any
 * other token (shared tokens do not expire).
 */
export const tokenExpiryMs = (token: string): number | undefined => {
  const [payload, signature, extra] = token.split(".");
  if (!payload || !signature || extra !== undefined) return undefined;
  try {
    const bytes = Uint8Array.from(atob(payload.replace(/-/g, "+").replace(/_/g, "/")), (char) => char.charCodeAt(0));
    const exp: unknown = (JSON.parse(new TextDecoder().decode(bytes)) as { exp?: unknown } | null)?.exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
};

/** How long to wait before asking for a fresh token, or undefined when it has already expired. */
export const refreshDelayMs = (expiresAtMs: number, nowMs: number): number | undefined => {
  const left = expiresAtMs - nowMs;
  return left > 0 ? left - Math.min(TOKEN_REFRESH_MARGIN_MS, left / 2) : undefined;
};

type AuthMessage = Extract<ClientMessage, { t: "auth" }>;

/** What a room's socket gives its token refresh: a way to send, while it is open. */
export interface RefreshLink {
  send(message: AuthMessage): void;
  readonly isOpen: boolean;
}

export interface TokenRefresh {
  /** The token for a new connection. */
  next(): Promise<string>;
  /** The socket opened with the token `next` gave. */
  opened(): void;
  /** The socket closed, or the room did. */
  stop(): void;
  /** Takes the room's answer to the refresh, if `message` is one. */
  answer(message: ServerMessage): void;
}

/**
 * A socket's token: a fresh one for each connection (`next`), and, from a function, a fresh one
 * before a signed token expires, sent as an `auth` frame. On `ok` the new token is the socket's,
 * and its own refresh is scheduled; on a `nack` (or a function that fails) the socket keeps the
 * old token until the room closes it at its `exp`, and the reconnection asks the function again.
 * A new token that expires no later than the old one is not refreshed again before it expires.
 */
export const createTokenRefresh = (source: TokenSource, link: RefreshLink): TokenRefresh => {
  let current: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let asked: { mid: string; token: string } | undefined;

  const stop = () => {
    clearTimeout(timer);
    timer = undefined;
    asked = undefined;
  };

  const schedule = () => {
    stop();
    const expiresAt = current === undefined ? undefined : tokenExpiryMs(current);
    const delay = typeof source === "function" && expiresAt !== undefined ? refreshDelayMs(expiresAt, Date.now()) : undefined;
    if (delay !== undefined) timer = setTimeout(() => void refresh(expiresAt!), delay);
  };

  const refresh = async (expiresAt: number) => {
    let token: string;
    try {
      token = await resolveToken(source);
    } catch {
      return;
    }
    if (!link.isOpen || (tokenExpiryMs(token) ?? Infinity) <= expiresAt) return;
    asked = { mid: newId(), token };
    link.send({ t: "auth", mid: asked.mid, token });
  };

  return {
    async next() {
      return (current = await resolveToken(source));
    },
    opened: schedule,
    stop,
    answer(message) {
      if ((message.t !== "ok" && message.t !== "nack") || message.mid !== asked?.mid) return;
      if (message.t === "ok") {
        current = asked.token;
        schedule();
      } else asked = undefined;
    },
  };
};
