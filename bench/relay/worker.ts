// Baseline for `npm run bench`: relays each WebSocket frame to every other
// connection of the room. No storage, no validation: the cost of the runtime alone.
import { routePartykitRequest, Server } from "partyserver";
import type { Connection, WSMessage } from "partyserver";
import { createStreamFloor } from "./streams.ts";

// Must match the roomstore room's default so that the baseline pays the same
// connection strategy (partyserver's hibernating vs in-memory connections).
// roomstore's room hibernates by default (party/worker.ts); change both together.
const HIBERNATE = true;

export class Relay extends Server {
  static override options = { hibernate: HIBERNATE };
  /** The Durable Streams scenario's floor (streams.ts), in memory. */
  readonly #streams = createStreamFloor(this.ctx.storage);

  override onMessage(connection: Connection, message: WSMessage): void {
    this.broadcast(message, [connection.id]);
  }

  override onRequest(request: Request): Response | Promise<Response> {
    // Answers GET /store like a room with no store yet, so that the harness can
    // treat every target the same way; the relay keeps nothing.
    return this.#streams(request) ?? new Response("", { status: 200 });
  }
}

export default {
  async fetch(request: Request, env: Record<string, unknown>): Promise<Response> {
    return (await routePartykitRequest(request, env as never)) ?? new Response("Not found", { status: 404 });
  },
} satisfies ExportedHandler<Record<string, unknown>>;
