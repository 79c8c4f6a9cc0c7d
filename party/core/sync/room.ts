// Synchronizer clients at `{room}/sync`: TinyBase `createWsSynchronizer` clients, unmodified. The
// room is their one peer: it answers their hash and diff requests from its MergeableStore, pulls a
// client's differences when the client announces its hashes, and merges what they send through the
// same path as a persister client's changeset (hooks, roles, one `$changes` event, one atomic write
// with the stamps). It forwards nothing between clients: every client hears every change from the
// room, stamped, once the change is durable.
//
// A refused change (a hook, the read-only role, a failed write) is undone at its sender by giving
// the refused cells newer stamps with the room's content, which every client then adopts.
import { CLOSE_POLICY, MAX_SYNC_PENDING_REQUESTS, SYNC_MESSAGE, SYNC_REQUEST_TIMEOUT_MS, SYNC_ROOM_ID } from "../../protocol.ts";
import { isEmptyChanges, parseChanges, type Changes } from "../store/changes.ts";
import type { Batch, GroupPart, Job } from "../storage/commit-queue.ts";
import { socketIdOf } from "../live/connections.ts";
import { RoomError, toRoomError } from "../common/errors.ts";
import type { MergeablePeer, StampedInput, StampedWrite } from "./mergeable-peer.ts";
import { closeByRoom, closeForError, stateOf, updateState, type ApplyOptions, type ChangesResult, type PutResult, type RoomConnection, type RoomContext } from "../room/types.ts";
import type { Content } from "../store/changes.ts";
import { createRateLimiter } from "../transport/sockets.ts";
import type { StoreModel, StoreWrite } from "../store/model.ts";
import { assertCellCount } from "../transport/messages.ts";
import { bodyValidator, createFragmentBudget, createSyncDecoder, encodeSyncBody, encodeSyncFrame, encodeSyncFrameOf, type HashTree, type MergeableChanges, type SyncMessage, type TableStamps } from "./wire.ts";
import { mergeStamped, mergeTablesStamps, plainOf } from "./changes.ts";

interface Pending {
  type: number;
  resolve: (body: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

const isEmptyObject = (thing: object) => {
  for (const _ in thing) return false;
  return true;
};

const ID_CHARS = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
const randomId = (length: number) => Array.from(crypto.getRandomValues(new Uint8Array(length)), (byte) => ID_CHARS[byte & 63]).join("");

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

export const createSyncRoom = (core: SyncPort, peer: MergeablePeer, connections: () => Iterable<RoomConnection>) => {
  const { limits } = core.options.config;
  const now = core.options.now;
  const log = (error: unknown) => core.options.logger.error("roomstore: synchronizer message failed", error);
  // Per socket, by the room's own socket id (live/connections.ts), never by the client's `_pk`.
  const decoders = new Map<string, ReturnType<typeof createSyncDecoder>>();
  const fragmentBudget = createFragmentBudget();
  const pending = new Map<string, Map<string, Pending>>();
  /** The same per-socket frame limit as the main socket's (transport/sockets.ts). */
  const limiter = createRateLimiter(limits.maxMessagesPerSecond, limits.messageBurst, now);
  /** The stamps, loaded once for the first synchronizer client (mergeable-peer.ts). */
  let loading: Promise<void> | undefined;
  const ready = () =>
    (loading ??= core.run((batch) => peer.loadStamps(batch)).catch((error: unknown) => {
      // Loaded, but in a group whose write failed for another job: the stamps stand (mergeable-peer.ts).
      if (peer.loaded) return;
      loading = undefined;
      throw error;
    }));
  /** Loads the stamps and builds the MergeableStore, for a synchronizer socket about to open. */
  const prepare = async (): Promise<void> => {
    await ready();
    peer.mergeable();
  };
  /** A joining client's first diff request asks for every table: encoded once per version of the content. */
  let everyTable: { version: number; body: string } | undefined;

  const send = (connection: RoomConnection, requestId: string | null, type: number, body: unknown) =>
    connection.send(encodeSyncFrame(requestId, type, body));


  /** Sends a committed group's stamped changes: each client all but what it sent itself. */
  const flush = (list: StampedWrite[]) => {
    const targets = [...connections()];
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
      if (own.length > 0) send(connection, null, SYNC_MESSAGE.contentDiff, mergeStamped(own));
    }
  };

  /** A group's stamped writes, sent once it is durable. */
  const groupWrites: GroupPart<StampedWrite[]> = {
    create(batch) {
      const list: StampedWrite[] = [];
      batch.onCommit(() => flush(list));
      return list;
    },
  };

  const queueFlush = (batch: Batch, write: StampedWrite) => void batch.part(groupWrites).push(write);

  /** Gives every cell of `incoming` the room still refuses newer stamps with the room's content. */
  const correct = (incoming: MergeableChanges) =>
    core.run((batch) => {
      const refused = peer.winners(incoming);
      if (!isEmptyChanges(refused)) queueFlush(batch, peer.restamp(batch, refused));
    });

  /** Merges a client's stamped changes as a changeset of that client. */
  const apply = async (connection: RoomConnection, incoming: MergeableChanges): Promise<void> => {
    const requested = plainOf(incoming);
    if (isEmptyChanges(requested)) return;
    parseChanges(requested);
    assertCellCount(requested, limits.maxCellsPerChange);
    if (stateOf(connection).role === "read") return correct(incoming);
    let refused = false;
    try {
      // A MergeableStore room starts empty: the first change creates the store.
      if (!core.model.hasStore) await core.putStore([{}, {}], connection);
      const stamps: StampedInput = { changes: incoming, senderId: socketIdOf(connection) };
      // The sender, as the broadcaster knows writers (a persister client writing the same cells
      // right after is then sent the room's value); it hears the room in stamped diffs, not frames.
      const sender = { id: connection.id, state: { socketId: socketIdOf(connection) }, send() {}, close() {} };
      refused = (await core.applyChanges(requested, connection, { sender, stamps, resolve: () => peer.winners(incoming) })).rejected;
    } catch (error) {
      if (toRoomError(error).code === "internal") log(error);
      refused = true;
    }
    if (refused) await correct(incoming);
  };

  const request = (connection: RoomConnection, type: number, body: unknown, transactionId: string): Promise<unknown> =>
    new Promise((resolve, reject) => {
      let open = pending.get(socketIdOf(connection));
      if (!open) pending.set(socketIdOf(connection), (open = new Map()));
      if (open.size >= MAX_SYNC_PENDING_REQUESTS) return reject(new Error("Too many requests pending on this socket."));
      const requestId = transactionId + "." + randomId(4);
      const timer = setTimeout(() => {
        open.delete(requestId);
        reject(new Error("The synchronizer client did not answer in time."));
      }, SYNC_REQUEST_TIMEOUT_MS);
      open.set(requestId, { type, resolve, reject, timer });
      send(connection, requestId, type, body);
    });

  /** Pulls what a client that announced its hashes has and the room has not, as TinyBase's synchronizer does. */
  const pull = async (connection: RoomConnection, [tablesHash, valuesHash]: [number, number], transactionId: string) => {
    const [ownTables, ownValues] = peer.mergeable().getMergeableContentHashes();
    const tables: [TableStamps, string?] = [Object.create(null)];
    if (tablesHash !== ownTables) {
      const [newTables, differentTables] = (await request(connection, SYNC_MESSAGE.getTableDiff, peer.mergeable().getMergeableTableHashes(), transactionId)) as [[TableStamps, string?], HashTree];
      mergeTablesStamps(tables, newTables);
      if (!isEmptyObject(differentTables)) {
        const rowHashes = peer.mergeable().getMergeableRowHashes(differentTables as never);
        const [newRows, differentRows] = (await request(connection, SYNC_MESSAGE.getRowDiff, rowHashes, transactionId)) as [[TableStamps, string?], HashTree];
        mergeTablesStamps(tables, newRows);
        if (!isEmptyObject(differentRows)) {
          const cellHashes = peer.mergeable().getMergeableCellHashes(differentRows as never);
          mergeTablesStamps(tables, (await request(connection, SYNC_MESSAGE.getCellDiff, cellHashes, transactionId)) as [TableStamps, string?]);
        }
      }
    }
    const values =
      valuesHash === ownValues
        ? [Object.create(null)]
        : await request(connection, SYNC_MESSAGE.getValueDiff, peer.mergeable().getMergeableValueHashes(), transactionId);
    await apply(connection, [tables, values, 1] as MergeableChanges);
  };

  /** An answer to one of the room's requests: checked against what was asked. */
  const answered = (connection: RoomConnection, message: SyncMessage) => {
    const open = pending.get(socketIdOf(connection));
    const waiting = message.requestId === null ? undefined : open?.get(message.requestId);
    if (!waiting) return; // An answer to the room's hello, or one that came too late.
    open!.delete(message.requestId!);
    clearTimeout(waiting.timer);
    if (!bodyValidator(now()).isAnswer(waiting.type, message.body)) {
      waiting.reject(new Error("The answer does not match the request."));
      throw new RoomError("invalid_content", `Not a valid answer to synchronizer request type ${waiting.type}.`);
    }
    waiting.resolve(message.body);
  };

  /** Answers a client's request from the room's MergeableStore. */
  const answer = (connection: RoomConnection, message: SyncMessage) => {
    const store = peer.mergeable();
    const body = message.body as never;
    if (message.type === SYNC_MESSAGE.getTableDiff && isEmptyObject(body)) {
      if (everyTable?.version !== peer.version) everyTable = { version: peer.version, body: encodeSyncBody(store.getMergeableTableDiff(body)) };
      return connection.send(encodeSyncFrameOf(message.requestId, SYNC_MESSAGE.response, everyTable.body));
    }
    const response =
      message.type === SYNC_MESSAGE.getContentHashes ? store.getMergeableContentHashes()
      : message.type === SYNC_MESSAGE.getTableDiff ? store.getMergeableTableDiff(body)
      : message.type === SYNC_MESSAGE.getRowDiff ? store.getMergeableRowDiff(body)
      : message.type === SYNC_MESSAGE.getCellDiff ? store.getMergeableCellDiff(body)
      : store.getMergeableValueDiff(body);
    send(connection, message.requestId, SYNC_MESSAGE.response, response);
  };

  /**
   * Answers once every write before the request has settled (`core.settled`): a write still being
   * stored may fail, and a client given it would hand it back to the room as its own.
   */
  const answerCommitted = async (connection: RoomConnection, message: SyncMessage): Promise<void> => {
    await core.settled();
    answer(connection, message);
  };

  /** Frees the fragments a socket's decoder keeps. */
  const release = (connection: RoomConnection) => {
    decoders.get(socketIdOf(connection))?.release();
    decoders.delete(socketIdOf(connection));
  };

  const handle = async (connection: RoomConnection, message: SyncMessage): Promise<void> => {
    switch (message.type) {
      case SYNC_MESSAGE.response:
        return answered(connection, message);
      case SYNC_MESSAGE.contentHashes:
        return pull(connection, message.body as [number, number], message.requestId?.split(".")[0] ?? randomId(11)).catch((error) => {
          // A client that leaves or stays silent mid-pull keeps its changes until its next hashes.
          if (error instanceof RoomError) throw error;
        });
      case SYNC_MESSAGE.contentDiff:
        return apply(connection, message.body as MergeableChanges);
      default:
        return answerCommitted(connection, message);
    }
  };

  return {
    prepare,

    /** Records a committed store write's stamps in its batch, and sends them once it is durable. */
    onStoreWrite(batch: Batch, writes: StoreWrite[], stamps?: unknown): void {
      queueFlush(batch, peer.stampWrites(batch, writes, stamps as StampedInput | undefined));
    },

    /** Marks a socket opened on `{room}/sync`; the mark lives in its attachment, so it survives hibernation. */
    connect(connection: RoomConnection): void {
      updateState(connection, { sync: true });
      syncKinds.set(connection, true);
      // Load the stamps and build the MergeableStore now: a client's first requests time out
      // after 1 s. A failure here is met again, and answered, by the socket's first message.
      prepare().catch(() => undefined);
    },

    async message(connection: RoomConnection, data: string | ArrayBuffer | ArrayBufferView): Promise<void> {
      if (stateOf(connection).closedByRoom) return;
      // A synchronizer client cannot read an error frame, and a dropped frame would break its protocol.
      if (!limiter.allow(socketIdOf(connection))) return closeByRoom(connection, CLOSE_POLICY, `At most ${limits.maxMessagesPerSecond} frames a second.`);
      try {
        if (typeof data !== "string") throw new RoomError("bad_request", "Synchronizer frames must be text.");
        let decoder = decoders.get(socketIdOf(connection));
        if (!decoder) decoders.set(socketIdOf(connection), (decoder = createSyncDecoder(now, fragmentBudget)));
        const message = decoder.decode(data);
        // Messages to another client go nowhere: the room is every client's only peer.
        if (!message || (message.to !== "" && message.to !== SYNC_ROOM_ID)) return;
        await ready();
        await handle(connection, message);
      } catch (error) {
        const roomError = toRoomError(error);
        if (roomError.code === "internal") log(error);
        closeForError(connection, roomError);
        release(connection);
      }
    },

    close(connection: RoomConnection): void {
      limiter.forget(socketIdOf(connection));
      release(connection);
      for (const waiting of pending.get(socketIdOf(connection))?.values() ?? []) {
        clearTimeout(waiting.timer);
        waiting.reject(new Error("The socket closed."));
      }
      pending.delete(socketIdOf(connection));
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
