// Baseline for `npm run bench`: relays each WebSocket frame to every other
// connection of the room. No validation: the cost of the runtime alone.
import { routePartykitRequest, Server } from "partyserver";
import type { Connection, WSMessage } from "partyserver";
import { createStoreFloor } from "./store.ts";
import { createStreamFloor } from "./streams.ts";

// Must match the roomstore room's default so that the baseline pays the same
// connection strategy (partyserver's hibernating vs in-memory connections).
// roomstore's room hibernates by default (party/worker.ts); change both together.
const HIBERNATE = true;

export class Relay extends Server {
  static override options = { hibernate: HIBERNATE };
  /** The Durable Streams scenario's floor (streams.ts), in memory. */
  readonly #streams = createStreamFloor(this.ctx.storage);
  /** The snapshot scenario's floor (store.ts): a PUT body kept as text, answered to GETs. */
  readonly #store = createStoreFloor(this.ctx.storage);

  override onMessage(connection: Connection, message: WSMessage): void {
    this.broadcast(message, [connection.id]);
  }

  override onRequest(request: Request): Response | Promise<Response> {
    // A room that was never PUT answers GET /store like a room with no store yet (an empty
    // body), so that the harness can treat every target the same way.
    return this.#streams(request) ?? this.#store(request) ?? new Response("", { status: 200 });
  }
}

export default {
  async fetch(request: Request, env: Record<string, unknown>): Promise<Response> {
    return (await routePartykitRequest(request, env as never)) ?? new Response("Not found", { status: 404 });
  },
} satisfies ExportedHandler<Record<string, unknown>>;
