// Synchronizer clients at `{room}/sync`: TinyBase `createWsSynchronizer` clients, unmodified. The
// room is their one peer: it answers their hash and diff requests from its MergeableStore, pulls a
// client's differences when the client announces its hashes, and merges what they send through the
// same path as a persister client's changeset (hooks, roles, one `$changes` event, one atomic write
// with the stamps). It forwards nothing between clients: every client hears every change from the
// room, stamped, once the change is durable.
//
// A refused change (a hook, the read-only role, a failed write) is undone at its sender by giving
// the refused cells newer stamps with the room's content, which every client then adopts.
//
// The pull of a client's differences is pull.ts's; here are the room's state per socket, the
// merge of what clients send, the answers to their requests, and the stamped changes sent once
// each commit group is durable.
import { CLOSE_POLICY, SYNC_MESSAGE, SYNC_ROOM_ID } from "../../protocol.ts";
import { isEmptyChanges, parseChanges, type Changes, type Content } from "../store/changes.ts";
import { listPart, type Batch, type GroupPart, type Job } from "../storage/commit-queue.ts";
import { socketIdOf } from "../live/connections.ts";
import { RoomError, toRoomError } from "../common/errors.ts";
import type { MergeablePeer, StampedInput, StampedWrite } from "./mergeable-peer.ts";
import { closeByRoom, closeForError, stateOf, updateState, type ApplyOptions, type ChangesResult, type PutResult, type RoomConnection, type RoomContext } from "../room/types.ts";
import { createRateLimiter } from "../transport/sockets.ts";
import type { StoreModel, StoreWrite } from "../store/model.ts";
import { assertCellCount } from "../transport/messages.ts";
import { createFragmentBudget, createSyncDecoder, encodeSyncBody, encodeSyncFrame, encodeSyncFrameOf, type MergeableChanges, type SyncMessage } from "./wire.ts";
import { mergeStamped, plainOf } from "./changes.ts";
import { answered, endRequests, isEmptyObject, pull, randomId, type PendingRequests } from "./pull.ts";

/** What the synchronizer uses of the room: its limits, clock and logger, its commit group jobs, and its writes. */
export interface SyncPort {
  readonly options: Pick<RoomContext, "config" | "now" | "logger">;
  readonly model: Pick<StoreModel, "hasStore">;
  run<T>(job: Job<T>): Promise<T>;
  /** Resolves once every write queued before it has settled (stored, or failed and rolled back). */
  settled(): Promise<void>;
  putStore(content: Content, origin: unknown, ifMatch?: number): Promise<PutResult>;
  applyChanges(changes: Changes, origin: unknown, options?: ApplyOptions): Promise<ChangesResult>;
}

/** The synchronizer side of a room: its port and peer, and what it keeps per socket and per group. */
interface SyncRoom {
  readonly port: SyncPort;
  readonly peer: MergeablePeer;
  /** The synchronizer sockets. */
  readonly connections: () => Iterable<RoomConnection>;
  /** Per socket, by the room's own socket id (live/connections.ts), never by the client's `_pk`. */
  readonly decoders: Map<string, ReturnType<typeof createSyncDecoder>>;
  readonly fragmentBudget: ReturnType<typeof createFragmentBudget>;
  readonly pending: PendingRequests;
  /** The same per-socket frame limit as the main socket's (transport/sockets.ts). */
  readonly limiter: ReturnType<typeof createRateLimiter>;
  /** A group's stamped writes, sent once it is durable. */
  readonly groupWrites: GroupPart<StampedWrite[]>;
  /** The stamps, loaded once for the first synchronizer client (mergeable-peer.ts). */
  loading?: Promise<void>;
  /** A joining client's first diff request asks for every table: encoded once per version of the content. */
  everyTable?: { version: number; body: string };
}

const logFailure = (room: SyncRoom, error: unknown) => room.port.options.logger.error("roomstore: synchronizer message failed", error);

const ready = (room: SyncRoom) =>
  (room.loading ??= room.port.run((batch) => room.peer.loadStamps(batch)).catch((error: unknown) => {
    // Loaded, but in a group whose write failed for another job: the stamps stand (mergeable-peer.ts).
    if (room.peer.loaded) return;
    room.loading = undefined;
    throw error;
  }));

/** Loads the stamps and builds the MergeableStore, for a synchronizer socket about to open. */
const prepare = async (room: SyncRoom): Promise<void> => {
  await ready(room);
  room.peer.mergeable();
};

/** Sends a committed group's stamped changes: each client all but what it sent itself. */
const flush = (room: SyncRoom, list: StampedWrite[]) => {
  const targets = [...room.connections()];
  // A room with no synchronizer client merges and encodes nothing.
  if (targets.length === 0) return;
  const all = mergeStamped(list.map((write) => write.changes));
  const senders = new Set(list.map((write) => write.senderId).filter((id) => id !== undefined));
  const allFrame = encodeSyncFrame(null, SYNC_MESSAGE.contentDiff, all);
  for (const connection of targets) {
    if (!senders.has(socketIdOf(connection))) {
      connection.send(allFrame);
      continue;
    }
    const own = list.map((write) => (write.senderId === socketIdOf(connection) ? write.forSender : write.changes)).filter((changes) => changes !== undefined);
    if (own.length > 0) connection.send(encodeSyncFrame(null, SYNC_MESSAGE.contentDiff, mergeStamped(own)));
  }
};

const queueFlush = (room: SyncRoom, batch: Batch, write: StampedWrite) => void batch.part(room.groupWrites).push(write);

/** Gives every cell of `incoming` the room still refuses newer stamps with the room's content. */
const correct = (room: SyncRoom, incoming: MergeableChanges) =>
  room.port.run((batch) => {
    const refused = room.peer.winners(incoming);
    if (!isEmptyChanges(refused)) queueFlush(room, batch, room.peer.restamp(batch, refused));
  });

/** Merges a client's stamped changes as a changeset of that client. */
const apply = async (room: SyncRoom, connection: RoomConnection, incoming: MergeableChanges): Promise<void> => {
  const { port, peer } = room;
  const requested = plainOf(incoming);
  if (isEmptyChanges(requested)) return;
  parseChanges(requested);
  assertCellCount(requested, port.options.config.limits.maxCellsPerChange);
  if (stateOf(connection).role === "read") return correct(room, incoming);
  let refused = false;
  try {
    // A MergeableStore room starts empty: the first change creates the store.
    if (!port.model.hasStore) await port.putStore([{}, {}], connection);
    const stamps: StampedInput = { changes: incoming, senderId: socketIdOf(connection) };
    // The sender, as the broadcaster knows writers (a persister client writing the same cells
    // right after is then sent the room's value); it hears the room in stamped diffs, not frames.
    const sender = { id: connection.id, state: { socketId: socketIdOf(connection) }, send() {}, close() {} };
    refused = (await port.applyChanges(requested, connection, { sender, stamps, resolve: () => peer.winners(incoming) })).rejected;
  } catch (error) {
    if (toRoomError(error).code === "internal") logFailure(room, error);
    refused = true;
  }
  if (refused) await correct(room, incoming);
};

/** Answers a client's request from the room's MergeableStore. */
const answer = (room: SyncRoom, connection: RoomConnection, message: SyncMessage) => {
  const { peer } = room;
  const store = peer.mergeable();
  const body = message.body as never;
  if (message.type === SYNC_MESSAGE.getTableDiff && isEmptyObject(body)) {
    if (room.everyTable?.version !== peer.version) room.everyTable = { version: peer.version, body: encodeSyncBody(store.getMergeableTableDiff(body)) };
    return connection.send(encodeSyncFrameOf(message.requestId, SYNC_MESSAGE.response, room.everyTable.body));
  }
  const response =
    message.type === SYNC_MESSAGE.getContentHashes ? store.getMergeableContentHashes()
    : message.type === SYNC_MESSAGE.getTableDiff ? store.getMergeableTableDiff(body)
    : message.type === SYNC_MESSAGE.getRowDiff ? store.getMergeableRowDiff(body)
    : message.type === SYNC_MESSAGE.getCellDiff ? store.getMergeableCellDiff(body)
    : store.getMergeableValueDiff(body);
  connection.send(encodeSyncFrame(message.requestId, SYNC_MESSAGE.response, response));
};

/**
 * Answers once every write before the request has settled (`settled`): a write still being
 * stored may fail, and a client given it would hand it back to the room as its own.
 */
const answerCommitted = async (room: SyncRoom, connection: RoomConnection, message: SyncMessage): Promise<void> => {
  await room.port.settled();
  answer(room, connection, message);
};

/** Frees the fragments a socket's decoder keeps. */
const release = (room: SyncRoom, connection: RoomConnection) => {
  room.decoders.get(socketIdOf(connection))?.release();
  room.decoders.delete(socketIdOf(connection));
};

const handle = async (room: SyncRoom, connection: RoomConnection, message: SyncMessage): Promise<void> => {
  switch (message.type) {
    case SYNC_MESSAGE.response:
      return answered(room.pending, connection, { message, nowMs: room.port.options.now() });
    case SYNC_MESSAGE.contentHashes: {
      const transactionId = message.requestId?.split(".")[0] ?? randomId(11);
      try {
        const pulled = await pull(room.pending, room.peer, { connection, hashes: message.body as [number, number], transactionId });
        return await apply(room, connection, pulled);
      } catch (error) {
        // A client that leaves or stays silent mid-pull keeps its changes until its next hashes.
        if (error instanceof RoomError) throw error;
        return;
      }
    }
    case SYNC_MESSAGE.contentDiff:
      return apply(room, connection, message.body as MergeableChanges);
    default:
      return answerCommitted(room, connection, message);
  }
};

/** One frame from a synchronizer socket; what breaks its protocol closes it, saying why. */
const onMessage = async (room: SyncRoom, connection: RoomConnection, data: string | ArrayBuffer | ArrayBufferView): Promise<void> => {
  const { limits } = room.port.options.config;
  if (stateOf(connection).closedByRoom) return;
  // A synchronizer client cannot read an error frame, and a dropped frame would break its protocol.
  if (!room.limiter.allow(socketIdOf(connection))) return closeByRoom(connection, CLOSE_POLICY, `At most ${limits.maxMessagesPerSecond} frames a second.`);
  try {
    if (typeof data !== "string") throw new RoomError("bad_request", "Synchronizer frames must be text.");
    let decoder = room.decoders.get(socketIdOf(connection));
    if (!decoder) room.decoders.set(socketIdOf(connection), (decoder = createSyncDecoder(room.port.options.now, room.fragmentBudget)));
    const message = decoder.decode(data);
    // Messages to another client go nowhere: the room is every client's only peer.
    if (!message || (message.to !== "" && message.to !== SYNC_ROOM_ID)) return;
    await ready(room);
    await handle(room, connection, message);
  } catch (error) {
    const roomError = toRoomError(error);
    if (roomError.code === "internal") logFailure(room, error);
    closeForError(connection, roomError);
    release(room, connection);
  }
};

export const createSyncRoom = (port: SyncPort, peer: MergeablePeer, connections: () => Iterable<RoomConnection>) => {
  const { limits } = port.options.config;
  const room: SyncRoom = {
    port,
    peer,
    connections,
    decoders: new Map(),
    fragmentBudget: createFragmentBudget(),
    pending: new Map(),
    limiter: createRateLimiter(limits.maxMessagesPerSecond, limits.messageBurst, port.options.now),
    groupWrites: listPart((writes) => flush(room, writes)),
  };
  return {
    prepare: () => prepare(room),

    /** Records a committed store write's stamps in its batch, and sends them once it is durable. */
    onStoreWrite(batch: Batch, writes: StoreWrite[], stamps?: unknown): void {
      queueFlush(room, batch, peer.stampWrites(batch, writes, stamps as StampedInput | undefined));
    },

    /** Marks a socket opened on `{room}/sync`; the mark lives in its attachment, so it survives hibernation. */
    connect(connection: RoomConnection): void {
      updateState(connection, { sync: true });
      syncKinds.set(connection, true);
      // Load the stamps and build the MergeableStore now: a client's first requests time out
      // after 1 s. A failure here is met again, and answered, by the socket's first message.
      prepare(room).catch(() => undefined);
    },

    message: (connection: RoomConnection, data: string | ArrayBuffer | ArrayBufferView) => onMessage(room, connection, data),

    close(connection: RoomConnection): void {
      room.limiter.forget(socketIdOf(connection));
      release(room, connection);
      endRequests(room.pending, connection);
    },
  };
};

/**
 * Whether each connection object is a synchronizer socket, read from its state once: on a
 * hibernating runtime every read of the state deserializes the socket's attachment, and this is
 * asked for every socket on every broadcast (see live/connections.ts).
 */
const syncKinds = new WeakMap<RoomConnection, boolean>();

export const isSyncConnection = (connection: RoomConnection): boolean => {
  let sync = syncKinds.get(connection);
  if (sync === undefined) syncKinds.set(connection, (sync = stateOf(connection).sync === true));
  return sync;
};
