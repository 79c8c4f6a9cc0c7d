// The grammar of roomstore's own WebSocket messages (`{prefix}x…`): what a client may send, checked
// before anything is done with it (the payloads are checked where they are used), and the two
// checks every write frame passes, its writer's role and its cell count. What each message does
// lives in its capability (live/subscriptions.ts, room-messages.ts, live/token-expiry.ts,
// live/presence.ts); here it is only read.
import { isPresenceState, MAX_CREDIT, MAX_MESSAGE_ID_CHARS, MAX_SUBSCRIPTION_TIMEOUT_MS, MAX_TOKEN_CHARS, type ClientMessage } from "../../protocol.ts";
import { countChanges, type Changes } from "../store/changes.ts";
import { RoomError } from "../common/errors.ts";
import { stateOf, type RoomConnection } from "../room/types.ts";

const isId = (thing: unknown): thing is string =>
  typeof thing === "string" && thing.length > 0 && thing.length <= MAX_MESSAGE_ID_CHARS;

const isCredit = (thing: unknown): thing is number => Number.isSafeInteger(thing) && (thing as number) >= 0 && (thing as number) <= MAX_CREDIT;

/** Validates a client message's shape; the payloads are validated where they are used. */
export const parseClientMessage = (thing: unknown): ClientMessage => {
  const bad = (message: string) => new RoomError("bad_request", message);
  if (typeof thing !== "object" || thing === null) throw bad("A message must be a JSON object with a `t` field.");
  const message = thing as Record<string, unknown>;
  switch (message.t) {
    case "sub":
      if (!isId(message.sid)) throw bad("sub needs a sid of 1 to 128 characters.");
      if (!isCredit(message.credit)) throw bad(`sub needs a credit from 0 to ${MAX_CREDIT}.`);
      if (
        message.timeoutMs !== undefined &&
        !(Number.isSafeInteger(message.timeoutMs) && (message.timeoutMs as number) > 0 && (message.timeoutMs as number) <= MAX_SUBSCRIPTION_TIMEOUT_MS)
      ) {
        throw bad(`timeoutMs must be a whole number of milliseconds up to ${MAX_SUBSCRIPTION_TIMEOUT_MS}.`);
      }
      return message as ClientMessage;
    case "ack":
      if (!isId(message.sid) || !isCredit(message.credit)) throw bad(`ack needs a sid and a credit from 0 to ${MAX_CREDIT}.`);
      return message as ClientMessage;
    case "unsub":
      if (!isId(message.sid)) throw bad("unsub needs a sid.");
      return message as ClientMessage;
    case "changes":
      if (!isId(message.mid)) throw bad("changes needs a mid of 1 to 128 characters.");
      return message as ClientMessage;
    case "append":
      if (!isId(message.mid)) throw bad("append needs a mid of 1 to 128 characters.");
      if (!Array.isArray(message.events)) throw bad("append needs an array of events.");
      if (message.ifMatch !== undefined && !Number.isSafeInteger(message.ifMatch)) throw bad("ifMatch must be a seq.");
      return message as ClientMessage;
    case "auth":
      if (!isId(message.mid)) throw bad("auth needs a mid of 1 to 128 characters.");
      if (typeof message.token !== "string" || message.token.length === 0 || message.token.length > MAX_TOKEN_CHARS) {
        throw bad(`auth needs a token of 1 to ${MAX_TOKEN_CHARS} characters.`);
      }
      return message as ClientMessage;
    case "presence":
      if (!isPresenceState(message.state)) throw bad("presence needs a state: a JSON object, or null to clear it.");
      return message as ClientMessage;
    default:
      throw bad("Unknown message kind.");
  }
};

/** Refuses writes from a connection the gate did not admit as a writer (fail closed). */
export const assertWriter = (connection: RoomConnection): void => {
  if (stateOf(connection).role !== "write") throw new RoomError("forbidden", "This connection is read-only.");
};

export const assertCellCount = (changes: Changes, max: number): void => {
  if (countChanges(changes) > max) throw new RoomError("too_large", `A changeset may change at most ${max} cells and values.`);
};
