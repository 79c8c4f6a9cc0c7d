// roomstore's own WebSocket messages: flow-controlled subscriptions to the event log, and
// acknowledged writes. TinyBase clients never send or receive these (they ignore `x` frames).
//
// Flow control: a subscription holds credit; every event sent spends one; the client's `ack`
// grants more. With no credit the feed simply falls behind and later reads from storage, so a slow
// client costs no memory. Subscriptions live in memory; when a hibernated room wakes they are gone,
// and each subscribed connection is told so (`end` with reason `reset`) so that it resubscribes
// after the last seq it saw.
import {
  encodeEventMessage,
  encodeServerMessage,
  isPresenceState,
  MAX_CREDIT,
  MAX_MESSAGE_ID_CHARS,
  MAX_SUBSCRIPTION_TIMEOUT_MS,
  MAX_SUBSCRIPTIONS_PER_CONNECTION,
  MAX_TOKEN_CHARS,
  SUBSCRIPTION_TIMEOUT_MS,
  type ClientMessage,
  type ServerMessage,
} from "../../protocol.ts";
import { countChanges, parseChanges, type Changes } from "../store/changes.ts";
import { socketIdOf } from "./connections.ts";
import { errorBody, RoomError, toRoomError } from "../common/errors.ts";
import { sendCurrent } from "./broadcast.ts";
import { parseAppendInputs } from "../storage/event-log.ts";
import { openFeed, type Feed } from "./feed.ts";
import { stateOf, updateState, type ApplyOptions, type ChangesResult, type LogReader, type RoomConnection, type RoomContext } from "../room/types.ts";
import type { StoreModel } from "../store/model.ts";
import type { MemoryGauge } from "../room/memory.ts";
import type { EventInput, StoredEvent } from "../storage/event-log.ts";
import { parseSelectorObject } from "../log/selectors.ts";

interface Subscription {
  feed: Feed;
  credit: number;
  /** Sizes of the events sent and not yet acknowledged, oldest first, and their sum. */
  unacked: number[];
  unackedBytes: number;
  stopGauge: () => void;
  /** When the credit ran out, while it stays out. */
  stalledSince?: number;
}

/** Stops a subscription's feed and its count of held bytes. */
const endSubscription = (subscription: Subscription): void => {
  subscription.feed.close();
  subscription.stopGauge();
};

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

/** What subscriptions and acknowledged writes use of the room. */
export interface SubscriptionPort {
  readonly options: Pick<RoomContext, "config" | "now" | "logger">;
  readonly log: LogReader;
  readonly model: Pick<StoreModel, "hasStore" | "currentOf">;
  readonly memory: Pick<MemoryGauge, "track">;
  applyChanges(changes: Changes, origin: unknown, options?: ApplyOptions): Promise<ChangesResult>;
  appendEvents(inputs: EventInput[], ifMatch?: number, mid?: string): Promise<StoredEvent[]>;
}

export const createSubscriptions = (core: SubscriptionPort) => {
  const { config } = core.options;
  const prefix = config.messagePrefix;
  // By the room's own socket id (connections.ts), never by the client's `_pk`.
  const byConnection = new Map<string, { connection: RoomConnection; subs: Map<string, Subscription> }>();
  /** This socket's subscriptions. */
  const subsOf = (connection: RoomConnection): Map<string, Subscription> => {
    const id = socketIdOf(connection);
    const entry = byConnection.get(id);
    if (entry) return entry.subs;
    const subs = new Map<string, Subscription>();
    byConnection.set(id, { connection, subs });
    return subs;
  };
  const send = (connection: RoomConnection, message: ServerMessage) => connection.send(encodeServerMessage(prefix, message));

  const remember = (connection: RoomConnection) => {
    const entry = byConnection.get(socketIdOf(connection));
    if (!entry) return;
    const subs = [...entry.subs.keys()];
    updateState(connection, { roomstoreSubs: subs.length > 0 ? subs : undefined });
  };

  const { now } = core.options;

  const subscribe = (connection: RoomConnection, { sid, selectors: selectorParams, credit, timeoutMs = SUBSCRIPTION_TIMEOUT_MS }: Extract<ClientMessage, { t: "sub" }>) => {
    const subs = subsOf(connection);
    if (subs.has(sid)) throw new RoomError("conflict", `Subscription ${sid} exists on this connection.`);
    if (subs.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
      throw new RoomError("too_large", `At most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection.`);
    }
    const selectors = parseSelectorObject(selectorParams, { defaultPageLimit: 1, maxPageLimit: Number.MAX_SAFE_INTEGER });
    const budget = config.limits.maxSubscriptionBytes;
    const subscription: Subscription = { credit, feed: undefined as unknown as Feed, unacked: [], unackedBytes: 0, stopGauge: () => {} };
    subscription.stopGauge = core.memory.track(() => subscription.unackedBytes);
    /** Out of credit with events waiting: the first time starts the clock, past the timeout ends it. */
    const expired = (): boolean => {
      const time = now();
      subscription.stalledSince ??= time;
      if (time - subscription.stalledSince <= timeoutMs) return false;
      endSubscription(subscription);
      subs.delete(sid);
      remember(connection);
      send(connection, { t: "end", sid, reason: "timeout" });
      return true;
    };
    subscription.feed = openFeed(core.log, core.options.logger, selectors, {
      capacity: () => (subscription.credit > 0 || expired() ? subscription.credit : 0),
      byteRoom: () => budget - subscription.unackedBytes,
      isEmpty: () => subscription.unackedBytes === 0,
      waiting: () => void (subscription.credit === 0 && expired()),
      event: (event) => {
        subscription.credit--;
        subscription.unacked.push(event.json.length);
        subscription.unackedBytes += event.json.length;
        connection.send(encodeEventMessage(prefix, sid, event.json));
      },
      caughtUp: (head) => send(connection, { t: "caught-up", sid, seq: head }),
      end: (reason, error) => {
        subscription.stopGauge();
        subs.delete(sid);
        remember(connection);
        send(connection, error ? { t: "end", sid, reason, ...errorBody(error) } : { t: "end", sid, reason });
      },
    });
    subs.set(sid, subscription);
    remember(connection);
    subscription.feed.pump();
  };

  /** After a refused changeset: the client applied it locally, so send back what the room holds. */
  const sendCurrentTo = (connection: RoomConnection, changes: Changes) => sendCurrent(connection, prefix, core.model, changes);

  /** A failed message's answer: a write's nack carries its mid, anything else's error its sid. */
  const sendFailure = (connection: RoomConnection, message: ClientMessage, error: RoomError) => {
    const body = errorBody(error);
    if ("mid" in message) send(connection, { t: "nack", mid: message.mid, ...body });
    else send(connection, { t: "error", ...("sid" in message ? { sid: message.sid } : {}), ...body });
  };

  const changes = async (connection: RoomConnection, mid: string, payload: unknown) => {
    const parsed = parseChanges(payload);
    try {
      assertWriter(connection);
      assertCellCount(parsed, config.limits.maxCellsPerChange);
      const result = await core.applyChanges(parsed, connection, { sender: connection, allOrNothing: true, id: mid });
      send(connection, { t: "ok", mid, seq: result.seq ?? null });
    } catch (error) {
      sendCurrentTo(connection, parsed); // all or nothing
      throw error;
    }
  };

  const append = async (connection: RoomConnection, mid: string, events: unknown[], ifMatch?: number) => {
    const { limits } = config;
    assertWriter(connection);
    const inputs = parseAppendInputs(events, limits);
    // The message id is remembered in its own key space, so that a resend appends nothing and
    // can never be answered with a producer's event.
    const seqs = await core.appendEvents(inputs, ifMatch, mid).then((stored) => stored.map(({ event }) => event.seq));
    send(connection, { t: "ok", mid, seqs });
  };

  return {
    /** Handles one `x` message; errors become an error or nack frame, never a closed socket. (`auth` is token-expiry.ts's.) */
    async handle(connection: RoomConnection, message: Exclude<ClientMessage, { t: "auth" | "presence" }>): Promise<void> {
      try {
        switch (message.t) {
          case "sub":
            return subscribe(connection, message);
          case "ack": {
            const subscription = subsOf(connection).get(message.sid);
            if (!subscription) throw new RoomError("not_found", `No subscription ${message.sid} on this connection.`);
            subscription.credit = Math.min(MAX_CREDIT, subscription.credit + message.credit);
            // An ack of n events says the n oldest sent were taken: their bytes are no longer held.
            for (const size of subscription.unacked.splice(0, message.credit)) subscription.unackedBytes -= size;
            subscription.stalledSince = undefined;
            return subscription.feed.pump();
          }
          case "unsub": {
            const subs = subsOf(connection);
            const subscription = subs.get(message.sid);
            if (!subscription) throw new RoomError("not_found", `No subscription ${message.sid} on this connection.`);
            endSubscription(subscription);
            subs.delete(message.sid);
            remember(connection);
            return send(connection, { t: "end", sid: message.sid, reason: "unsubscribed" });
          }
          case "changes":
            return await changes(connection, message.mid, message.changes);
          case "append":
            return await append(connection, message.mid, message.events, message.ifMatch);
        }
      } catch (error) {
        const roomError = toRoomError(error);
        if (roomError.code === "internal") core.options.logger.error("roomstore: message failed", error);
        sendFailure(connection, message, roomError);
      }
    },

    /** Answers a message the room will not carry out (e.g. over the rate limit) as if it had failed. */
    refuse(connection: RoomConnection, message: ClientMessage, error: RoomError) {
      if (message.t === "changes") {
        try {
          sendCurrentTo(connection, parseChanges(message.changes));
        } catch {
          // Not a changeset: nothing to put back.
        }
      }
      sendFailure(connection, message, error);
    },

    /** Open subscriptions, over the connections that hold any (the room's stats). */
    get size() {
      let count = 0;
      for (const { subs } of byConnection.values()) count += subs.size;
      return count;
    },

    /** Ends a closed connection's subscriptions. */
    close(connection: RoomConnection) {
      const id = socketIdOf(connection);
      for (const subscription of byConnection.get(id)?.subs.values() ?? []) endSubscription(subscription);
      byConnection.delete(id);
    },

    /** After a wake-up: tells every connection whose subscriptions were lost, so it resubscribes. */
    resetOrphans(connections: Iterable<RoomConnection>) {
      for (const connection of connections) {
        const sids = stateOf(connection).roomstoreSubs ?? [];
        if (sids.length === 0 || byConnection.has(socketIdOf(connection))) continue;
        for (const sid of sids) send(connection, { t: "end", sid, reason: "reset" });
        updateState(connection, { roomstoreSubs: undefined });
      }
    },
  };
};
