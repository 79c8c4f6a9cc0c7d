// roomstore on Cloudflare Workers: partyserver routes `/parties/main/:room` to one Durable Object
// per room (binding `Main`), and this class hands each request and frame to the room
// (adapters/host.ts). Subclass it to set `config` or permission hooks; export your subclass under the
// class name in wrangler.toml.
import { Server, type Connection, type ConnectionContext, type WSMessage } from "partyserver";
import type { KeyValueStorage } from "./adapters/durable-storage.ts";
import { createRoomHost } from "./adapters/host.ts";
import { routeRoomRequest, type Env } from "./adapters/routing.ts";
import { DIRECTORY_NAME, type Room as RoomApi, type RoomConfigInput, type RoomHooks } from "./core/index.ts";
import { workersReportSender } from "./adapters/directory-link.ts";
import { isUpgrade } from "./core/room/http.ts";
import { CLOSE_NO_STATUS, CLOSE_TRY_AGAIN, roomName } from "./protocol.ts";

export { routeRoomRequest, type Env };

export class Room extends Server<Env & Cloudflare.Env> {
  /**
   * Hibernation: idle sockets cost no duration, and the room reloads its store when it wakes.
   * See docs/operations.md#hibernation-and-liveroom.
   */
  static override options = { hibernate: true };

  /** Config in code; wins over environment variables. */
  config: RoomConfigInput = {};

  readonly #host = createRoomHost(() => ({
    storage: this.ctx.storage as unknown as KeyValueStorage & DurableObjectStorage,
    env: this.env as Record<string, unknown>,
    config: this.config,
    hooks: this,
    connections: () => this.getConnections(),
    identify: async () => (this.name === DIRECTORY_NAME ? { directory: true } : { room: roomName(this.name) }),
    links: () => ({ sendReport: workersReportSender(this.env, this.ctx.id, this.name) }),
  }));

  constructor(ctx: DurableObjectState, env: Env & Cloudflare.Env) {
    super(ctx, env);
    this.ctx = withoutNameRecord(ctx as DurableObjectState<{}>);
  }

  get room(): RoomApi {
    return this.#host.room;
  }

  /** Never throws: partyserver would answer the request with the error's stack (see adapters/starter.ts). */
  override async onStart(): Promise<void> {
    await this.#host.start();
  }

  /**
   * A socket the room refuses is refused before partyserver accepts it for hibernation: with 404
   * at a path that is no socket of the room, with 403 when no gate admitted it or its origin is not
   * allowed, and past the connection limit with a plain socket closed at once. workerd
   * (1.20261102, under wrangler dev) keeps a hibernatable socket that was closed from the request
   * that accepted it open for 10 s after the close handshake, so a refused client would wait that
   * long; a plain socket's close reaches the client promptly, and whatever the client sends on it
   * goes nowhere. (`connect` in the core still closes a socket that slips past these checks.) A
   * `{room}/sync` socket opens only once the room has its stamps and MergeableStore ready
   * (`prepareSocket`): its client's requests time out after 1 s.
   */
  override async fetch(request: Request): Promise<Response> {
    if (!isUpgrade(request)) return super.fetch(request);
    const vetted = await this.#host.vetSocket(request);
    if (vetted === undefined) return super.fetch(request);
    if (vetted instanceof Response) return vetted;
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.close(CLOSE_TRY_AGAIN, "The room is full; try again later.");
    return new Response(null, { status: 101, webSocket: client });
  }

  override onRequest(request: Request): Promise<Response> {
    return this.#host.request(request);
  }

  override onConnect(connection: Connection, context: ConnectionContext): void {
    this.#host.connect(connection, context.request);
  }

  override onMessage(connection: Connection, message: WSMessage): Promise<void> {
    return this.#host.message(connection, message);
  }

  override onClose(connection: Connection, code: number): void {
    this.#host.close(connection);
    // A Close frame without a status code (what browsers' and ws's `close()` send) arrives as 1005,
    // which partyserver 0.5.10 does not answer (its closeQuietly takes 1005 for a lost transport),
    // so the client waits for its own timeout. RFC 6455 (5.5.1) wants a Close back: send one,
    // with no code either. It may fail if the client is already gone; then there is no one to tell.
    if (code !== CLOSE_NO_STATUS) return;
    try {
      connection.close();
    } catch {
      // Already closed.
    }
  }

  override onError(connection: Connection): void {
    this.#host.close(connection);
  }

  /** A failed start-up throws here, so that the runtime retries the alarm. */
  override onAlarm(): Promise<void> {
    return this.#host.alarm();
  }
}

// The permission hooks are optional methods: a subclass defines the ones it needs.
export interface Room extends RoomHooks {}

/**
 * An alternative class for the same rooms, with its sockets kept in memory instead of
 * hibernating: more changes per second at saturation (docs/benchmarks.md, roomstore-live),
 * at the cost of duration billed while any socket is open. A deployment binds `Main` to it
 * instead of `Room` (`class_name = "LiveRoom"`). This repository's wrangler.toml also binds it as
 * `Live`, for benchmarks: `/parties/live/:room` is then a second set of rooms, with their own data,
 * not a view of `/parties/main/:room`.
 */
export class LiveRoom extends Room {
  static override options = { hibernate: false };
}

/**
 * Key under which partyserver 0.5.10 stores the object's name on its first start (a fallback for
 * alarms scheduled by workerd versions that did not keep `ctx.id.name`). That write would make
 * a mere read of a room that never existed leave it in storage. workerd since 2025 gives
 * `ctx.id.name` to every entry point of an object addressed by name, as partyserver's routing
 * always does, so the record is never needed: it is skipped, and only the room's own writes
 * create a room.
 */
const NAME_RECORD_KEY = "__ps_name";

/** Methods of `target`, bound to it, so that a proxy of a runtime object passes its own checks. */
const bound = (target: object, key: string | symbol): unknown => {
  const value: unknown = Reflect.get(target, key);
  return typeof value === "function" ? value.bind(target) : value;
};

/** `ctx` as partyserver and the room see it: its storage never writes NAME_RECORD_KEY. */
const withoutNameRecord = <State extends DurableObjectState<{}>>(ctx: State): State => {
  const storage = new Proxy(ctx.storage, {
    get: (target, key) =>
      key === "put"
        ? (first: unknown, ...rest: unknown[]) => (first === NAME_RECORD_KEY ? Promise.resolve() : (target.put as (...args: unknown[]) => Promise<void>)(first, ...rest))
        : bound(target, key),
  });
  return new Proxy(ctx, { get: (target, key) => (key === "storage" ? storage : bound(target, key)) });
};

export default {
  fetch: routeRoomRequest,
} satisfies ExportedHandler<Env>;
