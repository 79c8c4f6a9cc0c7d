// roomstore on Cloudflare Workers: partyserver routes `/parties/main/:room` to one Durable Object
// per room (binding `Main`), and this class hands each request and frame to the room core.
// Subclass it to set `config` or permission hooks; export your subclass under the class name in
// wrangler.toml.
import { routePartykitRequest, Server, type Connection, type ConnectionContext, type Lobby, type WSMessage } from "partyserver";
import { createDurableStorage, type KeyValueStorage } from "./adapters/durable-storage.ts";
import { createAlarmScheduler, createRoom, resolveConfig, type Room as RoomApi, type RoomConfigInput, type RoomHooks } from "./core/index.ts";
import { errorBody, RoomError } from "./core/errors.ts";
import { gate } from "./gate.ts";
import { CLOSE_TRY_AGAIN, roomName } from "./protocol.ts";

export interface Env {
  Main: DurableObjectNamespace;
  Live: DurableObjectNamespace;
  [name: string]: unknown;
}

export class Room extends Server<Env & Cloudflare.Env> {
  /**
   * Hibernation: idle sockets cost no duration, and the room reloads its store when it wakes.
   * See README, "Hibernation".
   */
  static override options = { hibernate: true };

  /** Config in code; wins over environment variables. */
  config: RoomConfigInput = {};

  #room: RoomApi | undefined;

  get room(): RoomApi {
    if (!this.#room) throw new Error("The room is used before onStart.");
    return this.#room;
  }

  /**
   * Start-up never throws: partyserver would answer the request with the error's stack. A room
   * that cannot start (a malformed variable, storage that fails) logs why and answers a plain
   * JSON 500, or closes sockets with 1011, until it is restarted.
   */
  override async onStart(): Promise<void> {
    try {
      await this.#start();
    } catch (error) {
      console.error("roomstore: the room could not start", error);
      this.#room = undefined;
    }
  }

  async #start(): Promise<void> {
    const room = createRoom({
      name: roomName(this.name),
      storage: createDurableStorage(this.ctx.storage as unknown as KeyValueStorage),
      config: resolveConfig(this.env as Record<string, unknown>, this.config),
      hooks: this,
      connections: () => this.getConnections(),
      logger: console,
      scheduleAlarm: createAlarmScheduler(this.ctx.storage),
    });
    await room.load();
    this.#room = room;
  }

  /**
   * A socket past the connection limit is refused before partyserver accepts it for hibernation:
   * workerd (1.20261102, under wrangler dev) keeps a hibernatable socket that was closed from the
   * request that accepted it open for 10 s after the close handshake, so a refused client would
   * wait that long. A plain socket, accepted and closed at once, reaches the client promptly, and
   * whatever the client sends on it goes nowhere. (`connect` in the core still closes a socket
   * that slips past this check.)
   */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket" || !this.#room?.isFull()) return super.fetch(request);
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.close(CLOSE_TRY_AGAIN, "The room is full; try again later.");
    return new Response(null, { status: 101, webSocket: client });
  }

  override async onRequest(request: Request): Promise<Response> {
    return this.#room ? this.#room.handleRequest(request) : jsonError(new RoomError("internal", "The room could not start."));
  }

  override onConnect(connection: Connection, context: ConnectionContext): void {
    if (this.#room) this.#room.handleConnect(connection, context.request);
    else connection.close(CLOSE_INTERNAL, "The room could not start.");
  }

  override async onMessage(connection: Connection, message: WSMessage): Promise<void> {
    if (this.#room) await this.#room.handleMessage(connection, message);
    else connection.close(CLOSE_INTERNAL, "The room could not start.");
  }

  override onClose(connection: Connection, code: number): void {
    this.#room?.handleClose(connection);
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
    this.#room?.handleClose(connection);
  }

  override async onAlarm(): Promise<void> {
    await this.#room?.handleAlarm();
  }
}

// The permission hooks are optional methods: a subclass defines the ones it needs.
export interface Room extends RoomHooks {}

/**
 * The same room, with its sockets kept in memory instead of hibernating: about 1.5 times the
 * changes per second at saturation (see README, "Hibernation"), at the cost of duration billed
 * while any socket is open. Bound as `Live`, so its rooms are at `/parties/live/:room`.
 */
export class LiveRoom extends Room {
  static override options = { hibernate: false };
}

/** WebSocket close codes (RFC 6455): a server that cannot serve; a Close frame that had no code. */
const CLOSE_INTERNAL = 1011;
const CLOSE_NO_STATUS = 1005;

const jsonError = (error: RoomError) =>
  new Response(JSON.stringify(errorBody(error)), {
    status: error.status,
    headers: { "Content-Type": "application/json; charset=utf-8" },
  });

/** partyserver's kebab-casing of binding names (routePartykitRequest): `Main` → `main`. */
const partyOf = (binding: string) =>
  binding === binding.toUpperCase() ? binding.toLowerCase().replace(/_/g, "-") : binding.replace(/[A-Z]/g, (letter, at) => (at ? "-" : "") + letter.toLowerCase()).replace(/_/g, "-");

/** Routes `/parties/:party/:room` to its room, through the gate (tokens and roles, off by default). */
export const routeRoomRequest = async (request: Request, env: Env): Promise<Response> => {
  const party = new URL(request.url).pathname.match(/^\/parties\/([^/]+)\//)?.[1];
  const parties = Object.keys(env).filter((name) => typeof (env[name] as { idFromName?: unknown } | undefined)?.idFromName === "function").map(partyOf);
  if (party !== undefined && !parties.includes(party)) return jsonError(new RoomError("not_found", `No party ${JSON.stringify(party)} here.`));
  const check = (req: Request, lobby: Lobby) => gate(req, env, roomName(lobby.name));
  return (
    (await routePartykitRequest(request, env as never, { onBeforeConnect: check, onBeforeRequest: check })) ??
    jsonError(new RoomError("not_found", "Rooms live at /parties/main/:room."))
  );
};

export default {
  fetch: routeRoomRequest,
} satisfies ExportedHandler<Env>;
