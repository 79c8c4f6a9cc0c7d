// MergeableStore synchronizer clients (`{room}/sync`, TinyBase's WsSynchronizer protocol).

/** Sub-path of a room where TinyBase `createWsSynchronizer` clients connect. */
export const SYNC_PATH = "/sync";
/** The room's own client id in synchronizer frames (TinyBase's `WsServerDurableObject` uses the same). */
export const SYNC_ROOM_ID = "S";
/** Synchronizer message types, as TinyBase numbers them (`Message` in tinybase/synchronizers). */
export const SYNC_MESSAGE = {
  response: 0,
  getContentHashes: 1,
  contentHashes: 2,
  contentDiff: 3,
  getTableDiff: 4,
  getRowDiff: 5,
  getCellDiff: 6,
  getValueDiff: 7,
} as const;
/**
 * Largest synchronizer message, whole or reassembled from fragments, and most fragments of one
 * message and messages being reassembled per socket: TinyBase 10's own bounds
 * (MAX_WEBSOCKET_BUFFER_SIZE, MAX_FRAGMENT_COUNT, MAX_FRAGMENT_BUFFERS).
 */
export const MAX_SYNC_MESSAGE_BYTES = 16 * 1024 * 1024;
export const MAX_SYNC_FRAGMENTS = 1_000;
export const MAX_SYNC_PARTIAL_MESSAGES = 100;
/** Most bytes of fragments the room keeps across all its synchronizer sockets at once. */
export const MAX_SYNC_PARTIAL_BYTES_PER_ROOM = 64 * 1024 * 1024;
/** How long a request of the room to a synchronizer client, or a message's fragments, may take (TinyBase's default). */
export const SYNC_REQUEST_TIMEOUT_MS = 1_000;
/** Most requests the room has pending on one synchronizer socket (TinyBase's MAX_PENDING_REQUESTS). */
export const MAX_SYNC_PENDING_REQUESTS = 100;
