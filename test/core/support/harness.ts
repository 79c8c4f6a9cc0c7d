// A room over in-memory storage, with recording connections: the pure core, no runtime.
import { resolveConfig, type RoomConfigInput, type RoomHooks } from "../../../party/core/index.ts";
import { createRoom, type Room } from "../../../party/core/index.ts";
import { createMemoryStorage } from "../../../party/core/storage/room-storage.ts";
import { ROLE_HEADER } from "../../../party/core/room/auth.ts";

/** What the gate adds when auth is off: the room refuses requests and sockets that no gate admitted. */
export const ADMITTED = { [ROLE_HEADER]: "write" };

export interface TestConnection {
  id: string;
  /** What the room sent after the socket opened (its greeting is in `greeting`). */
  sent: string[];
  /** What the room sent as the socket opened: its presence hello (presence.ts). */
  greeting?: string[];
  state: unknown;
  setState(state: unknown): unknown;
  closed?: { code?: number; reason?: string };
  send(message: string): void;
  close(code?: number, reason?: string): void;
}

export const createConnection = (id: string): TestConnection => ({
  id,
  sent: [],
  state: null,
  setState(state) {
    return (this.state = state);
  },
  send(message) {
    this.sent.push(message);
  },
  close(code, reason) {
    this.closed = { code, reason };
  },
});

/** A Response whose JSON tests may read freely (workers-types makes `json()` unknown). */
export type TestResponse = Omit<Response, "json"> & { json(): Promise<any> };

export interface TestRoom {
  room: Room;
  storage: ReturnType<typeof createMemoryStorage>;
  connections: TestConnection[];
  connect(id: string): TestConnection;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<TestResponse>;
  /** A new room over the same storage: what a restart or an eviction leaves; `open` sockets stayed connected (hibernation). */
  restart(open?: TestConnection[]): Promise<TestRoom>;
}

export const createTestRoom = async (
  options: {
    hooks?: RoomHooks;
    config?: RoomConfigInput;
    storage?: ReturnType<typeof createMemoryStorage>;
    now?: () => number;
    /** Sockets already open when the room starts, as after a wake-up from hibernation. */
    open?: TestConnection[];
    /** Environment variables, as a deployment sets them (AUTH_SECRET…). */
    env?: Record<string, unknown>;
    scheduleAlarm?: (at: number) => void;
    setTimer?: (run: () => void, ms: number) => void;
    importBatchEvents?: number;
  } = {},
): Promise<TestRoom> => {
  const storage = options.storage ?? createMemoryStorage();
  const connections: TestConnection[] = [...(options.open ?? [])];
  let counter = 0;
  const room = createRoom({
    name: "test-room",
    storage,
    config: resolveConfig(options.env ?? {}, options.config),
    hooks: options.hooks ?? {},
    connections: () => connections,
    now: options.now ?? (() => Date.UTC(2026, 0, 1)),
    newId: () => `id-${++counter}`,
    scheduleAlarm: options.scheduleAlarm,
    setTimer: options.setTimer,
    importBatchEvents: options.importBatchEvents,
  });
  await room.load();
  return {
    room,
    storage,
    connections,
    connect(id) {
      const connection = createConnection(id);
      connections.push(connection);
      // As the runtimes do: the socket is in the connection list when the room hears of it.
      room.handleConnect(connection, new Request("http://room.test/parties/main/test-room", { headers: ADMITTED }));
      // Kept apart, so that a test of what follows sees only what follows.
      connection.greeting = connection.sent.splice(0);
      return connection;
    },
    request(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...ADMITTED, ...headers } };
      if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
      return room.handleRequest(new Request(`http://room.test/parties/main/test-room${path}`, init));
    },
    restart: (open = []) => createTestRoom({ ...options, storage, open }),
  };
};

/** Lets queued commits run. */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The changesets a connection received, parsed. */
export const receivedChanges = (connection: TestConnection) =>
  connection.sent.filter((frame) => frame.startsWith("s")).map((frame) => JSON.parse(frame.slice(1)));

export const receivedErrors = (connection: TestConnection) =>
  receivedMessages(connection).filter((message) => message.t === "error");

/** roomstore's own messages a connection received, parsed. */
export const receivedMessages = (connection: TestConnection): any[] =>
  connection.sent.filter((frame) => frame.startsWith("x")).map((frame) => JSON.parse(frame.slice(1)));

export const messageFrame = (message: unknown) => "x" + JSON.stringify(message);

export const changesFrame = (changes: unknown) => "s" + JSON.stringify(changes);
