// Tokens, roles, origins and limits against a real `wrangler dev`, configured by variables only: who gets in
// (401 without a token, 403 with a wrong one, sockets that never open), what a read token may do
// (load, follow; its writes refused and rolled back), signed tokens bound to one room, and limits
// (a frame over MAX_FRAME_BYTES closes with 1009, a socket past MAX_CONNECTIONS with 1013) that
// never let anything through half written.
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../party/core/room/auth.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { connectTinyBase, type TinyBaseClient } from "../support/tinybase-client.ts";
import { listen } from "../support/sse.ts";
import { waitFor } from "../support/wait.ts";

const WRITE = "write-secret";
const READ = "read-secret";
const SECRET = "hmac-secret";
const ALLOWED_ORIGIN = "https://app.example";
/** A close that takes longer than this leaves a refused client believing it is connected. */
const PROMPT_CLOSE_MS = 2_000;
const OUTCOME_TIMEOUT_MS = 15_000;

interface Outcome {
  socket?: WebSocket;
  /** "open", "http <status>", or "error". */
  outcome: string;
}

/** Opens a socket and reports how the attempt ended; every socket opened is kept for cleanup. */
const sockets: WebSocket[] = [];
const tryOpen = (url: string) =>
  new Promise<Outcome>((resolve) => {
    const socket = new WebSocket(url);
    sockets.push(socket);
    socket.on("open", () => resolve({ socket, outcome: "open" }));
    socket.on("unexpected-response", (_request, response) => {
      resolve({ outcome: `http ${response.statusCode}` });
      response.resume();
    });
    socket.on("error", () => resolve({ outcome: "error" }));
  });

/** Resolves with the close code and when it came, or "none" if the socket is still open after `ms`. */
const closeOf = (socket: WebSocket, ms = OUTCOME_TIMEOUT_MS) => {
  const started = Date.now();
  return new Promise<{ code: number | "none"; afterMs: number }>((resolve) => {
    const timer = setTimeout(() => resolve({ code: "none", afterMs: Date.now() - started }), ms);
    socket.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, afterMs: Date.now() - started });
    });
  });
};

/** The x messages a socket receives, parsed, but for presence (its hello on open). */
const messagesOf = (socket: WebSocket) => {
  const messages: any[] = [];
  socket.on("message", (data) => {
    const frame = String(data);
    const message = frame.startsWith("x") ? JSON.parse(frame.slice(1)) : undefined;
    if (message && message.t !== "presence") messages.push(message);
  });
  return messages;
};

afterAll(() => sockets.forEach((socket) => socket.terminate()));

describe("auth under wrangler dev", () => {
  let server: RunningServer;
  const clients: TinyBaseClient[] = [];
  const at = (room: string, path: string, query = "") => `${server.origin}/parties/main/${room}${path}${query}`;
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const storeOf = async (room: string) => (await fetch(at(room, "/store"), { headers: bearer(READ) })).text();
  const headOf = async (room: string) => ((await (await fetch(at(room, "/events"), { headers: bearer(READ) })).json()) as { head: number }).head;

  beforeAll(async () => {
    server = await startServer({
      kind: "wrangler",
      vars: { AUTH_WRITE_TOKEN: WRITE, AUTH_READ_TOKEN: READ, AUTH_SECRET: SECRET, ALLOWED_ORIGINS: ALLOWED_ORIGIN },
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server?.stop();
  });

  it.each([
    ["GET", "/store", undefined],
    ["PUT", "/store", "[{},{}]"],
    ["GET", "/events", undefined],
    ["POST", "/events", '{"type":"a"}'],
    ["GET", "/events/history", undefined],
  ])("answers %s %s with 401 without a token and 403 with a wrong one, and changes nothing", async (method, path, body) => {
    const none = await fetch(at("locked", path), { method, body });
    expect([none.status, ((await none.json()) as any).error.code]).toEqual([401, "unauthorized"]);
    const wrongBearer = await fetch(at("locked", path), { method, body, headers: bearer("nope") });
    expect([wrongBearer.status, ((await wrongBearer.json()) as any).error.code]).toEqual([403, "forbidden"]);
    const wrongQuery = await fetch(at("locked", path, "?token=nope"), { method, body });
    expect(wrongQuery.status).toBe(403);
    expect([await storeOf("locked"), await headOf("locked")]).toEqual(["", 0]);
  });

  it("never opens a socket without a good token, and lets CORS preflights through", async () => {
    expect((await tryOpen(`ws://${server.host}/parties/main/locked`)).outcome).toBe("http 401");
    expect((await tryOpen(`ws://${server.host}/parties/main/locked?token=nope`)).outcome).toBe("http 403");
    const preflight = await fetch(at("locked", "/store"), { method: "OPTIONS", headers: { Origin: "https://app.example", "Access-Control-Request-Method": "PUT" } });
    expect(preflight.status).toBe(204);
  });

  it("lets an EventSource read events with ?token=, as a browser must (it cannot send headers)", async () => {
    expect((await fetch(at("sse", "/events"), { method: "POST", body: '{"type":"a"}', headers: bearer(WRITE) })).status).toBe(201);
    const listener = listen(at("sse", "/events", `?token=${READ}&until=caught-up`), ["a"]);
    try {
      await waitFor(() => listener.received.map((record) => record.type), (types) => types.includes("caught-up"), { what: "the caught-up marker" });
      expect(listener.seqs()).toEqual([1]);
    } finally {
      listener.close();
    }
  });

  it("refuses writes, reads and sockets from an origin not in ALLOWED_ORIGINS with 403, whatever the token", async () => {
    const foreign = { Origin: "https://elsewhere.example" };
    for (const [method, body] of [["PUT", "[{},{}]"], ["GET", undefined]]) {
      const answer = await fetch(at("origins", "/store"), { method, body, headers: { ...bearer(WRITE), ...foreign } });
      expect([answer.status, ((await answer.json()) as any).error.code]).toEqual([403, "forbidden"]);
    }
    const socket = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://${server.host}/parties/main/origins?token=${WRITE}`, { origin: foreign.Origin });
      sockets.push(ws);
      ws.on("open", () => resolve("open"));
      ws.on("unexpected-response", (_request, response) => {
        resolve(`http ${response.statusCode}`);
        response.resume();
      });
      ws.on("error", () => resolve("error"));
    });
    expect(socket).toBe("http 403");
    const allowed = await fetch(at("origins", "/store"), { method: "PUT", body: "[{},{}]", headers: { ...bearer(WRITE), Origin: ALLOWED_ORIGIN } });
    expect(allowed.status).toBe(201);
  });

  it("lets a write token write: as a bearer, as ?token=, and through a TinyBase client's PartySocket query", async () => {
    expect((await fetch(at("open", "/store"), { method: "PUT", body: "[{},{}]", headers: bearer(WRITE) })).status).toBe(201);
    expect((await fetch(at("open", "/events", `?token=${WRITE}`), { method: "POST", body: '{"type":"a"}' })).status).toBe(201);
    const writer = await connectTinyBase(server.host, "open", { query: { token: WRITE } });
    clients.push(writer);
    writer.store.setCell("pets", "fido", "species", "dog");
    await waitFor(() => storeOf("open"), (text) => text === '[{"pets":{"fido":{"species":"dog"}}},{}]', { what: "the writer's cell in the room" });
  });

  it("does not let a client choose its role: a read token with a role header still may not write", async () => {
    const put = await fetch(at("roles", "/store"), { method: "PUT", body: "[{},{}]", headers: { ...bearer(READ), "X-Roomstore-Role": "write" } });
    expect(put.status).toBe(403);
    expect(await storeOf("roles")).toBe("");
  });

  it("gives a read token the store and live changes, refuses its writes, and rolls them back", async () => {
    await fetch(at("readers", "/store"), { method: "PUT", body: JSON.stringify([{ t: { r: { n: 1 } } }, { v: "a" }]), headers: bearer(WRITE) });
    expect((await fetch(at("readers", "/store"), { method: "PUT", body: "[{},{}]", headers: { ...bearer(READ), "If-Match": '"1"' } })).status).toBe(403);
    expect((await fetch(at("readers", "/events"), { method: "POST", body: '{"type":"a"}', headers: bearer(READ) })).status).toBe(403);
    expect((await fetch(at("readers", "/events"), { headers: bearer(READ) })).status).toBe(200);
    const writer = await connectTinyBase(server.host, "readers", { query: { token: WRITE } });
    const reader = await connectTinyBase(server.host, "readers", { query: { token: READ } });
    clients.push(writer, reader);
    expect(reader.store.getContent()).toEqual([{ t: { r: { n: 1 } } }, { v: "a" }]);

    writer.store.setCell("t", "r", "n", 2);
    await waitFor(() => reader.store.getCell("t", "r", "n"), (n) => n === 2, { what: "the reader to get the writer's change" });
    const head = await headOf("readers");

    reader.store.transaction(() => {
      reader.store.setCell("t", "r", "n", 99);
      reader.store.setCell("t", "new", "x", 1);
      reader.store.delValue("v");
    });
    await waitFor(() => reader.store.getContent(), (content) => JSON.stringify(content) === '[{"t":{"r":{"n":2}}},{"v":"a"}]', { what: "the reader's writes to be rolled back" });
    expect(await storeOf("readers")).toBe('[{"t":{"r":{"n":2}}},{"v":"a"}]');
    expect(await headOf("readers")).toBe(head);
    expect(writer.store.getContent()).toEqual([{ t: { r: { n: 2 } } }, { v: "a" }]);

    // A raw reader socket is told why.
    const { socket } = await tryOpen(`ws://${server.host}/parties/main/readers?token=${READ}`);
    const messages = messagesOf(socket!);
    socket!.send('x{"t":"changes","mid":"m1","changes":[{"t":{"r":{"n":5}}},{},1]}');
    socket!.send('x{"t":"append","mid":"m2","events":[{"type":"a"}]}');
    await waitFor(() => messages.length, (count) => count >= 2, { what: "answers to the reader's writes" });
    expect(messages.map((message) => [message.t, message.mid, message.error?.code])).toEqual([
      ["nack", "m1", "forbidden"],
      ["nack", "m2", "forbidden"],
    ]);
    expect(await headOf("readers")).toBe(head);
  });

  it("opens a signed token's own room only, in its role, until it expires", async () => {
    const now = Math.floor(Date.now() / 1000);
    const write = await signToken(SECRET, { room: "signed", role: "write", exp: now + 60 });
    expect((await fetch(at("signed", "/store"), { method: "PUT", body: "[{},{}]", headers: bearer(write) })).status).toBe(201);
    expect((await tryOpen(`ws://${server.host}/parties/main/signed?token=${write}`)).outcome).toBe("open");
    expect((await fetch(at("other", "/store"), { headers: bearer(write) })).status).toBe(403);
    expect((await tryOpen(`ws://${server.host}/parties/main/other?token=${write}`)).outcome).toBe("http 403");

    const read = await signToken(SECRET, { room: "signed", role: "read", exp: now + 60 });
    expect((await fetch(at("signed", "/store"), { headers: bearer(read) })).status).toBe(200);
    expect((await fetch(at("signed", "/events"), { method: "POST", body: '{"type":"a"}', headers: bearer(read) })).status).toBe(403);

    const expired = await signToken(SECRET, { room: "signed", role: "write", exp: now - 1 });
    expect((await fetch(at("signed", "/store"), { headers: bearer(expired) })).status).toBe(401);
    expect((await tryOpen(`ws://${server.host}/parties/main/signed?token=${encodeURIComponent(expired)}`)).outcome).toBe("http 401");
    const forged = write.slice(0, -2) + (write.endsWith("A") ? "BB" : "AA");
    const otherSecret = await signToken("not-the-secret", { room: "signed", role: "write", exp: now + 60 });
    for (const token of [forged, otherSecret]) {
      expect((await fetch(at("signed", "/store"), { headers: bearer(token) })).status).toBe(403);
      expect((await tryOpen(`ws://${server.host}/parties/main/signed?token=${encodeURIComponent(token)}`)).outcome).toBe("http 403");
    }
    const anyRoom = await signToken(SECRET, { room: "*", role: "read", exp: now + 60 });
    expect((await fetch(at("elsewhere", "/store"), { headers: bearer(anyRoom) })).status).toBe(200);
  });
});

describe("limits under wrangler dev", () => {
  const MAX_FRAME_BYTES = 2_048;
  const MAX_CONNECTIONS = 5;
  let server: RunningServer;
  const storeOf = async (party: string, room: string) => (await fetch(`${server.origin}/parties/${party}/${room}/store`)).text();
  const headOf = async (party: string, room: string) => ((await (await fetch(`${server.origin}/parties/${party}/${room}/events`)).json()) as { head: number }).head;

  beforeAll(async () => {
    server = await startServer({ kind: "wrangler", vars: { MAX_FRAME_BYTES: String(MAX_FRAME_BYTES), MAX_CONNECTIONS: String(MAX_CONNECTIONS) } });
  });
  afterAll(async () => server?.stop());

  it("applies a frame at the size limit, and closes a socket whose frame is over it with 1009, applying nothing", async () => {
    await fetch(`${server.origin}/parties/main/big/store`, { method: "PUT", body: "[{},{}]" });
    const { socket: watcher } = await tryOpen(`ws://${server.host}/parties/main/big`);
    const seen: string[] = [];
    watcher!.on("message", (data) => seen.push(String(data)));
    const { socket } = await tryOpen(`ws://${server.host}/parties/main/big`);
    const frameOf = (text: string) => "s" + JSON.stringify([{ t: { r: { c: text } } }, {}, 1]);
    const overhead = frameOf("").length;
    socket!.send(frameOf("a".repeat(MAX_FRAME_BYTES - overhead)));
    await waitFor(() => storeOf("main", "big"), (text) => text.includes('"aaa'), { what: "the frame at the limit to be applied" });
    const head = await headOf("main", "big");
    const closed = closeOf(socket!);
    socket!.send(frameOf("b".repeat(MAX_FRAME_BYTES - overhead + 1)));
    expect((await closed).code).toBe(1009);
    expect(await storeOf("main", "big")).not.toContain('"bbb');
    expect(await headOf("main", "big")).toBe(head);
    expect(seen.some((frame) => frame.includes('"bbb'))).toBe(false);
  });

  it.each([["main"], ["live"]])("closes the socket one past the connection limit of /parties/%s with 1013, promptly, and applies nothing it sent", async (party) => {
    const room = `full-${party}`;
    await fetch(`${server.origin}/parties/${party}/${room}/store`, { method: "PUT", body: "[{},{}]" });
    const admitted: WebSocket[] = [];
    for (let i = 0; i < MAX_CONNECTIONS; i++) {
      const { socket, outcome } = await tryOpen(`ws://${server.host}/parties/${party}/${room}`);
      expect(outcome).toBe("open");
      admitted.push(socket!);
    }
    const { socket: extra } = await tryOpen(`ws://${server.host}/parties/${party}/${room}`);
    const closed = closeOf(extra!);
    // A client that saw `open` writes at once, as TinyBase's persister does.
    extra!.send('s[{"t":{"r":{"c":"from the socket past the limit"}}},{},1]');
    extra!.send('x{"t":"append","mid":"m1","events":[{"type":"sneaked"}]}');
    const { code, afterMs } = await closed;
    // Nothing can be waited for: this checks that what was sent never lands, so it gives it time to.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect.soft({ store: await storeOf(party, room), head: await headOf(party, room) }, "what the socket past the limit sent").toEqual({ store: "[{},{}]", head: 1 });
    expect.soft({ code, prompt: afterMs < PROMPT_CLOSE_MS }, `closed after ${afterMs} ms`).toEqual({ code: 1013, prompt: true });

    // A place freed by a socket that leaves goes to the next one, which may write.
    const left = closeOf(admitted[0]);
    admitted[0].close(1000, "leaving"); // with a code: see faults.test.ts for a close without one
    expect((await left).code).toBe(1000);
    const { socket: next } = await tryOpen(`ws://${server.host}/parties/${party}/${room}`);
    const messages = messagesOf(next!);
    next!.send('x{"t":"changes","mid":"m2","changes":[{"t":{"r":{"c":"admitted"}}},{},1]}');
    await waitFor(() => messages, (list) => list.some((message) => message.mid === "m2"), { what: "an answer to the admitted socket's write" });
    expect(messages.find((message) => message.mid === "m2")).toMatchObject({ t: "ok" });
    expect(await storeOf(party, room)).toContain('"admitted"');
    admitted.forEach((socket) => socket.terminate());
  });
});
