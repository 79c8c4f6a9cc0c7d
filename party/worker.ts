// roomstore on Cloudflare Workers: partyserver routes `/parties/main/:room` to one Durable Object
// per room (binding `Main`), and this class hands each request and frame to the room core.
// Subclass it to set `config` or permission hooks; export your subclass under the class name in
// wrangler.toml.
import { routePartykitRequest, Server, type Connection, type ConnectionContext, type Lobby, type WSMessage } from "partyserver";
import { createDurableStorage, type KeyValueStorage } from "./adapters/durable-storage.ts";
import { admitListing, createAlarmScheduler, createDirectoryRoom, createRoom, DIRECTORY_NAME, listedParty, resolveConfig, type Room as RoomApi, type RoomConfigInput, type RoomHooks } from "./core/index.ts";
import { workersListing, workersReportSender } from "./adapters/directory-link.ts";
import { RoomError } from "./core/common/errors.ts";
import { discardBody, errorResponse, isUpgrade, MAX_DRAINED_BODY_BYTES } from "./core/room/http.ts";
import { createStarter } from "./adapters/starter.ts";
import { canonicalRoomUrl, gate, parseRoomSegment } from "./gate.ts";
import { CLOSE_INTERNAL, CLOSE_NO_STATUS, CLOSE_TRY_AGAIN, roomName } from "./protocol.ts";

export interface Env {
  Main: DurableObjectNamespace;
  Live: DurableObjectNamespace;
  [name: string]: unknown;
}

export class Room extends Server<Env & Cloudflare.Env> {
  /**
   * Hibernation: idle sockets cost no duration, and the room reloads its store when it wakes.
   * See docs/operations.md#hibernation-and-liveroom.
   */
  static override options = { hibernate: true };

  /** Config in code; wins over environment variables. */
  config: RoomConfigInput = {};

  readonly #starter = createStarter(() => this.#start(), (error) => console.error("roomstore: the room could not start", error));

  constructor(ctx: DurableObjectState, env: Env & Cloudflare.Env) {
    super(ctx, env);
    this.ctx = withoutNameRecord(ctx as DurableObjectState<{}>);
  }

  get room(): RoomApi {
    const room = this.#starter.current;
    if (!room) throw new Error("The room is used before onStart.");
    return room;
  }

  /** Never throws: partyserver would answer the request with the error's stack (see starter.ts). */
  override async onStart(): Promise<void> {
    await this.#starter.ready().catch(() => undefined);
  }

  async #start(): Promise<RoomApi> {
    const storage = createDurableStorage(this.ctx.storage as unknown as KeyValueStorage);
    const config = resolveConfig(this.env as Record<string, unknown>, this.config);
    // The party's directory of rooms lives in an object of this class that no URL reaches (core/directory/).
    if (this.name === DIRECTORY_NAME) return createDirectoryRoom({ storage, config, logger: console });
    const room = createRoom(
      {
        name: roomName(this.name),
        storage,
        config,
        hooks: this,
        connections: () => this.getConnections(),
        logger: console,
        scheduleAlarm: createAlarmScheduler(this.ctx.storage),
      },
      { sendReport: workersReportSender(this.env, this.ctx.id, this.name) },
    );
    await room.load();
    return room;
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
    let room: RoomApi;
    try {
      room = await this.#starter.ready();
    } catch (error) {
      return errorResponse(error);
    }
    const refused = room.socketRefusal(request);
    if (refused) return errorResponse(refused);
    if (!room.isFull()) {
      try {
        await room.prepareSocket(request);
      } catch (error) {
        return errorResponse(error);
      }
      return super.fetch(request);
    }
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.close(CLOSE_TRY_AGAIN, "The room is full; try again later.");
    return new Response(null, { status: 101, webSocket: client });
  }

  override async onRequest(request: Request): Promise<Response> {
    try {
      return await (await this.#starter.ready()).handleRequest(request);
    } catch (error) {
      await discardBody(request, MAX_DRAINED_BODY_BYTES);
      return errorResponse(error);
    }
  }

  override onConnect(connection: Connection, context: ConnectionContext): void {
    const room = this.#starter.current;
    if (room) room.handleConnect(connection, context.request);
    else connection.close(CLOSE_INTERNAL, "The room could not start.");
  }

  override async onMessage(connection: Connection, message: WSMessage): Promise<void> {
    const room = await this.#starter.ready().catch(() => undefined);
    if (room) await room.handleMessage(connection, message);
    else connection.close(CLOSE_INTERNAL, "The room could not start.");
  }

  override onClose(connection: Connection, code: number): void {
    this.#starter.current?.handleClose(connection);
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
    this.#starter.current?.handleClose(connection);
  }

  /** A failed start-up throws here, so that the runtime retries the alarm. */
  override async onAlarm(): Promise<void> {
    await (await this.#starter.ready()).handleAlarm();
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

/** partyserver's kebab-casing of binding names (routePartykitRequest): `Main` → `main`. */
const partyOf = (binding: string) =>
  binding === binding.toUpperCase() ? binding.toLowerCase().replace(/_/g, "-") : binding.replace(/[A-Z]/g, (letter, at) => (at ? "-" : "") + letter.toLowerCase()).replace(/_/g, "-");

/** The parties of a deployment: its Durable Object bindings, by the name routing gives them; once per environment. */
const parties = new WeakMap<Env, Set<string>>();
const partiesOf = (env: Env): Set<string> => {
  let found = parties.get(env);
  if (!found) {
    found = new Set(Object.keys(env).filter((name) => typeof (env[name] as { idFromName?: unknown } | undefined)?.idFromName === "function").map(partyOf));
    parties.set(env, found);
  }
  return found;
};

/** `/parties/:party/:room` and what follows; the room segment may be empty (refused as a name). */
const ROOM_PATH = /^\/parties\/([^/]+)\/([^/]*)(?:\/.*)?$/;

/**
 * Routes `/parties/:party/:room` to its room, through the gate (core/room/auth.ts, gate.ts). Before
 * partyserver sees it, the path is checked (anything else is a JSON 404, whatever partyserver
 * would make of it) and the room segment is spelled canonically, so that every spelling of a
 * name reaches the one object partyserver derives from the canonical URL.
 */
export const routeRoomRequest = async (request: Request, env: Env): Promise<Response> => {
  try {
    const pathname = new URL(request.url).pathname;
    const listed = listedParty(pathname);
    if (listed !== undefined) return await listRooms(request, env, listed);
    const match = pathname.match(ROOM_PATH);
    if (!match) throw new RoomError("not_found", "Rooms live at /parties/main/:room.");
    const [, party, segment] = match;
    if (!partiesOf(env).has(party)) throw new RoomError("not_found", `No party ${JSON.stringify(party)} here.`);
    const url = canonicalRoomUrl(request.url, parseRoomSegment(segment));
    const routed = url === request.url ? request : new Request(url, request);
    const check = (req: Request, lobby: Lobby) => gate(req, env, lobby.name);
    const response = await routePartykitRequest(routed, env as never, { onBeforeConnect: check, onBeforeRequest: check });
    if (!response) throw new RoomError("not_found", "Rooms live at /parties/main/:room.");
    return response;
  } catch (error) {
    await discardBody(request, MAX_DRAINED_BODY_BYTES);
    return errorResponse(error);
  }
};

/** `GET /parties/:party`: the party's rooms, from its directory (core/directory/access.ts says who may). */
const listRooms = async (request: Request, env: Env, party: string): Promise<Response> => {
  const binding = Object.keys(env).find((name) => typeof (env[name] as { idFromName?: unknown } | undefined)?.idFromName === "function" && partyOf(name) === party);
  if (binding === undefined) throw new RoomError("not_found", `No party ${JSON.stringify(party)} here.`);
  const directory = workersListing(env, binding, party);
  const admitted = await admitListing(request, env, directory.url);
  return admitted instanceof Response ? admitted : directory.send(admitted);
};

export default {
  fetch: routeRoomRequest,
} satisfies ExportedHandler<Env>;
