// The room as adapters use it: one call builds the core and its HTTP and WebSocket handlers.
import { createOpenConnections, type OpenConnections } from "./live/connections.ts";
import { createSocketHandlers } from "./transport/sockets.ts";
import { createRoomMessages } from "./transport/room-messages.ts";
import { createRequestHandler } from "./transport/routes.ts";
import { createDurableStreamHandler } from "./durable-streams/handler.ts";
import { countReaders, readStats, type ReaderCount } from "./room/stats.ts";
import { createRoomContext, createRoomCore, type RoomConnection, type RoomCore, type RoomOptions } from "./room-core.ts";
import type { RoomContext } from "./room/types.ts";
import { createSubscriptions } from "./live/subscriptions.ts";
import { roomAdminResources } from "./admin/routes.ts";
import { clearUnfinishedImport } from "./storage/write-lock.ts";
import { createMergeablePeer } from "./sync/mergeable-peer.ts";
import { createSyncRoom, isSyncConnection } from "./sync/room.ts";
import { CLOSE_POLICY, SYNC_PATH } from "../protocol.ts";
import { RoomError } from "./common/errors.ts";
import { createDirectoryHost, type DirectoryHostOptions } from "./directory/host.ts";
import { subPath } from "./room/http.ts";
import { startDelivery, webhookStatus } from "./webhooks/delivery.ts";
import { createTokenExpiry, type TokenExpiry } from "./live/token-expiry.ts";
import { createPresence, type Presence } from "./live/presence.ts";
import { presenceResource } from "./transport/presence-route.ts";
import { restoreResource } from "./transport/restore-route.ts";
import { createRoomReporter, type RoomLinks } from "./directory-room.ts";
import type { Reporter } from "./directory/reporter.ts";

export interface Room {
  readonly core: RoomCore;
  /** Loads the store from storage; call once before anything else (adapters do, in onStart). */
  load(): Promise<void>;
  handleRequest(request: Request): Promise<Response>;
  /** True when the room has no room for one more socket (`maxConnections`). */
  isFull(): boolean;
  /** Why a socket opened by `request` may not join (no role from the gate, a foreign origin), if it may not. */
  socketRefusal(request: Request): RoomError | undefined;
  /**
   * Makes ready what a socket opened by `request` needs from its first frame: for `{room}/sync`, the
   * stamps and the MergeableStore (a synchronizer client's requests time out after 1 s). An adapter
   * that can delay the upgrade awaits it first; without it, `handleConnect` starts the same work.
   */
  prepareSocket(request: Request): Promise<void>;
  /** Admits a socket opened by `request` (room capacity, role, its token's expiry). */
  handleConnect(connection: RoomConnection, request: Request): void;
  handleMessage(connection: RoomConnection, message: string | ArrayBuffer | ArrayBufferView): Promise<void>;
  /** Closes the sockets whose tokens expired (live/token-expiry.ts), then retention and delivery. */
  handleAlarm(): Promise<void>;
  /** Ends what a closed connection held (its subscriptions, its presence). */
  handleClose(connection: RoomConnection): void;
}

/** What outlives a rebuild of the room (an import, a DELETE): the sockets, their tokens' expiries, presence, the SSE readers. */
interface Lasting {
  readonly options: RoomContext;
  readonly open: OpenConnections;
  readonly sseReaders: ReaderCount;
  readonly tokens: TokenExpiry;
  readonly presence: Presence;
}

/** The room's state: what lasts, and the core with its handlers as built last. */
interface RoomHost extends Lasting {
  current: BuiltRoom;
  /** Its reports to the party's directory; they follow the room across rebuilds (a DELETE's removal is one). */
  reporter?: Reporter;
}

type BuiltRoom = ReturnType<typeof build>;

/** The open sockets of one protocol: synchronizer sockets hear the store in their own (sync/room.ts), not in TinyBase frames. */
const only = (open: OpenConnections, sync: boolean) =>
  function* (): Generator<RoomConnection> {
    for (const connection of open) if (isSyncConnection(connection) === sync) yield connection;
  };

const lastingOf = (options: RoomContext): Lasting => {
  const open = createOpenConnections(options.connections);
  // Sockets outlive a rebuild of the room, and so do their tokens' expiries.
  const tokens = createTokenExpiry({
    name: options.name,
    auth: options.config.auth,
    messagePrefix: options.config.messagePrefix,
    now: options.now,
    connections: () => open,
    scheduleAlarm: options.scheduleAlarm,
    logError: (error) => options.logger.error("roomstore: could not set the alarm", error),
  });
  // Presence lives in the sockets' attachments, which outlive a rebuild too.
  const presence = createPresence({ prefix: options.config.messagePrefix, limits: options.config.limits, hooks: options.hooks, now: options.now, setTimer: options.setTimer, connections: only(open, false) });
  return { options, open, sseReaders: countReaders(), tokens, presence };
};

/** The core and its handlers; built again from storage after an import or a DELETE (`reload`). */
const build = ({ options, open, sseReaders, tokens, presence, reporter }: Lasting & { reporter?: Reporter }, reload: () => Promise<void>) => {
  const core = createRoomCore({ ...options, connections: only(open, false), onStoreWrite: (...write) => sync.onStoreWrite(...write) });
  if (reporter) core.onEvents(() => reporter.changed());
  const peer = createMergeablePeer({ storage: options.storage, storagePrefix: core.options.config.storagePrefix, model: core.model, name: options.name, now: core.options.now });
  const sync = createSyncRoom(core, peer, only(open, true));
  const subscriptions = createSubscriptions(core);
  const messages = createRoomMessages(core, { subscriptions, tokens, presence });
  const sockets = createSocketHandlers(core, { messages, subscriptions, countOpen: () => [...open].length });
  const admin = roomAdminResources(core, { connections: () => open, reload });
  const stats = () =>
    readStats({
      core,
      connections: () => open.size,
      subscriptions: () => subscriptions.size,
      sseReaders: () => sseReaders.size,
      webhook: () => webhookStatus(core),
    });
  const streams = createDurableStreamHandler(core);
  const handleRequest = createRequestHandler(core, { more: [...admin, presenceResource(presence), restoreResource(core)], streams, stats, sseReaders });
  return { core, peer, sync, subscriptions, sockets, handleRequest };
};

const load = async ({ options, open }: Lasting, room: BuiltRoom): Promise<void> => {
  // A room that stopped mid-import is erased before it loads (storage/write-lock.ts).
  await clearUnfinishedImport(options.storage, room.core.keys);
  await Promise.all([room.core.load(), room.peer.open()]);
  room.subscriptions.resetOrphans(open);
  await startDelivery(room.core);
};

/** Builds the room again from storage, and swaps it in once loaded. */
const reload = async (host: RoomHost): Promise<void> => {
  const next = build(host, () => reload(host));
  await load(host, next);
  host.current = next;
  await host.reporter?.rebuilt();
  // Their feeds read the old room's log: ended, they reconnect to the room as it now is.
  host.sseReaders.endAll();
};

const isSyncRequest = (request: Request): boolean => subPath(new URL(request.url).pathname) === SYNC_PATH;

const connect = (host: RoomHost, connection: RoomConnection, request: Request): void => {
  host.open.add(connection);
  if (isSyncRequest(request)) host.current.sync.connect(connection);
  if (!host.current.sockets.connect(connection, request)) return;
  host.tokens.admit(connection, request);
  if (!isSyncConnection(connection)) host.presence.hello(connection);
};

const close = (host: RoomHost, connection: RoomConnection): void => {
  host.open.delete(connection);
  host.tokens.forget(connection);
  host.current.sockets.close(connection);
  host.current.sync.close(connection);
  if (!isSyncConnection(connection)) host.presence.leave(connection);
};

export const createRoom = (rawOptions: RoomOptions, links: RoomLinks = {}): Room => {
  const lasting = lastingOf(createRoomContext(rawOptions));
  const reporter = links.sendReport && createRoomReporter(lasting.options, links.sendReport, () => host.current.core);
  const host: RoomHost = { ...lasting, reporter, current: build({ ...lasting, reporter }, () => reload(host)) };
  const { tokens } = host;
  return {
    get core() {
      return host.current.core;
    },
    load: async () => {
      await load(host, host.current);
      await reporter?.load();
    },
    handleRequest: (request) => host.current.handleRequest(request),
    isFull: () => host.current.sockets.isFull(),
    socketRefusal: (request) => host.current.sockets.refusal(request),
    prepareSocket: async (request) => {
      if (isSyncRequest(request)) await host.current.sync.prepare();
    },
    handleConnect: (connection, request) => connect(host, connection, request),
    async handleMessage(connection, message) {
      if (tokens.endIfExpired(connection)) return;
      return isSyncConnection(connection) ? host.current.sync.message(connection, message) : host.current.sockets.message(connection, message);
    },
    handleClose: (connection) => close(host, connection),
    async handleAlarm() {
      tokens.sweep();
      await host.current.core.handleAlarm();
      // After retention, whose trims change the figures (`events`) without a write.
      await reporter?.alarm();
    },
  };
};

/**
 * The party's directory of rooms (directory/), as adapters serve it: the object of the party's class under
 * DIRECTORY_NAME gets this instead of a room. It has no core and opens no socket.
 */
export const createDirectoryRoom = (options: DirectoryHostOptions): Room => {
  const host = createDirectoryHost(options);
  const refusal = new RoomError("not_found", "The directory opens no sockets.");
  return {
    get core(): RoomCore {
      throw new Error("The directory of rooms has no room core.");
    },
    load: async () => {},
    handleRequest: (request) => host.handleRequest(request),
    isFull: () => false,
    socketRefusal: () => refusal,
    prepareSocket: async () => {},
    handleConnect: (connection) => connection.close(CLOSE_POLICY, refusal.message),
    handleMessage: async () => {},
    handleAlarm: async () => {},
    handleClose: () => {},
  };
};

export type { RoomConnection, RoomCore, RoomOptions } from "./room-core.ts";
export type { RoomLinks } from "./directory-room.ts";
export { DIRECTORY_NAME, DIRECTORY_SEGMENT } from "./directory/reports.ts";
export { recordedName } from "./directory/reporter.ts";
export { admitListing, listedParty } from "./directory/access.ts";
export type { RoomHooks } from "./room/hooks.ts";
export { resolveConfig, type RoomConfig, type RoomConfigInput } from "./room/config.ts";
export { webhookStatus } from "./webhooks/delivery.ts";
export { createAlarmScheduler } from "./room/alarm-scheduler.ts";
