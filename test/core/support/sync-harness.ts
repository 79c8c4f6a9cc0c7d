// Unmodified TinyBase synchronizer clients (createWsSynchronizer over a MergeableStore) wired to a
// room over in-memory storage: a WebSocket-shaped object in place of the network.
import { createMergeableStore, type MergeableStore } from "tinybase";
import { createWsSynchronizer, type WsSynchronizer } from "tinybase/synchronizers/synchronizer-ws-client";
import { ADMITTED, createConnection, type TestConnection, type TestRoom } from "./harness.ts";

export interface SyncClient {
  store: MergeableStore;
  connection: TestConnection;
  synchronizer: WsSynchronizer<any>;
  /** Sends a raw frame as this client's socket would. */
  sendRaw(frame: string): Promise<void>;
  close(): Promise<void>;
}

const OPEN = 1;
const CLOSED = 3;

/** Opens `{room}/sync` on `room` with a TinyBase synchronizer; `store` may hold offline edits. */
export const connectSync = async (room: TestRoom, id: string, store = createMergeableStore()): Promise<SyncClient> => {
  const events = new EventTarget();
  const connection = createConnection(id);
  const socket = {
    OPEN,
    readyState: OPEN,
    bufferedAmount: 0,
    addEventListener: events.addEventListener.bind(events),
    removeEventListener: events.removeEventListener.bind(events),
    send: (data: string) => void room.room.handleMessage(connection, data),
    close() {
      if (socket.readyState === CLOSED) return;
      socket.readyState = CLOSED;
      room.room.handleClose(connection);
      events.dispatchEvent(new Event("close"));
    },
  };
  // Frames reach the client a macrotask later, as over a socket.
  connection.send = (frame: string) => {
    connection.sent.push(frame);
    setTimeout(() => socket.readyState === OPEN && events.dispatchEvent(new MessageEvent("message", { data: frame })), 0);
  };
  connection.close = (code?: number, reason?: string) => {
    connection.closed = { code, reason };
    socket.close();
  };
  room.connections.push(connection);
  room.room.handleConnect(connection, new Request("http://room.test/parties/main/test-room/sync", { headers: ADMITTED }));
  const synchronizer = await createWsSynchronizer(store, socket as never);
  await synchronizer.startSync();
  return {
    store,
    connection,
    synchronizer,
    sendRaw: (frame) => room.room.handleMessage(connection, frame),
    async close() {
      await synchronizer.destroy();
    },
  };
};
