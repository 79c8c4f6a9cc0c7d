// roomstore under PartyKit (`npx partykit dev`): the same room core behind PartyKit's
// `Party.Server`. Rooms are at `/parties/main/:room`, PartyKit's default party.
import type * as Party from "partykit/server";
import { createDurableStorage, type KeyValueStorage } from "./adapters/durable-storage.ts";
import { createStarter } from "./adapters/starter.ts";
import { RoomError } from "./core/common/errors.ts";
import { discardBody, errorResponse, MAX_DRAINED_BODY_BYTES } from "./core/room/http.ts";
import { admitListing, createAlarmScheduler, createDirectoryRoom, createRoom, DIRECTORY_SEGMENT, listedParty, recordedName, resolveConfig, type Room as RoomApi, type RoomConfigInput, type RoomHooks } from "./core/index.ts";
import { partykitIdentity, partykitListing, partykitReportSender, rememberParties } from "./adapters/directory-link.ts";
import { gate } from "./gate.ts";
import { CLOSE_INTERNAL, CLOSE_NORMAL, PARTY_NAME, roomName } from "./protocol.ts";

export default class Room implements Party.Server {
  /** Same default as on Workers: see docs/operations.md#hibernation-and-liveroom. */
  static options: Party.ServerOptions = { hibernate: true };

  /** Config in code; wins over partykit.json `vars`. */
  config: RoomConfigInput = {};

  readonly party: Party.Room;
  readonly #starter = createStarter(() => this.#start(), (error) => console.error("roomstore: the room could not start", error));

  constructor(party: Party.Room) {
    this.party = party;
  }

  get room(): RoomApi {
    const room = this.#starter.current;
    if (!room) throw new Error("The room is used before onStart.");
    return room;
  }

  /**
   * Never throws: PartyKit 0.0.115 would answer the request with the error's message and never
   * call onStart again (see starter.ts).
   */
  async onStart(): Promise<void> {
    await this.#starter.ready().catch(() => undefined);
  }

  async #start(): Promise<RoomApi> {
    const storage = createDurableStorage(this.party.storage as unknown as KeyValueStorage);
    const config = resolveConfig(this.party.env, this.config);
    const { segment, name } = await partykitIdentity(this.party, () => recordedName(storage, config.storagePrefix));
    // The party's directory of rooms lives in an object of this class that no URL reaches (core/directory/).
    if (segment === DIRECTORY_SEGMENT) return createDirectoryRoom({ storage, config, logger: console });
    const room = createRoom(
      {
        name: name ?? roomName(segment!),
        storage,
        config,
        hooks: this,
        connections: () => this.party.getConnections(),
        logger: console,
        scheduleAlarm: createAlarmScheduler(this.party.storage),
      },
      { sendReport: partykitReportSender(this.party.name, () => this.party.context.parties) },
    );
    await room.load();
    return room;
  }

  async onRequest(request: Party.Request): Promise<Response> {
    try {
      return await (await this.#starter.ready()).handleRequest(request as unknown as Request);
    } catch (error) {
      await discardBody(request as unknown as Request, MAX_DRAINED_BODY_BYTES);
      return errorResponse(error);
    }
  }

  /** The gate, run by PartyKit before a socket or request reaches the room. */
  static onBeforeConnect(request: Party.Request, lobby: Party.Lobby): Promise<Request | Response> {
    rememberParties(lobby.parties);
    return admit(request as unknown as Request, lobby);
  }

  static onBeforeRequest(request: Party.Request, lobby: Party.Lobby): Promise<Request | Response> {
    rememberParties(lobby.parties);
    return admit(request as unknown as Request, lobby);
  }

  /**
   * Every path that is not a room's: `GET /parties/:party` lists the party's rooms (its directory,
   * core/directory/); anything else is a JSON 404, where PartyKit would answer a plain-text one.
   */
  static async onFetch(request: Party.Request, lobby: Party.FetchLobby): Promise<Response> {
    rememberParties(lobby.parties);
    const party = listedParty(new URL(request.url).pathname);
    if (party === undefined || !Object.hasOwn(lobby.parties, party)) return errorResponse(new RoomError("not_found", "Rooms live at /parties/main/:room."));
    const directory = partykitListing(lobby.parties, party);
    const admitted = await admitListing(request as unknown as Request, lobby.env, directory.url);
    return admitted instanceof Response ? admitted : directory.send(admitted);
  }

  async onConnect(connection: Party.Connection, context: Party.ConnectionContext): Promise<void> {
    const room = this.#starter.current;
    if (!room) return connection.close(CLOSE_INTERNAL, "The room could not start.");
    const request = context.request as unknown as Request;
    room.handleConnect(connection, request);
    // PartyKit answers the upgrade once this resolves: a synchronizer client, whose requests time
    // out after 1 s, then finds the room's stamps and MergeableStore ready. A failure here is met
    // again, and answered, by the socket's first message.
    await room.prepareSocket(request).catch(() => undefined);
  }

  async onMessage(message: string | ArrayBuffer | ArrayBufferView, sender: Party.Connection): Promise<void> {
    const room = await this.#starter.ready().catch(() => undefined);
    if (room) await room.handleMessage(sender, message);
    else sender.close(CLOSE_INTERNAL, "The room could not start.");
  }

  /**
   * PartyKit 0.0.115 neither answers a client's Close frame nor tells the room its code, so a
   * client that closed waits for its own timeout (a Node `ws` client never exits). RFC 6455
   * (5.5.1) wants a Close back: send a normal one. It may fail if the client is already gone.
   */
  onClose(connection: Party.Connection): void {
    this.#starter.current?.handleClose(connection);
    try {
      connection.close(CLOSE_NORMAL);
    } catch {
      // Already closed.
    }
  }

  onError(connection: Party.Connection): void {
    this.#starter.current?.handleClose(connection);
  }

  /** A failed start-up throws here, so that the runtime retries the alarm. */
  async onAlarm(): Promise<void> {
    await (await this.#starter.ready()).handleAlarm();
  }
}

// The permission hooks are optional methods: a subclass defines the ones it needs.
export default interface Room extends RoomHooks {}

/**
 * The gate, then one room per name: PartyKit picks a room's object by the URL segment as it
 * came, before any hook runs, so a request that spells its room's name otherwise than
 * canonically is forwarded, at the canonical URL, to the canonical room's object and answered
 * from there (a socket's 101 included).
 */
const admit = async (request: Request, lobby: Party.Lobby): Promise<Request | Response> => {
  const admitted = await gate(request, lobby.env, lobby.id);
  if (admitted instanceof Response) return admitted;
  const url = new URL(admitted.url);
  const parts = url.pathname.split("/");
  const at = parts[1] === "party" ? 2 : 3;
  if (parts[at] === lobby.id) return admitted;
  const rest = "/" + parts.slice(at + 1).join("/");
  return lobby.parties[PARTY_NAME].get(parts[at]).fetch(rest + url.search, admitted);
};
