// Proves the e2e layer works: real dev servers start, serve a room over HTTP
// and WebSocket, and come back after a restart. Real e2e tests replace this.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RunningServer, startServer } from "../support/servers.ts";

const ROOM_PATH = "/parties/main/smoke";
const STORE_PATH = `${ROOM_PATH}/store`;
/** A TinyBase change frame (empty messagePrefix): set cell t/r/c to 1. */
const CHANGES = [{ t: { r: { c: 1 } } }, {}, 1];
const MESSAGE_TIMEOUT_MS = 10_000;

// The tests of each block share one server and room and run in order: the
// restart test reads back what the relay test saved.
describe.each(["wrangler", "partykit"] as const)("%s dev", (kind) => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ kind });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("answers GET on the store path with 200", async () => {
    const response = await fetch(server.origin + STORE_PATH);
    expect(response.status).toBe(200);
  });

  it("relays a change frame from one socket to another in the room", async () => {
    // A TinyBase client saves the store first; a room relays changes after that.
    const saved = await fetch(server.origin + STORE_PATH, { method: "PUT", body: "[{},{}]" });
    expect(saved.ok).toBe(true);
    const [sender, receiver] = await Promise.all([openSocket(server), openSocket(server)]);
    try {
      const received = nextMessage(receiver);
      sender.send(`s${JSON.stringify(CHANGES)}`);
      const frame = await received;
      expect(frame.startsWith("s")).toBe(true);
      expect(JSON.parse(frame.slice(1))).toEqual(CHANGES);
    } finally {
      sender.close();
      receiver.close();
    }
  });

  it("serves the saved store again after a restart on the same port and storage", async () => {
    await server.restart();
    const response = await fetch(server.origin + STORE_PATH);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(CHANGES.slice(0, 2));
  });
});

async function openSocket(server: RunningServer): Promise<WebSocket> {
  const socket = new WebSocket(`ws://${server.host}${ROOM_PATH}`);
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  return socket;
}

function nextMessage(socket: WebSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no message relayed")), MESSAGE_TIMEOUT_MS);
    socket.once("message", (data) => {
      clearTimeout(timer);
      resolve(String(data));
    });
  });
}
