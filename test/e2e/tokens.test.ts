// Signed tokens that end, under both dev servers (one each, with AUTH_SECRET): the client library
// refreshes a token function's tokens before they expire, so its socket stays open and its writes
// go on, and its SSE tail reopens with a fresh token; an SSE stream ends at `exp` with an error
// record; a `/sync` socket is closed with 4001. Tokens expire a few seconds out; the tests wait
// for conditions (the clock past `exp`, a close), never for fixed times. (Under wrangler dev the
// client sees the close 10 s after the room's Close frame, which comes at `exp`: workerd ends
// the TCP connection of a hibernatable socket that late.)
import { EventSource } from "eventsource";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connectRoom, tailEvents, type Room, type RoomEvent } from "../../client/index.ts";
import { tokenExpiryMs } from "../../client/token.ts";
import { signToken, type Role } from "../../party/core/room/auth.ts";
import { CLOSE_TOKEN_EXPIRED, TOKEN_EXPIRED_REASON } from "../../party/protocol.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

const SECRET = "e2e-token-secret";
/** How long the tokens last: long enough to connect and write once on a loaded machine. */
const TOKEN_LIFETIME_MS = 4_000;
/** Past a token's `exp` by this much, the room has had its alarm (or a frame has found it expired). */
const PAST_EXPIRY_MS = 1_500;
const KINDS = ["wrangler", "partykit"] as const;
const FAST_RECONNECT = { minReconnectionDelay: 50, maxReconnectionDelay: 500, connectionTimeout: 2_000 };

const servers: Partial<Record<(typeof KINDS)[number], RunningServer>> = {};
const rooms: Room[] = [];
const sockets: WebSocket[] = [];

beforeAll(async () => {
  await Promise.all(KINDS.map(async (kind) => (servers[kind] = await startServer({ kind, vars: { AUTH_SECRET: SECRET } }))));
});
afterAll(async () => {
  rooms.forEach((room) => room.close());
  sockets.forEach((socket) => socket.terminate());
  await Promise.all(Object.values(servers).map((server) => server?.stop()));
});

const issue = (room: string, role: Role = "write") => signToken(SECRET, { room, role, exp: (Date.now() + TOKEN_LIFETIME_MS) / 1000 });
const pastExpiryOf = (token: string) =>
  waitFor(() => Date.now(), (now) => now > tokenExpiryMs(token)! + PAST_EXPIRY_MS, { what: "the token's exp to pass" });

describe.each(KINDS)("tokens that end under %s", (kind) => {
  const server = () => servers[kind]!;

  describe.concurrent("", () => {
    it("the client library refreshes a token function before exp: the socket stays open, writes and the SSE tail go on", async () => {
      const room = `refresh-${kind}`;
      const issued: string[] = [];
      const token = async () => {
        issued.push(await issue(room));
        return issued.at(-1)!;
      };
      const client = connectRoom({ host: server().host, room, token, ...FAST_RECONNECT });
      rooms.push(client);
      let closes = 0;
      client.socket.addEventListener("close", () => closes++);
      // The room's answers to the auth frames: an `ok` with neither seq nor seqs.
      let refreshed = 0;
      client.onMessage((message) => void (message.t === "ok" && message.seq === undefined && message.seqs === undefined && refreshed++));
      const tailed: RoomEvent[] = [];
      const errors: Error[] = [];
      const tail = tailEvents({ ...client.http, EventSource, onError: (error) => errors.push(error) }, { types: ["before", "after"] }, (event) => tailed.push(event));

      expect(await client.append([{ type: "before" }])).toEqual([1]);
      await pastExpiryOf(issued[0]);
      expect(await client.append([{ type: "after" }])).toEqual([2]);
      await waitFor(() => tailed.map((event) => event.type), (types) => types.includes("after"), { what: "the tail to see the later event" });
      tail.close();
      expect([closes, errors, tailed.map((event) => event.seq)]).toEqual([0, [], [1, 2]]);
      expect(refreshed).toBeGreaterThanOrEqual(1);
      // The socket's token, the tail's and one refresh at least.
      expect(issued.length).toBeGreaterThanOrEqual(3);
    });

    it("an SSE stream ends at exp after an error record", async () => {
      const room = `sse-${kind}`;
      const token = await issue(room, "read");
      const response = await fetch(`${server().origin}/parties/main/${room}/events?token=${encodeURIComponent(token)}`, { headers: { Accept: "text/event-stream" } });
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toContain("event: caught-up");
      expect(text.trimEnd().endsWith(`event: error\ndata: {"error":{"code":"unauthorized","message":"${TOKEN_EXPIRED_REASON}"}}`)).toBe(true);
    });

    it("a /sync socket is closed with 4001 at exp", async () => {
      const room = `sync-${kind}`;
      const socket = new WebSocket(`ws://${server().host}/parties/main/${room}/sync?token=${encodeURIComponent(await issue(room))}`);
      sockets.push(socket);
      const closed = new Promise<[number, string]>((resolve) => socket.on("close", (code, reason) => resolve([code, String(reason)])));
      expect(await closed).toEqual([CLOSE_TOKEN_EXPIRED, TOKEN_EXPIRED_REASON]);
    });
  });
});
