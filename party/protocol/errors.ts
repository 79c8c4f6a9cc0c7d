// The error vocabulary: the closed set of codes with their HTTP statuses, the body that carries
// one, and the WebSocket close codes the room sends.

/** The closed set of error codes, each with the HTTP status it travels with. */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_json: 400,
  invalid_content: 400,
  invalid_selector: 400,
  reserved_name: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  gone: 410,
  precondition_failed: 412,
  too_large: 413,
  rate_limited: 429,
  internal: 500,
  /** A service the room depends on (the validation webhook) failed or did not answer in time. */
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Body of every HTTP error and payload of every WebSocket error frame. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

// WebSocket close codes (RFC 6455, 7.4.1): every one the room sends, and the one it reads.
/** A normal close: PartyKit's answer to a client's Close frame (partykit.ts). */
export const CLOSE_NORMAL = 1000;
/** A socket whose room was deleted ("going away"). */
export const CLOSE_ROOM_DELETED = 1001;
/** What a runtime reports for a Close frame that had no code; never sent. */
export const CLOSE_NO_STATUS = 1005;
/** What cannot be recovered on the same socket: a frame that is not valid, or too big. */
export const CLOSE_BAD_DATA = 1007;
/** A socket no gate admitted (no role) or from an origin the room does not allow. */
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
/** A room that could not start. */
export const CLOSE_INTERNAL = 1011;
export const CLOSE_TRY_AGAIN = 1013;
/**
 * A socket whose signed token's `exp` passed (4000-4999 are the application's, RFC 6455 7.4.2),
 * closed with TOKEN_EXPIRED_REASON. An SSE stream ends with an `error` record of the same reason.
 */
export const CLOSE_TOKEN_EXPIRED = 4001;
export const TOKEN_EXPIRED_REASON = "token expired";
/** Longest token an `auth` frame may carry. */
export const MAX_TOKEN_CHARS = 4_096;
