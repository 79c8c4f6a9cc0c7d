// roomstore's own WebSocket messages (`{prefix}x…`, parsed by messages.ts), each handed to what it
// names: `auth` to the token's expiry (live/token-expiry.ts), `presence` to presence
// (live/presence.ts), `sub`/`ack`/`unsub` to the subscriptions (live/subscriptions.ts), and the
// acknowledged writes, `changes` and `append`, carried out here: `ok` with their seqs once they
// are durable, `nack` with their mid when they fail. A subscription's failure is an `error` frame
// with its sid; nothing here closes the socket.
import { encodeServerMessage, type ClientMessage, type ServerMessage } from "../../protocol.ts";
import { parseChanges, type Changes } from "../store/changes.ts";
import { errorBody, RoomError, toRoomError } from "../common/errors.ts";
import { sendCurrent } from "../live/broadcast.ts";
import { parseAppendInputs, type EventInput, type StoredEvent } from "../storage/event-log.ts";
import type { ApplyOptions, ChangesResult, RoomConnection, RoomContext } from "../room/types.ts";
import type { StoreModel } from "../store/model.ts";
import type { SubscriptionHandlers } from "../live/subscriptions.ts";
import type { TokenExpiry } from "../live/token-expiry.ts";
import type { Presence } from "../live/presence.ts";
import { assertCellCount, assertWriter } from "./messages.ts";

/** What the acknowledged writes use of the room: its config and logger, the store, and the two writes. */
export interface RoomMessagePort {
  readonly options: Pick<RoomContext, "config" | "logger">;
  readonly model: Pick<StoreModel, "hasStore" | "currentOf">;
  applyChanges(changes: Changes, origin: unknown, options?: ApplyOptions): Promise<ChangesResult>;
  appendEvents(inputs: EventInput[], ifMatch?: number, mid?: string): Promise<StoredEvent[]>;
}

/** Where the messages that are not writes go. */
export interface RoomMessageParts {
  subscriptions: Pick<SubscriptionHandlers, "handle">;
  /** Token refreshes (`auth`). */
  tokens: Pick<TokenExpiry, "refresh">;
  /** The room's presence: it outlives a rebuild of the room, as sockets do. */
  presence: Pick<Presence, "set">;
}

type Message<T extends ClientMessage["t"]> = Extract<ClientMessage, { t: T }>;

const send = (port: RoomMessagePort, connection: RoomConnection, message: ServerMessage) =>
  connection.send(encodeServerMessage(port.options.config.messagePrefix, message));

/** After a refused changeset: the client applied it locally, so send back what the room holds. */
const sendCurrentTo = (port: RoomMessagePort, connection: RoomConnection, changes: Changes) =>
  sendCurrent(connection, port.options.config.messagePrefix, port.model, changes);

/** A failed message's answer: a write's nack carries its mid, anything else's error its sid. */
const sendFailure = (port: RoomMessagePort, connection: RoomConnection, { message, error }: { message: ClientMessage; error: RoomError }) => {
  const body = errorBody(error);
  if ("mid" in message) send(port, connection, { t: "nack", mid: message.mid, ...body });
  else send(port, connection, { t: "error", ...("sid" in message ? { sid: message.sid } : {}), ...body });
};

/** `changes`: an acknowledged changeset, all or nothing; a refused one is put back at the sender. */
const changes = async (port: RoomMessagePort, connection: RoomConnection, { mid, changes: payload }: Message<"changes">) => {
  const parsed = parseChanges(payload);
  try {
    assertWriter(connection);
    assertCellCount(parsed, port.options.config.limits.maxCellsPerChange);
    const result = await port.applyChanges(parsed, connection, { sender: connection, allOrNothing: true, id: mid });
    send(port, connection, { t: "ok", mid, seq: result.seq ?? null });
  } catch (error) {
    sendCurrentTo(port, connection, parsed); // all or nothing
    throw error;
  }
};

/** `append`: events appended under the message id, so that a resend appends nothing. */
const append = async (port: RoomMessagePort, connection: RoomConnection, { mid, events, ifMatch }: Message<"append">) => {
  assertWriter(connection);
  const inputs = parseAppendInputs(events, port.options.config.limits);
  // The message id is remembered in its own key space, so that a resend appends nothing and
  // can never be answered with a producer's event.
  const seqs = await port.appendEvents(inputs, ifMatch, mid).then((stored) => stored.map(({ event }) => event.seq));
  send(port, connection, { t: "ok", mid, seqs });
};

export const createRoomMessages = (port: RoomMessagePort, { subscriptions, tokens, presence }: RoomMessageParts) => ({
  /** Handles one parsed `x` message; a failure of a write or a subscription becomes its nack or error frame. */
  async handle(connection: RoomConnection, message: ClientMessage): Promise<void> {
    if (message.t === "auth") return tokens.refresh(connection, message);
    if (message.t === "presence") return presence.set(connection, message.state);
    try {
      if (message.t === "changes") return await changes(port, connection, message);
      if (message.t === "append") return await append(port, connection, message);
      subscriptions.handle(connection, message);
    } catch (error) {
      const roomError = toRoomError(error);
      if (roomError.code === "internal") port.options.logger.error("roomstore: message failed", error);
      sendFailure(port, connection, { message, error: roomError });
    }
  },

  /** Answers a message the room will not carry out (e.g. over the rate limit) as if it had failed. */
  refuse(connection: RoomConnection, message: ClientMessage, error: RoomError) {
    if (message.t === "changes") {
      try {
        sendCurrentTo(port, connection, parseChanges(message.changes));
      } catch {
        // Not a changeset: nothing to put back.
      }
    }
    sendFailure(port, connection, { message, error });
  },
});

export type RoomMessages = ReturnType<typeof createRoomMessages>;
