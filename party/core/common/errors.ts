// One error vocabulary for HTTP and WebSocket: a closed set of codes (protocol.ts), JSON bodies,
// error frames, and closes for what cannot be recovered. No stack or internal detail leaves here.
import {
  CLOSE_BAD_DATA,
  CLOSE_TOO_BIG,
  ERROR_STATUS,
  type ErrorBody,
  type ErrorCode,
} from "../../protocol.ts";

/** An error a client caused or may see: its code decides the HTTP status and the close code. */
export class RoomError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "RoomError";
    this.code = code;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const isRoomError = (error: unknown): error is RoomError => error instanceof RoomError;

/**
 * A malformed deployment setting (an environment variable). Its message names the variable and
 * its value for the server's log; a client is told only that the configuration is at fault, since
 * a value may be a secret and the client cannot fix it.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** What a client is told about a ConfigError: the same on every path, HTTP or WebSocket. */
export const CONFIG_ERROR_MESSAGE = "The server's configuration is malformed (its log names the setting); it answers again once that is fixed.";

/**
 * Anything thrown becomes a RoomError: a ConfigError `unavailable` (503: the server, not the
 * request, is at fault), an unknown error a generic `internal` one.
 */
export const toRoomError = (error: unknown): RoomError =>
  isRoomError(error)
    ? error
    : error instanceof ConfigError
      ? new RoomError("unavailable", CONFIG_ERROR_MESSAGE)
      : new RoomError("internal", "The room could not handle this request.");

export const errorBody = (error: RoomError): ErrorBody => ({
  error: { code: error.code, message: error.message },
});

/** The close code for an error that ends a socket (1009 when too big, else 1007 bad data). */
export const closeCodeOf = (error: RoomError): number =>
  error.code === "too_large" ? CLOSE_TOO_BIG : CLOSE_BAD_DATA;

/** Throws `invalid_content`/`bad_request`-style errors tersely at validation sites. */
export const fail = (code: ErrorCode, message: string): never => {
  throw new RoomError(code, message);
};
