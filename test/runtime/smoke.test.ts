// Proves the runtime layer works: the worker and its Room Durable Object run
// inside workerd with SQLite storage, and the plugin's helpers reach them.
// Each test file gets a fresh Miniflare, so storage is shared between the
// tests of this file only: every test uses its own room name.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { Room } from "../../party/worker.ts";

const ORIGIN = "http://example.com";
/** A TinyBase change frame (empty messagePrefix): set cell t/r/c to 1. */
const CHANGES = [{ t: { r: { c: 1 } } }, {}, 1];
const MESSAGE_TIMEOUT_MS = 5_000;

describe("runtime smoke", () => {
  it("routes GET /parties/main/:room/store through the worker with 200", async () => {
    const response = await exports.default.fetch(`${ORIGIN}/parties/main/fetch/store`);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  });

  it("runs code inside a Room instance with SQLite storage", async () => {
    const stub = env.Main.getByName("inside");
    const rows = await runInDurableObject(stub, (room: Room, state) => {
      expect(room).toBeInstanceOf(Room);
      state.storage.sql.exec("CREATE TABLE probe (v INTEGER)");
      state.storage.sql.exec("INSERT INTO probe VALUES (1)");
      return state.storage.sql.exec("SELECT v FROM probe").toArray();
    });
    expect(rows).toEqual([{ v: 1 }]);
  });

  it("keeps storage but not memory when the object is evicted", async () => {
    const stub = env.Main.getByName("evict");
    await runInDurableObject(stub, async (room: Room, state) => {
      Object.assign(room, { probe: "in memory" });
      await state.storage.put("probe", "stored");
    });
    await evictDurableObject(stub);
    const after = await runInDurableObject(stub, async (room: Room, state) => [
      (room as Room & { probe?: string }).probe,
      await state.storage.get("probe"),
    ]);
    expect(after).toEqual([undefined, "stored"]);
  });

  it("wakes a hibernated room when a message arrives on a kept socket", async () => {
    const room = "hibernate";
    const saved = await exports.default.fetch(`${ORIGIN}/parties/main/${room}/store`, { method: "PUT", body: "[{},{}]" });
    expect(saved.ok).toBe(true);
    const sender = await openSocket(room);
    const receiver = await openSocket(room);
    const stub = env.Main.getByName(room);
    // The default { webSockets: "hibernate" } keeps hibernatable sockets open.
    await evictDurableObject(stub);
    const received = nextMessage(receiver);
    sender.send(`s${JSON.stringify(CHANGES)}`);
    const frame = await received;
    expect(JSON.parse(frame.slice(1))).toEqual(CHANGES);
    expect(await runInDurableObject(stub, (_room, state) => state.getWebSockets().length)).toBe(2);
    sender.close();
    receiver.close();
  });
});

async function openSocket(room: string): Promise<WebSocket> {
  const response = await exports.default.fetch(`${ORIGIN}/parties/main/${room}`, { headers: { Upgrade: "websocket" } });
  const socket = response.webSocket;
  if (!socket) throw new Error(`no WebSocket upgrade: ${response.status}`);
  socket.accept();
  return socket;
}

function nextMessage(socket: WebSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no message relayed")), MESSAGE_TIMEOUT_MS);
    socket.addEventListener("message", (event) => {
      clearTimeout(timer);
      resolve(String(event.data));
    }, { once: true });
  });
}
