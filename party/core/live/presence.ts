// Presence: each main-socket connection may hold an ephemeral JSON state (a cursor, a name), that
// every other connection of the room sees. Contract (SPEC "Presence"):
// - A state is kept only in its socket's attachment (ConnectionState.presence): it survives
//   hibernation with the socket and is gone with it. Never in the store, the log or storage, so
//   the room's list of states is always read from its open sockets, never kept beside them: a
//   socket the runtime no longer has after a wake-up is simply not among them.
// - A socket hears `{"t":"presence","self","peers"}` when it opens, then the changes coalesced:
//   at most one frame every `presenceIntervalMs`, built once and sent to every socket, the last
//   state of each connection winning. What waits for the next frame is at most one state per
//   connection (the pending map is keyed by socket id) plus the ids that left: bounded by the
//   connections times `maxPresenceBytes`, however fast one socket sends.
// - Oversized, unstorable or refused (`canSetPresence`) states get an error frame and change
//   nothing. Read-role sockets may set presence: it is not a write to the room's data.
import { encodeServerMessage, exceedsBytes, type PresencePeers, type PresenceState } from "../../protocol.ts";
import type { RoomLimits } from "../room/config.ts";
import { socketIdOf } from "./connections.ts";
import { RoomError } from "../common/errors.ts";
import type { RoomHooks } from "../room/hooks.ts";
import { stateOf, updateState, type RoomConnection } from "../room/types.ts";
import { unstorableReason } from "../common/validation.ts";

/** WebSocket.OPEN, spelled out: the core runs where `WebSocket` may not exist. */
const OPEN = 1;

export interface PresenceOptions {
  prefix: string;
  limits: Pick<RoomLimits, "maxPresenceBytes" | "presenceIntervalMs">;
  hooks: Pick<RoomHooks, "canSetPresence">;
  now: () => number;
  setTimer: (run: () => void, ms: number) => void;
  /** The room's open main sockets (not its synchronizer sockets). */
  connections: () => Iterable<RoomConnection>;
}

export interface Presence {
  /** Every open connection that has a state, by the room's id of it. */
  peers(): PresencePeers;
  /** Tells a socket that just opened its own id and everyone's state. */
  hello(connection: RoomConnection): void;
  /** Sets (or with null clears) a connection's state; throws a RoomError when it may not. */
  set(connection: RoomConnection, state: PresenceState | null): Promise<void>;
  /** A socket closed (cleanly or not): the others hear that it left. */
  leave(connection: RoomConnection): void;
}

export const createPresence = ({ prefix, limits, hooks, now, setTimer, connections }: PresenceOptions): Presence => {
  /** States set since the last frame, by socket id; `null` for one cleared. */
  const pending = new Map<string, PresenceState | null>();
  const left = new Set<string>();
  let scheduled = false;
  let lastFrameAt = -Infinity;

  const peers = (): PresencePeers => {
    const all: PresencePeers = {};
    for (const connection of connections()) {
      const state = stateOf(connection).presence;
      if (state) all[socketIdOf(connection)] = state;
    }
    return all;
  };

  const flush = () => {
    scheduled = false;
    if (pending.size === 0 && left.size === 0) return;
    lastFrameAt = now();
    const frame = encodeServerMessage(prefix, { t: "presence", set: Object.fromEntries(pending), left: [...left] });
    pending.clear();
    left.clear();
    for (const connection of connections()) {
      try {
        connection.send(frame);
      } catch {
        // A socket closing under us: its own close removes its state.
      }
    }
  };

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    // The first change after a quiet spell goes out at once (still after this turn, so that what
    // arrives together goes together); later ones wait for the interval since the last frame.
    setTimer(flush, Math.max(0, lastFrameAt + limits.presenceIntervalMs - now()));
  };

  const assertAllowed = async (connection: RoomConnection, state: PresenceState): Promise<void> => {
    const max = limits.maxPresenceBytes;
    if (exceedsBytes(JSON.stringify(state), max)) throw new RoomError("too_large", `A presence state is limited to ${max} bytes of JSON.`);
    const reason = unstorableReason(state);
    if (reason) throw new RoomError("invalid_content", `The presence state ${reason}.`);
    const allowed = hooks.canSetPresence ? await hooks.canSetPresence(state, connection) : true;
    if (!allowed) throw new RoomError("forbidden", "The room refused this presence state.");
  };

  return {
    peers,
    hello(connection) {
      connection.send(encodeServerMessage(prefix, { t: "presence", self: socketIdOf(connection), peers: peers() }));
    },
    async set(connection, state) {
      if (state !== null) await assertAllowed(connection, state);
      // Closed while the hook ran (its leave has been heard): the state would outlive its socket.
      if (stateOf(connection).closedByRoom || (connection.readyState !== undefined && connection.readyState !== OPEN)) return;
      updateState(connection, { presence: state ?? undefined });
      pending.set(socketIdOf(connection), state);
      schedule();
    },
    leave(connection) {
      const id = socketIdOf(connection);
      if (stateOf(connection).presence === undefined && !pending.has(id)) return;
      pending.delete(id);
      left.add(id);
      schedule();
    },
  };
};
