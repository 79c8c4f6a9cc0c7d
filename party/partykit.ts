// roomstore under PartyKit (`npx partykit dev`): the same room behind PartyKit's `Party.Server`
// (adapters/host.ts). Rooms are at `/parties/main/:room`, PartyKit's default party.
import type * as Party from "partykit/server";
import type { KeyValueStorage } from "./adapters/durable-storage.ts";
import { createRoomHost } from "./adapters/host.ts";
import { admitListing, DIRECTORY_SEGMENT, listedParty, recordedName, type Room as RoomApi, type RoomConfigInput, type RoomHooks } from "./core/index.ts";
import { partykitIdentity, partykitListing, partykitReportSender, rememberParties } from "./adapters/directory-link.ts";
import { errorResponse } from "./core/room/http.ts";
import { gate, notARoomPath } from "./gate.ts";
import { CLOSE_NORMAL, PARTY_NAME, parseRoomPath, roomName } from "./protocol.ts";

export default class Room implements Party.Server {
  /** Same default as on Workers: see docs/operations.md#hibernation-and-liveroom. */
  static options: Party.ServerOptions = { hibernate: true };

  /** Config in code; wins over partykit.json `vars`. */
  config: RoomConfigInput = {};

  readonly party: Party.Room;
  readonly #host = createRoomHost(() => ({
    storage: this.party.storage as unknown as KeyValueStorage & Party.Storage,
    env: this.party.env,
    config: this.config,
    hooks: this,
    connections: () => this.party.getConnections(),
    identify: async (storage, config) => {
      const { segment, name } = await partykitIdentity(this.party, () => recordedName(storage, config.storagePrefix));
      return segment === DIRECTORY_SEGMENT ? { directory: true } : { room: name ?? roomName(segment!) };
    },
    links: () => ({ sendReport: partykitReportSender(this.party.name, () => this.party.context.parties) }),
  }));

  constructor(party: Party.Room) {
    this.party = party;
  }

  get room(): RoomApi {
    return this.#host.room;
  }

  /**
   * Never throws: PartyKit 0.0.115 would answer the request with the error's message and never
   * call onStart again (see adapters/starter.ts).
   */
  async onStart(): Promise<void> {
    await this.#host.start();
  }

  onRequest(request: Party.Request): Promise<Response> {
    return this.#host.request(request as unknown as Request);
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
    if (party === undefined || !Object.hasOwn(lobby.parties, party)) return errorResponse(notARoomPath());
    const directory = partykitListing(lobby.parties, party);
    const admitted = await admitListing(request as unknown as Request, lobby.env, directory.url);
    return admitted instanceof Response ? admitted : directory.send(admitted);
  }

  async onConnect(connection: Party.Connection, context: Party.ConnectionContext): Promise<void> {
    const request = context.request as unknown as Request;
    if (!this.#host.connect(connection, request)) return;
    // PartyKit answers the upgrade once this resolves: a synchronizer client, whose requests time
    // out after 1 s, then finds the room's stamps and MergeableStore ready. A failure here is met
    // again, and answered, by the socket's first message.
    await this.room.prepareSocket(request).catch(() => undefined);
  }

  onMessage(message: string | ArrayBuffer | ArrayBufferView, sender: Party.Connection): Promise<void> {
    return this.#host.message(sender, message);
  }

  /**
   * PartyKit 0.0.115 neither answers a client's Close frame nor tells the room its code, so a
   * client that closed waits for its own timeout (a Node `ws` client never exits). RFC 6455
   * (5.5.1) wants a Close back: send a normal one. It may fail if the client is already gone.
   */
  onClose(connection: Party.Connection): void {
    this.#host.close(connection);
    try {
      connection.close(CLOSE_NORMAL);
    } catch {
      // Already closed.
    }
  }

  onError(connection: Party.Connection): void {
    this.#host.close(connection);
  }

  /** A failed start-up throws here, so that the runtime retries the alarm. */
  onAlarm(): Promise<void> {
    return this.#host.alarm();
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
  const path = parseRoomPath(url.pathname);
  if (!path || path.segment === lobby.id) return admitted;
  return lobby.parties[PARTY_NAME].get(path.segment).fetch((path.rest || "/") + url.search, admitted);
};
