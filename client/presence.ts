// A room's presence, as the client library keeps it: this connection's own state, and every other
// connection's, from the room's hello on each (re)connection and the coalesced changes after it
// (SPEC "Presence"). A reconnection is a new connection with a new id: the hello replaces every
// peer, and this client's own state is sent again, so that the others see it return.
import { exceedsBytes, isPresenceState, MAX_PRESENCE_BYTES, type PresenceChanges, type PresenceHello, type PresencePeers, type PresenceState } from "../party/protocol.ts";
import type { FeedLink } from "./event-feed.ts";

export interface RoomPresence {
  /** Sets this connection's state (`null` clears it); kept and sent again after every reconnect. */
  set(state: PresenceState | null): void;
  /** This connection's state, as last set. */
  readonly state: PresenceState | null;
  /** The room's id of this connection, once the room has said it. */
  readonly self: string | undefined;
  /** Every other connection that has a state, by the room's id of it. */
  readonly peers: Readonly<PresencePeers>;
  /** Hears `peers` after every change; returns an unsubscribe. */
  onChange(listener: (peers: Readonly<PresencePeers>) => void): () => void;
}

/** The peers after a presence frame: a hello replaces them all, changes update them; never this connection. */
const peersAfter = (peers: PresencePeers, self: string | undefined, message: PresenceHello | PresenceChanges): PresencePeers => {
  if ("self" in message) {
    const next = { ...message.peers };
    delete next[message.self];
    return next;
  }
  const next = { ...peers };
  for (const [id, state] of Object.entries(message.set)) {
    if (id === self) continue;
    if (state === null) delete next[id];
    else next[id] = state;
  }
  for (const id of message.left) delete next[id];
  return next;
};

export const createRoomPresence = (link: Pick<FeedLink, "send" | "onMessage" | "onOpen">): RoomPresence => {
  let own: PresenceState | null = null;
  let self: string | undefined;
  let peers: PresencePeers = {};
  const listeners = new Set<(peers: Readonly<PresencePeers>) => void>();
  const changed = () => {
    for (const listener of [...listeners]) listener(peers);
  };

  link.onOpen(() => {
    if (own !== null) link.send({ t: "presence", state: own });
  });
  link.onMessage((message) => {
    if (message.t !== "presence") return;
    if ("self" in message) self = message.self;
    peers = peersAfter(peers, self, message);
    changed();
  });

  return {
    set(state) {
      if (!isPresenceState(state)) throw new TypeError("A presence state is a JSON object, or null to clear it.");
      // The room refuses a bigger one (it may be configured lower still, and say so in an error frame).
      if (state !== null && exceedsBytes(JSON.stringify(state), MAX_PRESENCE_BYTES)) {
        throw new RangeError(`A presence state is limited to ${MAX_PRESENCE_BYTES} bytes of JSON.`);
      }
      own = state;
      link.send({ t: "presence", state });
    },
    get state() {
      return own;
    },
    get self() {
      return self;
    },
    get peers() {
      return peers;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
};
