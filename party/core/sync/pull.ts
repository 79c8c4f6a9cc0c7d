// The room's requests to a synchronizer client: when a client announces its hashes, the room pulls
// what the client has and the room has not, table, row and cell diffs in turn, as TinyBase's
// synchronizer does. At most MAX_SYNC_PENDING_REQUESTS wait per socket, each for at most
// SYNC_REQUEST_TIMEOUT_MS; an answer is checked against what was asked before it is used.
import { MAX_SYNC_PENDING_REQUESTS, SYNC_MESSAGE, SYNC_REQUEST_TIMEOUT_MS } from "../../protocol.ts";
import { socketIdOf } from "../live/connections.ts";
import { RoomError } from "../common/errors.ts";
import type { RoomConnection } from "../room/types.ts";
import type { MergeablePeer } from "./mergeable-peer.ts";
import { mergeTablesStamps } from "./changes.ts";
import { bodyValidator, encodeSyncFrame, type HashTree, type MergeableChanges, type SyncMessage, type TableStamps } from "./wire.ts";

interface Pending {
  type: number;
  resolve: (body: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The requests waiting for an answer, per socket (by the room's own socket id), by request id. */
export type PendingRequests = Map<string, Map<string, Pending>>;

export const isEmptyObject = (thing: object) => {
  for (const _ in thing) return false;
  return true;
};

const ID_CHARS = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
export const randomId = (length: number) => Array.from(crypto.getRandomValues(new Uint8Array(length)), (byte) => ID_CHARS[byte & 63]).join("");

/** Sends one request; resolves with the client's answer, rejects when too many wait or it times out. */
const request = (pending: PendingRequests, connection: RoomConnection, { type, body, transactionId }: { type: number; body: unknown; transactionId: string }): Promise<unknown> =>
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
    connection.send(encodeSyncFrame(requestId, type, body));
  });

/**
 * Pulls what a client that announced its hashes has and the room has not: returns it as one
 * MergeableChanges, for the room to merge as that client's change.
 */
export const pull = async (
  pending: PendingRequests,
  peer: MergeablePeer,
  { connection, hashes: [tablesHash, valuesHash], transactionId }: { connection: RoomConnection; hashes: [number, number]; transactionId: string },
): Promise<MergeableChanges> => {
  const ask = (type: number, body: unknown) => request(pending, connection, { type, body, transactionId });
  const [ownTables, ownValues] = peer.mergeable().getMergeableContentHashes();
  const tables: [TableStamps, string?] = [Object.create(null)];
  if (tablesHash !== ownTables) {
    const [newTables, differentTables] = (await ask(SYNC_MESSAGE.getTableDiff, peer.mergeable().getMergeableTableHashes())) as [[TableStamps, string?], HashTree];
    mergeTablesStamps(tables, newTables);
    if (!isEmptyObject(differentTables)) {
      const rowHashes = peer.mergeable().getMergeableRowHashes(differentTables as never);
      const [newRows, differentRows] = (await ask(SYNC_MESSAGE.getRowDiff, rowHashes)) as [[TableStamps, string?], HashTree];
      mergeTablesStamps(tables, newRows);
      if (!isEmptyObject(differentRows)) {
        const cellHashes = peer.mergeable().getMergeableCellHashes(differentRows as never);
        mergeTablesStamps(tables, (await ask(SYNC_MESSAGE.getCellDiff, cellHashes)) as [TableStamps, string?]);
      }
    }
  }
  const values = valuesHash === ownValues ? [Object.create(null)] : await ask(SYNC_MESSAGE.getValueDiff, peer.mergeable().getMergeableValueHashes());
  return [tables, values, 1] as MergeableChanges;
};

/** An answer to one of the room's requests: checked against what was asked. */
export const answered = (pending: PendingRequests, connection: RoomConnection, { message, nowMs }: { message: SyncMessage; nowMs: number }): void => {
  const open = pending.get(socketIdOf(connection));
  const waiting = message.requestId === null ? undefined : open?.get(message.requestId);
  if (!waiting) return; // An answer to the room's hello, or one that came too late.
  open!.delete(message.requestId!);
  clearTimeout(waiting.timer);
  if (!bodyValidator(nowMs).isAnswer(waiting.type, message.body)) {
    waiting.reject(new Error("The answer does not match the request."));
    throw new RoomError("invalid_content", `Not a valid answer to synchronizer request type ${waiting.type}.`);
  }
  waiting.resolve(message.body);
};

/** Ends a closed socket's requests: each rejects. */
export const endRequests = (pending: PendingRequests, connection: RoomConnection): void => {
  for (const waiting of pending.get(socketIdOf(connection))?.values() ?? []) {
    clearTimeout(waiting.timer);
    waiting.reject(new Error("The socket closed."));
  }
  pending.delete(socketIdOf(connection));
};
