// roomstore under PartyKit (`npx partykit dev`): the same room core behind PartyKit's
// `Party.Server`. Rooms are at `/parties/main/:room`, PartyKit's default party.
import type * as Party from "partykit/server";
import { createDurableStorage, type KeyValueStorage } from "./adapters/durable-storage.ts";
import { gate } from "./gate.ts";
import { roomName } from "./protocol.ts";
import { createAlarmScheduler, createRoom, resolveConfig, type Room as RoomApi, type RoomConfigInput, type RoomHooks } from "./core/index.ts";

export default class Room implements Party.Server {
  /** Same default as on Workers: see README, "Hibernation". */
  static options: Party.ServerOptions = { hibernate: true };

  /** Config in code; wins over partykit.json `vars`. */
  config: RoomConfigInput = {};

  readonly party: Party.Room;
  #room: RoomApi | undefined;

  constructor(party: Party.Room) {
    this.party = party;
  }

  get room(): RoomApi {
    if (!this.#room) throw new Error("The room is used before onStart.");
    return this.#room;
  }

  async onStart(): Promise<void> {
    const room = createRoom({
      name: roomName(this.party.id),
      storage: createDurableStorage(this.party.storage as unknown as KeyValueStorage),
      config: resolveConfig(this.party.env, this.config),
      hooks: this,
      connections: () => this.party.getConnections(),
      logger: console,
      scheduleAlarm: createAlarmScheduler(this.party.storage),
    });
    await room.load();
    this.#room = room;
  }

  onRequest(request: Party.Request): Promise<Response> {
    return this.room.handleRequest(request as unknown as Request);
  }

  /** The gate, run by PartyKit before a socket or request reaches the room. */
  static onBeforeConnect(request: Party.Request, lobby: Party.Lobby): Promise<Request | Response> {
    return gate(request as unknown as Request, lobby.env, roomName(lobby.id));
  }

  static onBeforeRequest(request: Party.Request, lobby: Party.Lobby): Promise<Request | Response> {
    return gate(request as unknown as Request, lobby.env, roomName(lobby.id));
  }

  onConnect(connection: Party.Connection, context: Party.ConnectionContext): void {
    this.room.handleConnect(connection, context.request as unknown as Request);
  }

  onMessage(message: string | ArrayBuffer | ArrayBufferView, sender: Party.Connection): Promise<void> {
    return this.room.handleMessage(sender, message);
  }

  onClose(connection: Party.Connection): void {
    this.room.handleClose(connection);
  }

  onError(connection: Party.Connection): void {
    this.room.handleClose(connection);
  }

  onAlarm(): Promise<void> {
    return this.room.handleAlarm();
  }
}

// The permission hooks are optional methods: a subclass defines the ones it needs.
export default interface Room extends RoomHooks {}
