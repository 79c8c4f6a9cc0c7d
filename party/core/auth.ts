// Who may do what, decided before a request or socket reaches a room (in the worker: partyserver's
// onBeforeRequest/onBeforeConnect; under PartyKit: the static hooks of the same names).
//
// Configured with no code, from variables:
//   AUTH_WRITE_TOKEN / AUTH_READ_TOKEN  shared tokens for the two roles;
//   AUTH_SECRET                         HMAC-SHA256 signed tokens naming room, role and expiry
//                                       (see `signToken`), for apps that issue per-user tokens.
// With none of them set, every client may write (open by default, as `npm start` expects).
// Browsers pass the token as the `token` query parameter (PartySocket's `query`), HTTP clients as
// `Authorization: Bearer <token>`. The decided role travels to the room in the ROLE_HEADER, which
// the gate always sets itself, so a client cannot choose it.
import { RoomError } from "./errors.ts";

export type Role = "read" | "write";

/** Header by which the gate tells the room the role it decided. */
export const ROLE_HEADER = "X-Roomstore-Role";
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

/** Claims of a signed token: the room it opens (`*` for any), the role, and expiry in seconds. */
export interface TokenClaims {
  room: string;
  role: Role;
  exp?: number;
}

/** Issues a signed token: `base64url(claims JSON).base64url(HMAC-SHA256(secret, that))`. */
export const signToken = async (secret: string, claims: TokenClaims): Promise<string> => {
  const payload = base64url(encoder.encode(JSON.stringify(claims)));
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(payload)));
  return `${payload}.${base64url(signature)}`;
};

const verifySigned = async (secret: string, token: string, room: string, nowSeconds: number): Promise<Role | undefined> => {
  const [payload, signature, extra] = token.split(".");
  if (!payload || !signature || extra !== undefined) return undefined;
  let valid: boolean;
  try {
    valid = await crypto.subtle.verify("HMAC", await hmacKey(secret), fromBase64url(signature), encoder.encode(payload));
  } catch {
    return undefined;
  }
  if (!valid) return undefined;
  let claims: Partial<TokenClaims>;
  try {
    claims = JSON.parse(new TextDecoder().decode(fromBase64url(payload)));
  } catch {
    return undefined;
  }
  if (claims.room !== room && claims.room !== "*") return undefined;
  if (claims.exp !== undefined && claims.exp < nowSeconds) return undefined;
  return claims.role === "read" || claims.role === "write" ? claims.role : undefined;
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
  const header = request.headers.get("Authorization");
  if (header?.startsWith("Bearer ")) return header.slice(7).trim();
  return new URL(request.url).searchParams.get(TOKEN_PARAM) ?? undefined;
};

/**
 * The role a request may act with in `room`: `write` when auth is off; a RoomError
 * (`unauthorized` without a token, `forbidden` with a wrong one) otherwise.
 */
export const authorize = async (config: AuthConfig, request: Request, room: string, nowSeconds: number): Promise<Role> => {
  if (!isAuthOn(config)) return "write";
  const token = tokenOf(request);
  if (!token) throw new RoomError("unauthorized", "This room needs a token: Authorization: Bearer <token>, or ?token=.");
  if (config.writeToken !== undefined && sameText(token, config.writeToken)) return "write";
  if (config.readToken !== undefined && sameText(token, config.readToken)) return "read";
  const signed = config.secret === undefined ? undefined : await verifySigned(config.secret, token, room, nowSeconds);
  if (signed) return signed;
  throw new RoomError("forbidden", "This token does not open this room.");
};

/** The role the gate decided, as the room reads it; `write` when no gate ran (auth off). */
export const roleOf = (request: Request): Role => (request.headers.get(ROLE_HEADER) === "read" ? "read" : "write");

/**
 * A copy of the request carrying the decided role, whatever the client sent in that header, and
 * without the `token` query parameter: the room never sees the credential, and its readers (which
 * refuse unknown selectors) see only their own parameters.
 */
export const withRole = (request: Request, role: Role): Request => {
  const headers = new Headers(request.headers);
  headers.set(ROLE_HEADER, role);
  const url = new URL(request.url);
  if (!url.searchParams.has(TOKEN_PARAM)) return new Request(request, { headers });
  url.searchParams.delete(TOKEN_PARAM);
  return new Request(url, new Request(request, { headers }));
};
