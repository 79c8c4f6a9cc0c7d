// Who may do what, decided before a request or socket reaches a room (in the worker: partyserver's
// onBeforeRequest/onBeforeConnect; under PartyKit: the static hooks of the same names).
//
// Configured with no code, from variables:
//   AUTH_WRITE_TOKEN / AUTH_READ_TOKEN  shared tokens for the two roles;
//   AUTH_SECRET                         HMAC-SHA256 signed tokens naming room, role and expiry
//                                       (see `signToken`), for apps that issue per-user tokens.
// With none of them set, every client may write (open by default, as `npm start` expects).
// Browsers pass the token as the `token` query parameter (PartySocket's `query`), HTTP clients as
// `Authorization: Bearer <token>`. The decided role travels to the room in the ROLE_HEADER, and a
// signed token's expiry in the TOKEN_EXPIRY_HEADER, which the gate always sets (or removes) itself,
// so a client can choose neither. The room ends what the token opened when it expires
// (live/token-expiry.ts), and checks a socket's new token with `authorizeToken` when it refreshes.
import { RoomError } from "../common/errors.ts";

export type Role = "read" | "write";

/** Header by which the gate tells the room the role it decided. */
export const ROLE_HEADER = "X-Roomstore-Role";
/** Header by which the gate tells the room when the token expires (seconds since the epoch); absent for tokens that do not. */
export const TOKEN_EXPIRY_HEADER = "X-Roomstore-Token-Exp";
/** Query parameter that carries a token from browsers and WebSockets. */
export const TOKEN_PARAM = "token";

export interface AuthConfig {
  writeToken?: string;
  readToken?: string;
  secret?: string;
}

export const authConfigFromEnv = (env: Record<string, unknown>): AuthConfig => {
  const text = (name: string) => (typeof env[name] === "string" && env[name] !== "" ? (env[name] as string) : undefined);
  return { writeToken: text("AUTH_WRITE_TOKEN"), readToken: text("AUTH_READ_TOKEN"), secret: text("AUTH_SECRET") };
};

export const isAuthOn = (config: AuthConfig): boolean =>
  config.writeToken !== undefined || config.readToken !== undefined || config.secret !== undefined;

const encoder = new TextEncoder();

const base64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

const fromBase64url = (text: string): Uint8Array =>
  Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (char) => char.charCodeAt(0));

const hmacKey = (secret: string) =>
  crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);

/**
 * Claims of a signed token: the room it opens (`*` for any), the role, and its expiry in seconds
 * since the epoch. `exp` is required: a token that never expires cannot be taken back short of
 * changing AUTH_SECRET, which ends every token at once.
 */
export interface TokenClaims {
  room: string;
  role: Role;
  exp: number;
}

/** Issues a signed token: `base64url(claims JSON).base64url(HMAC-SHA256(secret, that))`. */
export const signToken = async (secret: string, claims: TokenClaims): Promise<string> => {
  if (!Number.isFinite(claims.exp)) throw new TypeError("A token needs `exp`, its expiry in seconds since the epoch.");
  const payload = base64url(encoder.encode(JSON.stringify(claims)));
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(payload)));
  return `${payload}.${base64url(signature)}`;
};

/** What a signed token says, once its signature is checked: undefined when it is not one of ours. */
const verifiedClaims = async (secret: string, token: string): Promise<Partial<TokenClaims> | undefined> => {
  const [payload, signature, extra] = token.split(".");
  if (!payload || !signature || extra !== undefined) return undefined;
  try {
    if (!(await crypto.subtle.verify("HMAC", await hmacKey(secret), fromBase64url(signature), encoder.encode(payload)))) return undefined;
    const claims: unknown = JSON.parse(new TextDecoder().decode(fromBase64url(payload)));
    return typeof claims === "object" && claims !== null ? (claims as Partial<TokenClaims>) : undefined;
  } catch {
    return undefined;
  }
};

/** What a token admits to: a role, and for a signed token the time it ends (seconds since the epoch). */
export interface Admission {
  role: Role;
  exp?: number;
}

/**
 * What a signed token admits to in `room` at `nowSeconds`. The token's room is compared in NFC,
 * as room names are (see canonicalRoomName in protocol.ts).
 */
const verifySigned = async (secret: string, token: string, room: string, nowSeconds: number): Promise<Admission | undefined> => {
  const claims = await verifiedClaims(secret, token);
  if (!claims || (claims.role !== "read" && claims.role !== "write")) return undefined;
  if (typeof claims.room !== "string" || (claims.room !== "*" && claims.room.normalize("NFC") !== room)) return undefined;
  if (typeof claims.exp !== "number" || !Number.isFinite(claims.exp)) {
    throw new RoomError("unauthorized", "This token has no expiry (`exp`, in seconds); ask for a new one.");
  }
  if (claims.exp <= nowSeconds) throw new RoomError("unauthorized", "This token expired; ask for a new one.");
  return { role: claims.role, exp: claims.exp };
};

/** Constant-time comparison, so a token cannot be guessed byte by byte from timings. */
const sameText = (a: string, b: string): boolean => {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  let difference = left.length ^ right.length;
  for (let i = 0; i < Math.max(left.length, right.length); i++) difference |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return difference === 0;
};

export const tokenOf = (request: Request): string | undefined => {
  // The scheme is case-insensitive (RFC 9110, 11.1).
  const bearer = request.headers.get("Authorization")?.match(/^bearer\s+(\S+)\s*$/i);
  if (bearer) return bearer[1];
  return new URL(request.url).searchParams.get(TOKEN_PARAM) ?? undefined;
};

/**
 * What `token` admits to in `room`: `write` when auth is off; a RoomError (`unauthorized` without
 * a token or with an expired one, `forbidden` with a wrong one) otherwise. Shared tokens never expire.
 */
export const authorizeToken = async (config: AuthConfig, token: string | undefined, room: string, nowSeconds: number): Promise<Admission> => {
  if (!isAuthOn(config)) return { role: "write" };
  if (!token) throw new RoomError("unauthorized", "This room needs a token: Authorization: Bearer <token>, or ?token=.");
  if (config.writeToken !== undefined && sameText(token, config.writeToken)) return { role: "write" };
  if (config.readToken !== undefined && sameText(token, config.readToken)) return { role: "read" };
  const signed = config.secret === undefined ? undefined : await verifySigned(config.secret, token, room, nowSeconds);
  if (signed) return signed;
  throw new RoomError("forbidden", "This token does not open this room.");
};

/** The role a request may act with in `room` (see authorizeToken). */
export const authorize = async (config: AuthConfig, request: Request, room: string, nowSeconds: number): Promise<Role> =>
  (await authorizeToken(config, tokenOf(request), room, nowSeconds)).role;

/**
 * The role the gate decided, as the room reads it; undefined when no gate decided, which the room
 * refuses (fail closed). With auth off the gate decides `write` explicitly.
 */
export const roleOf = (request: Request): Role | undefined => {
  const role = request.headers.get(ROLE_HEADER);
  return role === "read" || role === "write" ? role : undefined;
};

/** The expiry the gate passed on (seconds since the epoch), or undefined for a token that does not expire. */
export const tokenExpiryOf = (request: Request): number | undefined => {
  const header = request.headers.get(TOKEN_EXPIRY_HEADER);
  const exp = header === null ? NaN : Number(header);
  return Number.isFinite(exp) ? exp : undefined;
};

/**
 * A copy of the request for the room: at `url` (the canonical room URL), carrying the decided role
 * and expiry whatever the client sent in those headers, and without the token, which the room has
 * no use for (selectors would refuse it as unknown, and logs would keep it).
 */
export const withAdmission = (request: Request, admission: Admission, url = request.url): Request => {
  const headers = new Headers(request.headers);
  headers.set(ROLE_HEADER, admission.role);
  if (admission.exp === undefined) headers.delete(TOKEN_EXPIRY_HEADER);
  else headers.set(TOKEN_EXPIRY_HEADER, String(admission.exp));
  const target = new URL(url);
  target.searchParams.delete(TOKEN_PARAM);
  return new Request(target, { method: request.method, headers, body: request.body, redirect: request.redirect, duplex: "half" } as RequestInit);
};
