// Faults against a real `wrangler dev`: a restart in the middle of a burst of acknowledged writes,
// and sockets killed while their writes are in flight. Nothing acknowledged is lost; nothing is
// half applied; a resend is applied once.
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { foldStoreEvents } from "../support/fold.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { serverContent } from "../support/tinybase-client.ts";
import { waitFor } from "../support/wait.ts";

const open = (host: string, room: string) =>
  new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(`ws://${host}/parties/main/${room}`);
    socket.on("open", () => resolve(socket));
    socket.on("error", reject);
  });

const allEvents = async (origin: string, room: string) => {
  const events: any[] = [];
  let query = "limit=1000&until=caught-up";
  for (;;) {
    const page = (await (await fetch(`${origin}/parties/main/${room}/events?${query}`)).json()) as any;
    events.push(...page.events);
    if (page.next === null) return events;
    query = `limit=1000&until=caught-up&after=${page.next}`;
  }
};

describe("faults under wrangler dev", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ kind: "wrangler" });
  });
  afterAll(async () => server?.stop());

  it("keeps every acknowledged write across a restart mid-burst, and applies resends once", async () => {
    await fetch(`${server.origin}/parties/main/burst/store`, { method: "PUT", body: "[{},{}]" });
    const messages = Array.from({ length: 300 }, (_, i) =>
      i % 2 === 0
        ? { t: "changes", mid: `c${i}`, changes: [{ burst: { [`r${i}`]: { i, twice: i * 2 } } }, {}, 1] }
        : { t: "append", mid: `a${i}`, events: [{ type: "burst", data: { i } }] },
    );
    const acks = new Map<string, any>();
    const listen = (socket: WebSocket) =>
      socket.on("message", (data) => {
        const frame = String(data);
        if (!frame.startsWith("x")) return;
        const message = JSON.parse(frame.slice(1));
        if (message.t === "ok") acks.set(message.mid, message);
      });
    const first = await open(server.host, "burst");
    listen(first);
    for (const message of messages) first.send("x" + JSON.stringify(message));
    await waitFor(() => acks.size, (size) => size >= 20, { what: "some acks before the restart" });
    await server.restart();
    const before = new Map(acks);
    expect(before.size).toBeGreaterThan(0);

    const second = await open(server.host, "burst");
    listen(second);
    for (const message of messages) second.send("x" + JSON.stringify(message));
    await waitFor(() => acks.size, (size) => size === messages.length, { what: "every message acknowledged", timeoutMs: 30_000 });
    second.close();

    // Acknowledged before the restart: the same seqs, still in the log.
    for (const [mid, ack] of before) expect(acks.get(mid)).toEqual(ack);
    const events = await allEvents(server.origin, "burst");
    // Each message applied exactly once.
    const changes = events.filter((event) => event.type === "$changes");
    expect(new Set(changes.map((event) => event.id)).size).toBe(150);
    expect(changes).toHaveLength(150);
    expect(events.filter((event) => event.type === "burst")).toHaveLength(150);
    const store = await serverContent(server.origin, "burst");
    expect(Object.keys(store![0].burst)).toHaveLength(150);
    expect(foldStoreEvents(events)).toEqual(store);
  });

  it("never half-applies a changeset when sockets are killed mid-write", async () => {
    await fetch(`${server.origin}/parties/main/killed/store`, { method: "PUT", body: "[{},{}]" });
    const writers = await Promise.all(Array.from({ length: 4 }, () => open(server.host, "killed")));
    writers.forEach((socket, w) => {
      for (let n = 0; n < 200; n++) {
        const row = Object.fromEntries(Array.from({ length: 5 }, (_, c) => [`c${c}`, `${w}-${n}`]));
        socket.send("s" + JSON.stringify([{ rows: { [`w${w}n${n}`]: row } }, {}, 1]));
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    writers.forEach((socket) => socket.terminate());
    await new Promise((resolve) => setTimeout(resolve, 500));
    const store = await serverContent(server.origin, "killed");
    const rows = Object.values(store![0].rows ?? {});
    for (const row of rows) expect(Object.keys(row).sort()).toEqual(["c0", "c1", "c2", "c3", "c4"]);
    expect(foldStoreEvents(await allEvents(server.origin, "killed"))).toEqual(store);
  });
});
