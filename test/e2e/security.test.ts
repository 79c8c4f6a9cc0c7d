// Tokens, roles and limits against a real `wrangler dev` configured by variables only.
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../party/core/auth.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { connectTinyBase, serverContent, type TinyBaseClient } from "../support/tinybase-client.ts";
import { waitFor } from "../support/wait.ts";

const WRITE = "write-secret";
const READ = "read-secret";
const SECRET = "hmac-secret";

/** Opens a socket and reports how it ended: "open", or the close code / HTTP status it got. */
const tryOpen = (url: string) =>
  new Promise<{ socket?: WebSocket; outcome: string }>((resolve) => {
    const socket = new WebSocket(url);
    socket.on("open", () => resolve({ socket, outcome: "open" }));
    socket.on("unexpected-response", (_request, response) => resolve({ outcome: `http ${response.statusCode}` }));
    socket.on("error", () => resolve({ outcome: "error" }));
  });

describe("auth under wrangler dev", () => {
  let server: RunningServer;
  const clients: TinyBaseClient[] = [];
  const at = (room: string, path: string, query = "") => `${server.origin}/parties/main/${room}${path}${query}`;

  beforeAll(async () => {
    server = await startServer({ kind: "wrangler", vars: { AUTH_WRITE_TOKEN: WRITE, AUTH_READ_TOKEN: READ, AUTH_SECRET: SECRET } });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server?.stop();
  });

  it("refuses requests and sockets without a good token: 401 without one, 403 with a wrong one", async () => {
    const none = await fetch(at("locked", "/store"));
    expect([none.status, ((await none.json()) as any).error.code]).toEqual([401, "unauthorized"]);
    const wrong = await fetch(at("locked", "/store"), { headers: { Authorization: "Bearer nope" } });
    expect(wrong.status).toBe(403);
    expect((await tryOpen(`ws://${server.host}/parties/main/locked`)).outcome).toBe("http 401");
    expect((await tryOpen(`ws://${server.host}/parties/main/locked?token=nope`)).outcome).toBe("http 403");
    const preflight = await fetch(at("locked", "/store"), { method: "OPTIONS", headers: { Origin: "https://app.example", "Access-Control-Request-Method": "PUT" } });
    expect(preflight.status).toBe(204);
  });

  it("lets a write token write, by bearer header and by query parameter", async () => {
    expect((await fetch(at("open", "/store"), { method: "PUT", body: "[{},{}]", headers: { Authorization: `Bearer ${WRITE}` } })).status).toBe(201);
    expect((await fetch(at("open", "/events", `?token=${WRITE}`), { method: "POST", body: '{"type":"a"}' })).status).toBe(201);
  });

  it("gives a read token the store and live changes, and rolls its own writes back", async () => {
    await fetch(at("readers", "/store"), { method: "PUT", body: JSON.stringify([{ t: { r: { n: 1 } } }, {}]), headers: { Authorization: `Bearer ${WRITE}` } });
    expect((await fetch(at("readers", "/store"), { method: "PUT", body: "[{},{}]", headers: { Authorization: `Bearer ${READ}` } })).status).toBe(403);
    expect((await fetch(at("readers", "/events"), { method: "POST", body: '{"type":"a"}', headers: { Authorization: `Bearer ${READ}` } })).status).toBe(403);
    const writer = await connectTinyBase(server.host, "readers", { query: { token: WRITE } });
    const reader = await connectTinyBase(server.host, "readers", { query: { token: READ } });
    clients.push(writer, reader);
    expect(reader.store.getCell("t", "r", "n")).toBe(1);
    writer.store.setCell("t", "r", "n", 2);
    await waitFor(() => reader.store.getCell("t", "r", "n"), (n) => n === 2, { what: "the reader to get the writer's change" });
    reader.store.setCell("t", "r", "n", 99);
    await waitFor(() => reader.store.getCell("t", "r", "n"), (n) => n === 2, { what: "the reader's write to be rolled back" });
    const stored = await fetch(at("readers", "/store"), { headers: { Authorization: `Bearer ${READ}` } });
    expect(await stored.json()).toEqual([{ t: { r: { n: 2 } } }, {}]);
  });

  it("accepts a signed token for its own room only, and not once expired", async () => {
    const token = await signToken(SECRET, { room: "signed", role: "write", exp: Math.floor(Date.now() / 1000) + 60 });
    expect((await fetch(at("signed", "/store"), { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(at("other", "/store"), { headers: { Authorization: `Bearer ${token}` } })).status).toBe(403);
    const expired = await signToken(SECRET, { room: "signed", role: "write", exp: Math.floor(Date.now() / 1000) - 1 });
    expect((await fetch(at("signed", "/store"), { headers: { Authorization: `Bearer ${expired}` } })).status).toBe(403);
  });
});

describe("limits under wrangler dev", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ kind: "wrangler", vars: { MAX_FRAME_BYTES: "2048", MAX_CONNECTIONS: "5" } });
  });
  afterAll(async () => server?.stop());

  it("closes a socket that sends a frame over the limit with 1009, applying nothing", async () => {
    await fetch(`${server.origin}/parties/main/big/store`, { method: "PUT", body: "[{},{}]" });
    const { socket } = await tryOpen(`ws://${server.host}/parties/main/big`);
    const closed = new Promise<number>((resolve) => socket!.on("close", (code) => resolve(code)));
    socket!.send("s" + JSON.stringify([{ t: { r: { c: "x".repeat(3000) } } }, {}, 1]));
    expect(await closed).toBe(1009);
    expect(await serverContent(server.origin, "big")).toEqual([{}, {}]);
  });

  it("closes the socket one past the connection limit with 1013", async () => {
    const opened = [];
    for (let i = 0; i < 5; i++) opened.push((await tryOpen(`ws://${server.host}/parties/main/full`)).socket!);
    const { socket } = await tryOpen(`ws://${server.host}/parties/main/full`);
    const code = await new Promise<number>((resolve) => socket!.on("close", (closeCode) => resolve(closeCode)));
    expect(code).toBe(1013);
    opened.forEach((open) => open.close());
  });
});
