// The client library in Node against a real `wrangler dev`: event feeds from history to live,
// acknowledged writes resent after a reconnect, and a TinyBase store that catches up after being offline.
import { EventSource } from "eventsource";
import { createStore } from "tinybase";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRoom, readEvents, syncStore, tailEvents, type RoomClient, type RoomEvent } from "../../client/index.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

describe("the client library against wrangler dev", () => {
  let server: RunningServer;
  const clients: RoomClient[] = [];
  const connect = (room: string) => {
    const client = connectRoom({ host: server.host, room });
    clients.push(client);
    return client;
  };
  const http = (room: string) => ({ host: server.host, room, protocol: "http" as const });

  beforeAll(async () => {
    server = await startServer({ kind: "wrangler" });
  });
  afterAll(async () => {
    clients.forEach((client) => client.close());
    await server?.stop();
  });

  it("appends with room.stream(name).event(type, data).append() and reads pages back", async () => {
    const room = connect("append");
    const first = await room.stream("orders").event("paid", { total: 40 }).append();
    const [second, third] = await room.append([{ type: "shipped", stream: "orders" }, { type: "note" }]);
    expect([first, second, third]).toEqual([1, 2, 3]);
    const read: RoomEvent[] = [];
    for await (const event of readEvents(http("append"), { stream: "orders", limit: 1 })) read.push(event);
    expect(read.map((event) => [event.seq, event.type, event.data])).toEqual([[1, "paid", { total: 40 }], [2, "shipped", null]]);
  });

  it("iterates history, then goes live without a gap; until: caught-up ends after history", async () => {
    const room = connect("feed");
    await room.append([{ type: "a" }, { type: "b" }]);
    const history: number[] = [];
    await room.events({ until: "caught-up" }).each((event) => void history.push(event.seq));
    expect(history).toEqual([1, 2]);
    const live = room.events({ types: ["a", "c"] });
    const seen: number[] = [];
    const done = live.each((event) => {
      seen.push(event.seq);
      if (seen.length === 2) live.close();
    });
    await live.caughtUp;
    await room.append([{ type: "b" }, { type: "c" }]);
    await done;
    expect(seen).toEqual([1, 4]);
  });

  it("delivers a feed larger than its credit window, in order, with nothing lost", async () => {
    const room = connect("big-feed");
    for (let i = 0; i < 6; i++) await room.append(Array.from({ length: 100 }, () => ({ type: "x" })));
    const seqs: number[] = [];
    await room.events({ until: "caught-up" }).each(async (event) => {
      seqs.push(event.seq);
      if (event.seq % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    });
    expect(seqs).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
  });

  it("resends a write made while offline once the room is back, and applies it once", async () => {
    const room = connect("offline-write");
    await room.append([{ type: "before" }]);
    await server.stop();
    const appended = room.append([{ type: "while-down" }]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.restart();
    const [seq] = await appended;
    expect(seq).toBe(2);
    const types: string[] = [];
    for await (const event of readEvents(http("offline-write"))) types.push(event.type);
    expect(types).toEqual(["before", "while-down"]);
  });

  it("keeps a TinyBase store in sync and catches up on what happened while it was offline", async () => {
    const alice = createStore().setTables({ pets: { fido: { species: "dog" } } });
    const bob = createStore();
    const aliceRoom = connect("store-sync");
    const bobRoom = connect("store-sync");
    const aliceSync = syncStore(aliceRoom, alice, { protocol: "http" });
    await aliceSync.ready;
    const bobSync = syncStore(bobRoom, bob, { protocol: "http" });
    await bobSync.ready;
    expect(bob.getTables()).toEqual({ pets: { fido: { species: "dog" } } });
    alice.setCell("pets", "fido", "meta", { tags: ["good"] } as never);
    await waitFor(() => bob.getCell("pets", "fido", "meta"), (meta) => meta !== undefined, { what: "bob to get alice's change" });
    expect(bob.getCell("pets", "fido", "meta")).toEqual({ tags: ["good"] });

    bobRoom.socket.close();
    alice.setRow("pets", "felix", { species: "cat" });
    alice.delCell("pets", "fido", "meta");
    bob.setValue("bobWasHere", true);
    await waitFor(() => fetch(`${server.origin}/parties/main/store-sync/store`).then((r) => r.json() as Promise<any>), (content) => content[0].pets.felix !== undefined, { what: "alice's offline-time changes on the server" });
    bobRoom.socket.reconnect();
    await waitFor(() => [alice.getContent(), bob.getContent()], ([a, b]) => JSON.stringify(a) === JSON.stringify(b) && (b as any)[1].bobWasHere === true, { what: "both stores to converge" });
    expect(bob.getTables()).toEqual({ pets: { fido: { species: "dog" }, felix: { species: "cat" } } });
    const log: RoomEvent[] = [];
    for await (const event of readEvents(http("store-sync"), { stream: "$store" })) log.push(event);
    expect(log.filter((event) => JSON.stringify(event.data).includes("bobWasHere"))).toHaveLength(1);
    aliceSync.stop();
    bobSync.stop();
  });

  it("tails events over SSE with an EventSource", async () => {
    const room = connect("tail");
    await room.append([{ type: "a" }]);
    const seen: number[] = [];
    const tail = tailEvents({ ...http("tail"), EventSource: EventSource as never }, { types: ["a"] }, (event) => seen.push(event.seq));
    await waitFor(() => seen.length, (n) => n === 1, { what: "history over SSE" });
    await room.append([{ type: "a" }]);
    await waitFor(() => seen, (list) => list.length === 2, { what: "a live event over SSE" });
    expect(seen).toEqual([1, 2]);
    tail.close();
  });
});
