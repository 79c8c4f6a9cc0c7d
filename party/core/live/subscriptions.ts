// Flow-controlled subscriptions to the event log, over roomstore's own WebSocket messages (`sub`,
// `ack`, `unsub`; their grammar is transport/messages.ts's, and transport/room-messages.ts answers
// what fails). TinyBase clients never send or receive these (they ignore `x` frames).
//
// Flow control: a subscription holds credit; every event sent spends one; the client's `ack`
// grants more. With no credit the feed simply falls behind and later reads from storage, so a slow
// client costs no memory. Subscriptions live in memory; when a hibernated room wakes they are gone,
// and each subscribed connection is told so (`end` with reason `reset`) so that it resubscribes
// after the last seq it saw.
import {
  encodeEventMessage,
  encodeServerMessage,
  MAX_CREDIT,
  MAX_SUBSCRIPTIONS_PER_CONNECTION,
  SUBSCRIPTION_TIMEOUT_MS,
  type ClientMessage,
  type ServerMessage,
} from "../../protocol.ts";
import { socketIdOf } from "./connections.ts";
import { errorBody, RoomError } from "../common/errors.ts";
import { openFeed, type Feed } from "./feed.ts";
import { stateOf, updateState, type LogReader, type RoomConnection, type RoomContext } from "../room/types.ts";
import type { MemoryGauge } from "../room/memory.ts";
import { parseSelectorObject } from "../log/selectors.ts";

/** What subscriptions use of the room: its config, clock and logger, the log, and the memory gauge. */
export interface SubscriptionPort {
  readonly options: Pick<RoomContext, "config" | "now" | "logger">;
  readonly log: LogReader;
  readonly memory: Pick<MemoryGauge, "track">;
}

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

/** The subscriptions of a room, by the room's own socket id (connections.ts), never by the client's `_pk`. */
interface Subscriptions {
  readonly port: SubscriptionPort;
  readonly byConnection: Map<string, { connection: RoomConnection; subs: Map<string, Subscription> }>;
}

type Message<T extends ClientMessage["t"]> = Extract<ClientMessage, { t: T }>;

/** Stops a subscription's feed and its count of held bytes. */
const endSubscription = (subscription: Subscription): void => {
  subscription.feed.close();
  subscription.stopGauge();
};

const send = (room: Subscriptions, connection: RoomConnection, message: ServerMessage) =>
  connection.send(encodeServerMessage(room.port.options.config.messagePrefix, message));

/** This socket's subscriptions. */
const subsOf = (room: Subscriptions, connection: RoomConnection): Map<string, Subscription> => {
  const id = socketIdOf(connection);
  const entry = room.byConnection.get(id);
  if (entry) return entry.subs;
  const subs = new Map<string, Subscription>();
  room.byConnection.set(id, { connection, subs });
  return subs;
};

/** Keeps the socket's subscription ids in its attachment, so that a woken room can tell it they are gone. */
const remember = (room: Subscriptions, connection: RoomConnection) => {
  const entry = room.byConnection.get(socketIdOf(connection));
  if (!entry) return;
  const subs = [...entry.subs.keys()];
  updateState(connection, { roomstoreSubs: subs.length > 0 ? subs : undefined });
};

/** The subscription `sid` of this socket; 404 when there is none. */
const subscriptionOf = (room: Subscriptions, connection: RoomConnection, sid: string): Subscription => {
  const subscription = subsOf(room, connection).get(sid);
  if (!subscription) throw new RoomError("not_found", `No subscription ${sid} on this connection.`);
  return subscription;
};

/** `sub`: opens a feed of the selected events, sent as the subscription's credit allows. */
const subscribe = (room: Subscriptions, connection: RoomConnection, { sid, selectors: params, credit, timeoutMs = SUBSCRIPTION_TIMEOUT_MS }: Message<"sub">) => {
  const { options, log, memory } = room.port;
  const subs = subsOf(room, connection);
  if (subs.has(sid)) throw new RoomError("conflict", `Subscription ${sid} exists on this connection.`);
  if (subs.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
    throw new RoomError("too_large", `At most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection.`);
  }
  const selectors = parseSelectorObject(params, { defaultPageLimit: 1, maxPageLimit: Number.MAX_SAFE_INTEGER });
  const budget = options.config.limits.maxSubscriptionBytes;
  const prefix = options.config.messagePrefix;
  const subscription: Subscription = { credit, feed: undefined as unknown as Feed, unacked: [], unackedBytes: 0, stopGauge: () => {} };
  subscription.stopGauge = memory.track(() => subscription.unackedBytes);
  /** Out of credit with events waiting: the first time starts the clock, past the timeout ends it. */
  const expired = (): boolean => {
    const time = options.now();
    subscription.stalledSince ??= time;
    if (time - subscription.stalledSince <= timeoutMs) return false;
    endSubscription(subscription);
    subs.delete(sid);
    remember(room, connection);
    send(room, connection, { t: "end", sid, reason: "timeout" });
    return true;
  };
  subscription.feed = openFeed(log, options.logger, selectors, {
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
    caughtUp: (head) => send(room, connection, { t: "caught-up", sid, seq: head }),
    end: (reason, error) => {
      subscription.stopGauge();
      subs.delete(sid);
      remember(room, connection);
      send(room, connection, error ? { t: "end", sid, reason, ...errorBody(error) } : { t: "end", sid, reason });
    },
  });
  subs.set(sid, subscription);
  remember(room, connection);
  subscription.feed.pump();
};

/** `ack`: grants credit; an ack of n events says the n oldest sent were taken, so their bytes are no longer held. */
const ack = (room: Subscriptions, connection: RoomConnection, { sid, credit }: Message<"ack">) => {
  const subscription = subscriptionOf(room, connection, sid);
  subscription.credit = Math.min(MAX_CREDIT, subscription.credit + credit);
  for (const size of subscription.unacked.splice(0, credit)) subscription.unackedBytes -= size;
  subscription.stalledSince = undefined;
  subscription.feed.pump();
};

/** `unsub`: ends the subscription, and says so. */
const unsubscribe = (room: Subscriptions, connection: RoomConnection, { sid }: Message<"unsub">) => {
  const subscription = subscriptionOf(room, connection, sid);
  endSubscription(subscription);
  subsOf(room, connection).delete(sid);
  remember(room, connection);
  send(room, connection, { t: "end", sid, reason: "unsubscribed" });
};

export const createSubscriptions = (port: SubscriptionPort) => {
  const room: Subscriptions = { port, byConnection: new Map() };
  return {
    /** Carries out a `sub`, `ack` or `unsub`; throws a RoomError for what the client must be told. */
    handle(connection: RoomConnection, message: Message<"sub" | "ack" | "unsub">): void {
      if (message.t === "sub") return subscribe(room, connection, message);
      if (message.t === "ack") return ack(room, connection, message);
      return unsubscribe(room, connection, message);
    },

    /** Open subscriptions, over the connections that hold any (the room's stats). */
    get size() {
      let count = 0;
      for (const { subs } of room.byConnection.values()) count += subs.size;
      return count;
    },

    /** Ends a closed connection's subscriptions. */
    close(connection: RoomConnection) {
      const id = socketIdOf(connection);
      for (const subscription of room.byConnection.get(id)?.subs.values() ?? []) endSubscription(subscription);
      room.byConnection.delete(id);
    },

    /** After a wake-up: tells every connection whose subscriptions were lost, so it resubscribes. */
    resetOrphans(connections: Iterable<RoomConnection>) {
      for (const connection of connections) {
        const sids = stateOf(connection).roomstoreSubs ?? [];
        if (sids.length === 0 || room.byConnection.has(socketIdOf(connection))) continue;
        for (const sid of sids) send(room, connection, { t: "end", sid, reason: "reset" });
        updateState(connection, { roomstoreSubs: undefined });
      }
    },
  };
};

export type SubscriptionHandlers = ReturnType<typeof createSubscriptions>;
