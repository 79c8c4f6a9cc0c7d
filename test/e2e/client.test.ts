// The client library (client/) in Node against a real `wrangler dev`: appends and paged reads,
// event feeds from history to live, writes resent after a lost acknowledgement and applied once,
// TinyBase stores that catch up after a dropped socket and after a server restart, rejections
// undone, tokens in `query`, and the SSE tail.
import { EventSource } from "eventsource";
import { createStore, type Store } from "tinybase";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRoom, readEvents, RoomRejection, tailEvents, type Room, type RoomEvent, type RoomOptions } from "../../client/index.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

/** Reconnect within a fraction of a second instead of PartySocket's default 3 s. */
const FAST_RECONNECT = { minReconnectionDelay: 50, maxReconnectionDelay: 500, connectionTimeout: 2_000 };

/** A WebSocket whose owner can swallow the next `ok` and drop the connection as it arrives: a lost acknowledgement. */
class FlakySocket extends WebSocket {
  static loseNextAck = false;
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols);
    // Added before PartySocket's own listener, so it can stop the frame from reaching the client.
    this.addEventListener("message", (event) => {
      if (FlakySocket.loseNextAck && typeof event.data === "string" && event.data.includes('"t":"ok"')) {
        FlakySocket.loseNextAck = false;
        event.stopImmediatePropagation();
        this.close(4000, "acknowledgement lost");
      }
    });
  }
}

/** JSON with keys sorted: two stores hold the same content whatever order their keys came in. */
const canonical = (thing: unknown): string =>
  JSON.stringify(thing, (_key, value: unknown) =>
    value !== null && typeof value === "object" && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1))) : value,
  );
const contentOf = (store: Store) => canonical(store.getContent());

describe("the client library against wrangler dev", () => {
  let server: RunningServer;
  const rooms: Room[] = [];
  const connect = (room: string, options: Partial<RoomOptions> = {}) => {
    const client = connectRoom({ host: server.host, room, ...FAST_RECONNECT, ...options });
    rooms.push(client);
    return client;
  };
  const readAll = async (room: string, selectors = {}) => {
    const events: RoomEvent[] = [];
    for await (const event of readEvents({ host: server.host, room }, selectors)) events.push(event);
    return events;
  };

  beforeAll(async () => {
    server = await startServer({ kind: "wrangler" });
  });
  afterAll(async () => {
    rooms.forEach((room) => room.close());
    await server?.stop();
  });

  it("appends with room.stream(name).event(type, data).append() and reads them back page by page", async () => {
    const room = connect("append");
    const first = await room.stream("orders").event("paid", { total: 40 }).append();
    const [second, third] = await room.append([{ type: "shipped", stream: "orders" }, { type: "note" }]);
    expect([first, second, third]).toEqual([1, 2, 3]);
    const orders = await readAll("append", { stream: "orders", limit: 1 });
    expect(orders.map((event) => [event.seq, event.type, event.data])).toEqual([[1, "paid", { total: 40 }], [2, "shipped", null]]);
    expect((await readAll("append", { to: 2 })).map((event) => event.seq)).toEqual([1, 2]);
    await expect(room.append([{ type: "$forbidden" }])).rejects.toMatchObject({ name: "RoomRejection", code: "reserved_name" });
  });

  it("iterates history, then goes live with no gap; until: caught-up ends after history; after: past-events is live only", async () => {
    const room = connect("feed");
    await room.append([{ type: "a" }, { type: "b" }]);
    const history: number[] = [];
    await room.events({ until: "caught-up" }).each((event) => void history.push(event.seq));
    expect(history).toEqual([1, 2]);

    const live = room.events({ types: ["a", "c"] });
    const onlyNew = room.events({ after: "past-events" });
    await Promise.all([live.caughtUp, onlyNew.caughtUp]);
    await room.append([{ type: "b" }, { type: "c" }]);
    const seen: number[] = [];
    for await (const event of live) {
      seen.push(event.seq);
      if (seen.length === 2) break; // ends the subscription
    }
    expect(seen).toEqual([1, 4]);
    const fresh: number[] = [];
    for await (const event of onlyNew) if (fresh.push(event.seq) === 2) break;
    expect(fresh).toEqual([3, 4]);
  });

  it("delivers a feed ten times its credit window to a slow reader, in order, nothing lost or repeated", async () => {
    const room = connect("big-feed");
    for (let i = 0; i < 10; i++) await room.append(Array.from({ length: 100 }, () => ({ type: "x" })));
    const seqs: number[] = [];
    await room.events({ until: "caught-up" }, { window: 100 }).each(async (event) => {
      seqs.push(event.seq);
      if (event.seq % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    });
    expect(seqs).toEqual(Array.from({ length: 1_000 }, (_, i) => i + 1));
  });

  it("resends writes whose acknowledgement was lost, and the room applies each once", async () => {
    const room = connect("lost-ack", { WebSocket: FlakySocket });
    const store = createStore();
    const sync = room.syncStore(store);
    await sync.ready;
    await room.append([{ type: "before" }]);

    FlakySocket.loseNextAck = true;
    const [seq] = await room.append([{ type: "once" }]); // committed, ack lost, resent on the new socket
    expect(FlakySocket.loseNextAck).toBe(false);
    expect(seq).toBe(3); // after the store's $init and "before"

    FlakySocket.loseNextAck = true;
    store.setCell("pets", "fido", "species", "dog");
    await waitFor(() => room.pendingWrites, (count) => count === 0 && !FlakySocket.loseNextAck, { what: "the changeset to be acknowledged after the resend" });
    const log = await readAll("lost-ack");
    expect(log.map((event) => event.type)).toEqual(["$init", "before", "once", "$changes"]);
    expect(store.getTables()).toEqual({ pets: { fido: { species: "dog" } } });
  });

  it("catches a store up on everything written while its socket was down, and sends what it wrote offline", async () => {
    const alice = createStore().setTables({ pets: { fido: { species: "dog" } } });
    const bob = createStore();
    const aliceRoom = connect("dropped");
    const bobRoom = connect("dropped");
    await aliceRoom.syncStore(alice).ready;
    await bobRoom.syncStore(bob).ready;
    expect(bob.getTables()).toEqual({ pets: { fido: { species: "dog" } } });
    alice.setCell("pets", "fido", "meta", { tags: ["good"] } as never);
    await waitFor(() => bob.getCell("pets", "fido", "meta"), (meta) => meta !== undefined, { what: "bob to get alice's object cell" });
    expect(bob.getCell("pets", "fido", "meta")).toEqual({ tags: ["good"] });
    const feed = bobRoom.events({ types: ["said"] });
    await feed.caughtUp;

    bobRoom.socket.close(); // offline until reconnect()
    alice.setRow("pets", "felix", { species: "cat" });
    alice.delCell("pets", "fido", "meta");
    alice.setValue("open", null);
    await aliceRoom.stream("chat").event("said", "while bob was away").append();
    bob.setValue("bobWasHere", true);
    bob.setCell("pets", "felix", "owner", "bob"); // a row bob has not seen created yet
    bobRoom.socket.reconnect();

    await waitFor(() => [contentOf(alice), contentOf(bob)], ([a, b]) => a === b && b.includes("bobWasHere") && b.includes("owner"), { what: "both stores to converge" });
    expect(bob.getContent()).toEqual([{ pets: { fido: { species: "dog" }, felix: { species: "cat", owner: "bob" } } }, { open: null, bobWasHere: true }]);
    const said = await feed[Symbol.asyncIterator]().next();
    expect(said.value?.data).toBe("while bob was away");
    feed.close();
    const log = await readAll("dropped", { stream: "$store" });
    expect(log.filter((event) => JSON.stringify(event.data).includes("bobWasHere"))).toHaveLength(1);
    expect(await (await fetch(`${server.origin}/parties/main/dropped/store`)).json()).toEqual([
      { pets: { fido: { species: "dog" }, felix: { species: "cat", owner: "bob" } } },
      { open: null, bobWasHere: true },
    ]);
  });

  it("keeps local changes made before the store has loaded, and sends them once it has", async () => {
    const alice = createStore().setTables({ t: { r: { a: 1 } } });
    await connect("early").syncStore(alice).ready;
    const bob = createStore();
    const sync = connect("early").syncStore(bob);
    bob.setCell("t", "r", "b", { json: [1] } as never).setValue("v", null as never);
    await sync.ready;
    await waitFor(() => [contentOf(alice), contentOf(bob)], ([a, b]) => a === b && a.includes('"v"'), { what: "both stores to hold bob's early changes" });
    expect(bob.getContent()).toEqual([{ t: { r: { a: 1, b: { json: [1] } } } }, { v: null }]);
    expect(await (await fetch(`${server.origin}/parties/main/early/store`)).json()).toEqual([{ t: { r: { a: 1, b: '\uFFFD{"json":[1]}' } } }, { v: null }]);
  });

  it("survives a server restart: writes made while it is down are applied once, and feeds resume with no gap", async () => {
    const alice = createStore();
    const bob = createStore();
    const aliceRoom = connect("restart");
    const bobRoom = connect("restart");
    await aliceRoom.syncStore(alice).ready;
    await bobRoom.syncStore(bob).ready;
    alice.setCell("t", "r", "before", 1);
    const tail: number[] = [];
    const feed = bobRoom.events();
    void feed.each((event) => void tail.push(event.seq));
    await waitFor(() => bob.getCell("t", "r", "before"), (cell) => cell === 1, { what: "bob to see the first change" });

    await server.stop();
    alice.setCell("t", "r", "whileDown", "alice");
    const appended = aliceRoom.append([{ type: "whileDown" }]);
    bob.setCell("t", "r", "bobWhileDown", "bob");
    await server.restart();
    alice.setCell("t", "r", "after", 2);

    const [seq] = await appended;
    await waitFor(() => [contentOf(alice), contentOf(bob)], ([a, b]) => a === b && a.includes("bobWhileDown") && a.includes("after"), { what: "both stores to converge after the restart" });
    const log = await readAll("restart");
    expect(log.filter((event) => event.type === "whileDown").map((event) => event.seq)).toEqual([seq]);
    expect(log.filter((event) => event.type === "$changes")).toHaveLength(4);
    await waitFor(() => tail.length, (count) => count === log.length, { what: "bob's feed to reach the head" });
    expect(tail).toEqual(log.map((event) => event.seq));
    feed.close();
  });

  it("reports a refused change and puts the store back as the room has it", async () => {
    let storeReads = 0;
    const countingFetch: typeof fetch = (input, init) => {
      if (String(input).includes("/store") && (init?.method ?? "GET") === "GET") storeReads++;
      return fetch(input, init);
    };
    const room = connect("refused", { fetch: countingFetch });
    const store = createStore().setCell("t", "r", "kept", "yes");
    const rejected: RoomRejection[] = [];
    await room.syncStore(store, { onRejected: (error) => rejected.push(error as RoomRejection) }).ready;

    // Too many cells for one changeset: the room sends its values back right before the nack.
    store.transaction(() => {
      for (let i = 0; i <= 10_000; i++) store.setCell("big", `r${i}`, "c", i);
      store.setCell("t", "r", "kept", "overwritten");
    });
    await waitFor(() => rejected.length, (count) => count === 1, { what: "the rejection" });
    expect(rejected[0]).toMatchObject({ name: "RoomRejection", code: "too_large" });
    await waitFor(() => store.getTables(), (tables) => tables.big === undefined, { what: "the store to be put back" });
    expect(store.getTables()).toEqual({ t: { r: { kept: "yes" } } });
    expect(storeReads).toBe(2); // the load before and after the first PUT: the correction needed none

    // A cell over the size limit: refused before any correction, so the store reloads the snapshot.
    store.setCell("t", "r", "huge", "x".repeat(70_000));
    await waitFor(() => store.getCell("t", "r", "huge"), (cell) => cell === undefined, { what: "the huge cell to be undone" });
    expect(rejected.map((error) => error.code)).toEqual(["too_large", "too_large"]);
    expect(storeReads).toBe(3);

    // A changeset over the frame limit never leaves: the room would close the socket on it.
    store.transaction(() => {
      for (let i = 0; i < 80; i++) store.setCell("t", `wide${i}`, "c", "y".repeat(59_000));
    });
    await waitFor(() => store.getRowIds("t"), (rows) => rows.length === 1, { what: "the oversized change to be undone" });
    expect(rejected.at(-1)).toMatchObject({ code: "too_large", message: expect.stringContaining("Frames are limited") });
    expect(room.socket.readyState).toBe(WebSocket.OPEN);
    store.setCell("t", "r", "after", true);
    await waitFor(() => fetch(`${server.origin}/parties/main/refused/store`).then((response) => response.json()), (content) => JSON.stringify(content) === '[{"t":{"r":{"kept":"yes","after":true}}},{}]', { what: "later changes to go through" });
  });

  it("tails events over SSE with an EventSource: history, then live; until: caught-up ends", async () => {
    const room = connect("tail");
    await room.append([{ type: "a" }, { type: "b" }]);
    const http = { ...room.http, EventSource: EventSource as never };
    const history: number[] = [];
    const finite = tailEvents(http, { types: ["a", "b"], until: "caught-up" }, (event) => history.push(event.seq));
    await finite.closed;
    expect(history).toEqual([1, 2]);

    const seen: number[] = [];
    let caughtUpAt = 0;
    const tail = tailEvents({ ...http, onCaughtUp: (seq) => (caughtUpAt = seq) }, { types: ["a"] }, (event) => seen.push(event.seq));
    await waitFor(() => caughtUpAt, (seq) => seq === 2, { what: "the caught-up marker" });
    await room.append([{ type: "b" }, { type: "a" }]);
    await waitFor(() => seen, (list) => list.length === 2, { what: "a live event over SSE" });
    expect(seen).toEqual([1, 4]);
    tail.close();
    await tail.closed;
  });
});

describe("the client library against a room that needs a token", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ kind: "wrangler", vars: { AUTH_WRITE_TOKEN: "write-secret", AUTH_READ_TOKEN: "read-secret" } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("passes query: { token } to the socket and to HTTP; a reader's writes are refused and undone", async () => {
    const writer = connectRoom({ host: server.host, room: "guarded", query: { token: "write-secret" }, ...FAST_RECONNECT });
    const reader = connectRoom({ host: server.host, room: "guarded", query: { token: "read-secret" }, ...FAST_RECONNECT });
    const written = createStore().setCell("pets", "fido", "species", "dog");
    const read = createStore();
    const rejected: Error[] = [];
    try {
      await writer.syncStore(written).ready;
      await reader.syncStore(read, { onRejected: (error) => rejected.push(error) }).ready;
      expect(read.getTables()).toEqual({ pets: { fido: { species: "dog" } } });

      read.setCell("pets", "fido", "species", "cat");
      await waitFor(() => rejected.length, (count) => count === 1, { what: "the reader's change to be refused" });
      expect(rejected[0]).toMatchObject({ name: "RoomRejection", code: "forbidden" });
      await waitFor(() => read.getCell("pets", "fido", "species"), (cell) => cell === "dog", { what: "the reader's store to be put back" });
      await expect(reader.append([{ type: "x" }])).rejects.toMatchObject({ code: "forbidden" });

      written.setCell("pets", "felix", "species", "cat");
      await waitFor(() => read.getCell("pets", "felix", "species"), (cell) => cell === "cat", { what: "the reader to follow the writer" });
      expect(await writer.append([{ type: "x" }])).toEqual([3]);
    } finally {
      writer.close();
      reader.close();
    }
  });
});
