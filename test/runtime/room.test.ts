// The room inside workerd: real SQLite-backed Durable Object storage, real WebSockets, eviction,
// hibernation and alarms, through the plugin's helpers. Every test uses its own room.
import { abortAllDurableObjects, evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { foldStoreEvents } from "../support/fold.ts";
import { waitFor } from "../support/wait.ts";
import { isGreeting } from "./helpers.ts";

const ORIGIN = "http://example.com";
const url = (room: string, path = "", party = "main") => `${ORIGIN}/parties/${party}/${room}${path}`;
const json = async (response: Response): Promise<any> => response.json();
const put = async (room: string, body: unknown, headers: Record<string, string> = {}, party = "main") => {
  const response = await exports.default.fetch(url(room, "/store", party), { method: "PUT", body: typeof body === "string" ? body : JSON.stringify(body), headers });
  const text = await response.text();
  return new Response(response.status === 304 || response.status === 205 ? null : text, { status: response.status, headers: response.headers });
};
const get = (room: string, path = "/store", party = "main") => exports.default.fetch(url(room, path, party));
const log = async (room: string, party = "main") => json(await get(room, "/events?limit=1000", party));

interface Socket {
  ws: WebSocket;
  frames: string[];
  closed?: number;
  next(predicate?: (frame: string) => boolean): Promise<string>;
}

const open = async (room: string, party = "main"): Promise<Socket> => {
  const response = await exports.default.fetch(url(room, "", party), { headers: { Upgrade: "websocket" } });
  const ws = response.webSocket!;
  ws.accept();
  const socket: Socket = {
    ws,
    frames: [],
    next: (predicate = () => true) =>
      new Promise((resolve, reject) => {
        const found = socket.frames.find(predicate);
        if (found) return resolve(found);
        const timer = setTimeout(() => reject(new Error(`no frame; got ${JSON.stringify(socket.frames)}`)), 5_000);
        ws.addEventListener("message", function onMessage(event) {
          if (isGreeting(String(event.data)) || !predicate(String(event.data))) return;
          clearTimeout(timer);
          ws.removeEventListener("message", onMessage);
          resolve(String(event.data));
        });
      }),
  };
  // Its presence hello is not among the frames these tests follow.
  ws.addEventListener("message", (event) => void (isGreeting(String(event.data)) || socket.frames.push(String(event.data))));
  ws.addEventListener("close", (event) => (socket.closed = event.code));
  return socket;
};

const changes = (value: unknown) => "s" + JSON.stringify(value);
const settle = async (room: string) => (await get(room)).arrayBuffer();

describe("the store over HTTP in workerd", () => {
  it("follows TinyBase's persister protocol and the conditional requests", async () => {
    const empty = await get("http-1");
    expect([empty.status, await empty.text()]).toEqual([200, ""]);
    expect((await put("http-1", [{ t: { r: { c: 1 } } }, { v: true }])).status).toBe(201);
    expect((await put("http-1", [{}, {}])).status).toBe(205);
    const stored = await get("http-1");
    expect([stored.headers.get("ETag"), await json(stored)]).toEqual(['"1"', [{ t: { r: { c: 1 } } }, { v: true }]]);
    const notModified = await exports.default.fetch(url("http-1", "/store"), { headers: { "If-None-Match": '"1"' } });
    expect(notModified.status).toBe(304);
    expect((await put("http-1", [{}, { v: false }], { "If-Match": '"0"' })).status).toBe(412);
    expect((await put("http-1", [{}, { v: false }], { "If-Match": '"1"' })).status).toBe(200);
    expect(await json(await get("http-1"))).toEqual([{}, { v: false }]);
  });

  it("answers bad input with a JSON error and no stack trace, and changes nothing", async () => {
    for (const [body, status] of [["{", 400], ['{"a":1}', 400], ["[{},{}", 400]] as const) {
      const response = await put("http-2", body);
      expect(response.status).toBe(status);
      const text = await response.text();
      expect(JSON.parse(text).error.code).toMatch(/invalid_/);
      expect(text).not.toMatch(/at .*\.(ts|js)|Error:/);
    }
    expect(await (await get("http-2")).text()).toBe("");
    expect((await log("http-2")).head).toBe(0);
    const unknown = await get("http-2", "/nope");
    expect([unknown.status, (await json(unknown)).error.code]).toEqual([404, "not_found"]);
  });
});

describe("WebSocket changesets in workerd", () => {
  it("applies, logs and broadcasts a changeset to the other sockets only", async () => {
    await put("ws-1", [{}, { n: 0 }]);
    const [alice, bob] = [await open("ws-1"), await open("ws-1")];
    alice.ws.send(changes([{ t: { r: { c: "x" } } }, { n: 1 }, 1]));
    expect(JSON.parse((await bob.next()).slice(1))).toEqual([{ t: { r: { c: "x" } } }, { n: 1 }, 1]);
    expect(await json(await get("ws-1"))).toEqual([{ t: { r: { c: "x" } } }, { n: 1 }]);
    expect(alice.frames).toEqual([]);
    const events = (await log("ws-1")).events;
    expect(events.map((event: any) => [event.seq, event.type])).toEqual([[1, "$init"], [2, "$changes"]]);
  });

  it("closes with 1007 on a broken frame and 1009 on one too big, changing nothing", async () => {
    await put("ws-2", [{}, {}]);
    const broken = await open("ws-2");
    broken.ws.send("s{not json");
    const big = await open("ws-2");
    big.ws.send(changes([{ t: { r: { c: "x".repeat(5 * 1024 * 1024) } } }, {}, 1]));
    const polite = await open("ws-2");
    polite.ws.send("zz");
    expect(JSON.parse((await polite.next()).slice(1))).toMatchObject({ t: "error", error: { code: "bad_request" } });
    await settle("ws-2");
    await waitFor(() => [broken.closed, big.closed], (codes) => codes.every((code) => code !== undefined), { what: "the bad sockets' closes" });
    expect([broken.closed, big.closed, polite.closed]).toEqual([1007, 1009, undefined]);
    expect((await log("ws-2")).head).toBe(1);
  });

  it("runs the permission hooks and sends the sender the room's values", async () => {
    await put("hooks-1", [{ pets: { fido: { legs: 4 } } }, {}], {}, "hooked");
    const [alice, bob] = [await open("hooks-1", "hooked"), await open("hooks-1", "hooked")];
    alice.ws.send(changes([{ pets: { fido: "\uFFFC", felix: { legs: -1, name: "Felix" } } }, {}, 1]));
    expect(JSON.parse((await bob.next()).slice(1))).toEqual([{ pets: { felix: { name: "Felix" } } }, { stamped: true }, 1]);
    const correction = JSON.parse((await alice.next()).slice(1));
    expect(correction[0].pets).toEqual({ fido: { legs: 4 }, felix: { legs: "\uFFFC", name: "Felix" } });
    expect(await json(await get("hooks-1", "/store", "hooked"))).toEqual([{ pets: { fido: { legs: 4 }, felix: { name: "Felix" } } }, { stamped: true }]);
  });
});

describe("durability in workerd", () => {
  it("keeps the store equal to the fold of its $store events", async () => {
    await put("fold-1", [{ t: { a: { x: 1 }, b: { x: 2 } } }, { v: 1 }]);
    const writer = await open("fold-1");
    const steps = [
      [{ t: { a: { y: null }, c: { x: 3 } } }, { v: "\uFFFC", w: [1] }, 1],
      [{ t: { b: "\uFFFC" } }, {}, 1],
      [{ t: "\uFFFC", u: { r: { z: "\uFFFD{\"k\":1}" } } }, { v: 2 }, 1],
    ];
    for (const step of steps) writer.ws.send(changes(step));
    const { events } = await waitFor(() => log("fold-1"), (page) => page.head === 1 + steps.length, { what: "every step in the log" });
    expect(events).toHaveLength(4);
    expect(foldStoreEvents(events)).toEqual(await json(await get("fold-1")));
    await post("fold-1", { type: "unrelated" });
    expect(foldStoreEvents((await log("fold-1")).events)).toEqual(await json(await get("fold-1")));
  });

  it("keeps store and seq across eviction and abort, and seqs continue", async () => {
    await put("restart-1", [{}, { n: 0 }]);
    await post("restart-1", [{ type: "a" }, { type: "b" }]);
    await evictDurableObject(env.Main.getByName("restart-1"));
    expect(await json(await get("restart-1"))).toEqual([{}, { n: 0 }]);
    expect((await json(await post("restart-1", { type: "c" }))).events[0].seq).toBe(4);
    await abortAllDurableObjects();
    expect((await log("restart-1")).events.map((event: any) => event.seq)).toEqual([1, 2, 3, 4]);
    expect((await json(await post("restart-1", { type: "d" }))).events[0].seq).toBe(5);
  });

  it("keeps every acknowledged write when the object is aborted mid-burst, and half-applies none", async () => {
    await put("abort-1", [{}, {}]);
    const writer = await open("abort-1");
    const acked: string[] = [];
    writer.ws.addEventListener("message", (event) => {
      const frame = String(event.data);
      if (frame.startsWith("x") && JSON.parse(frame.slice(1)).t === "ok") acked.push(JSON.parse(frame.slice(1)).mid);
    });
    for (let i = 0; i < 200; i++) {
      const row = Object.fromEntries(Array.from({ length: 4 }, (_, c) => [`c${c}`, i]));
      writer.ws.send("x" + JSON.stringify({ t: "changes", mid: `m${i}`, changes: [{ rows: { [`r${i}`]: row } }, {}, 1] }));
    }
    await writer.next((frame) => frame.includes('"ok"'));
    await abortAllDurableObjects();
    const events = (await log("abort-1")).events;
    const logged = new Set(events.map((event: any) => event.id));
    for (const mid of acked) expect(logged.has(mid)).toBe(true);
    const store = await json(await get("abort-1"));
    for (const row of Object.values<Record<string, number>>(store[0].rows ?? {})) expect(Object.keys(row)).toEqual(["c0", "c1", "c2", "c3"]);
    expect(foldStoreEvents(events)).toEqual(store);
  });

  it("wakes from hibernation on a frame: applies it, broadcasts it to hibernated sockets, seqs go on", async () => {
    await put("hibernate-1", [{}, { n: 0 }]);
    const [alice, bob] = [await open("hibernate-1"), await open("hibernate-1")];
    await evictDurableObject(env.Main.getByName("hibernate-1"));
    alice.ws.send(changes([{}, { n: 1 }, 1]));
    expect(JSON.parse((await bob.next()).slice(1))).toEqual([{}, { n: 1 }, 1]);
    expect(await json(await get("hibernate-1"))).toEqual([{}, { n: 1 }]);
    expect((await log("hibernate-1")).head).toBe(2);
  });

  it("tells a subscriber to resubscribe after a wake-up", async () => {
    const reader = await open("hibernate-2");
    reader.ws.send('x{"t":"sub","sid":"s","credit":10}');
    await reader.next((frame) => frame.includes('"caught-up"'));
    await evictDurableObject(env.Main.getByName("hibernate-2"));
    await post("hibernate-2", { type: "wake" });
    expect(JSON.parse((await reader.next((frame) => frame.includes('"end"'))).slice(1))).toEqual({ t: "end", sid: "s", reason: "reset" });
  });

  it("trims the log in the alarm under a retention policy, never the store", async () => {
    await put("retain-1", [{}, { n: 0 }], {}, "retaining");
    for (let i = 0; i < 3; i++) await post("retain-1", Array.from({ length: 3 }, () => ({ type: "a" })), "retaining");
    expect(await runDurableObjectAlarm(env.Retaining.getByName("retain-1"))).toBe(true);
    expect((await log("retain-1", "retaining")).events.map((event: any) => event.seq)).toEqual([6, 7, 8, 9, 10]);
    expect(await json(await get("retain-1", "/store", "retaining"))).toEqual([{}, { n: 0 }]);
  });
});

/** Appends events; the body is read at once (an unread body keeps the request, and the object, busy). */
const post = async (room: string, body: unknown, party = "main") => {
  const response = await exports.default.fetch(url(room, "/events", party), { method: "POST", body: JSON.stringify(body) });
  const text = await response.text();
  return new Response(text, { status: response.status, headers: response.headers });
};
