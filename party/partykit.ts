// Placeholder entry, replaced by the room adapter.
import type * as Party from "partykit/server";

export default class Room implements Party.Server {
  constructor(readonly room: Party.Room) {}
  onRequest(request: Party.Request): Response {
    return new Response(new URL(request.url).pathname.endsWith("/store") ? "" : "not found", { status: 200 });
  }
  onMessage(message: string, sender: Party.Connection): void {
    this.room.broadcast(message, [sender.id]);
  }
}
