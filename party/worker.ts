// Placeholder entry, replaced by the room adapter.
import { Server, routePartykitRequest } from "partyserver";

export class Room extends Server {
  static override options = { hibernate: true };
  override onRequest(request: Request): Response {
    return new Response(new URL(request.url).pathname.endsWith("/store") ? "" : "not found", { status: 200 });
  }
  override onMessage(connection: import("partyserver").Connection, message: string | ArrayBuffer | ArrayBufferView): void {
    this.broadcast(message as string, [connection.id]);
  }
}

export default {
  async fetch(request: Request, env: Record<string, unknown>): Promise<Response> {
    return (await routePartykitRequest(request, env as never)) ?? new Response("Not found", { status: 404 });
  },
};
