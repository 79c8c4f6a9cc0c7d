// Synchronizer clients inside workerd, on real SQLite-backed Durable Object storage: unmodified
// TinyBase synchronizers over the runtime's own WebSockets; stamps written with the store, and
// kept across an eviction, with the sockets hibernated or closed.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { createMergeableStore, type MergeableStore } from "tinybase";
import { createWsSynchronizer } from "tinybase/synchronizers/synchronizer-ws-client";
import { describe, expect, it } from "vitest";
import type { Room } from "../../party/worker.ts";
import { waitFor } from "../support/wait.ts";
import { at, logOf, roomUrl, storeOf } from "./helpers.ts";

const connect = async (room: string, store: MergeableStore = createMergeableStore()) => {
  const response = await exports.default.fetch(roomUrl(room, "/sync"), { headers: { Upgrade: "websocket" } });
  expect(response.status).toBe(101);
  const ws = response.webSocket!;
  ws.accept();
  const synchronizer = await createWsSynchronizer(store, ws as never);
  await synchronizer.startSync();
  return { store, synchronizer, ws };
};

const sameContent = (store: MergeableStore, stored: unknown) => JSON.stringify(sorted(store.getContent())) === JSON.stringify(sorted(stored ?? [{}, {}]));
const sorted = (thing: any): any =>
  thing !== null && typeof thing === "object" && !Array.isArray(thing)
    ? Object.fromEntries(Object.entries(thing).sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, value]) => [key, sorted(value)]))
    : Array.isArray(thing) ? thing.map(sorted) : thing;
const synced = (room: string, store: MergeableStore, what = "the client and the room to agree") =>
  waitFor(() => storeOf(at(room)), (stored) => sameContent(store, stored), { what, timeoutMs: 5_000 });

describe("synchronizer clients in workerd", () => {
  it("write stamps in the same storage write as the $changes event", async () => {
    const a = await connect("sync-stamps");
    a.store.setCell("pets", "fido", "species", "dog");
    await synced("sync-stamps", a.store);
    const stamps = await runInDurableObject(env.Main.getByName("sync-stamps"), async (_room: Room, state) => state.storage.list({ prefix: "hc" }));
    const hlc = a.store.getMergeableContent()[0][0].pets[0].fido[0].species[1];
    expect([...stamps]).toEqual([['hc"pets","fido","species"', hlc]]);
    expect((await logOf(at("sync-stamps"), "$store")).events.map((event) => event.type)).toEqual(["$init", "$changes"]);
  });

  it("keep content and stamps across an eviction that closes sockets: a rejoining client changes nothing", async () => {
    const a = await connect("sync-evict");
    a.store.setTable("pets", { fido: { species: "dog" }, felix: { species: "cat" } });
    a.store.setValue("open", true);
    a.store.delCell("pets", "felix", "species");
    await synced("sync-evict", a.store);
    const head = (await logOf(at("sync-evict"))).head;
    await evictDurableObject(env.Main.getByName("sync-evict"), { webSockets: "close" });
    const fresh = await connect("sync-evict");
    await synced("sync-evict", fresh.store);
    expect(fresh.store.getMergeableContentHashes()).toEqual(a.store.getMergeableContentHashes());
    await connect("sync-evict", a.store);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await logOf(at("sync-evict"))).head).toBe(head);
  });

  it("go on over hibernated sockets after an eviction: a change wakes the room and reaches the other client", async () => {
    const a = await connect("sync-hibernate");
    const b = await connect("sync-hibernate");
    a.store.setCell("notes", "n1", "text", "before");
    await waitFor(() => b.store.getCell("notes", "n1", "text"), (text) => text === "before", { what: "the first change at b" });
    await evictDurableObject(env.Main.getByName("sync-hibernate"));
    a.store.setCell("notes", "n1", "text", "after");
    await waitFor(() => b.store.getCell("notes", "n1", "text"), (text) => text === "after", { what: "the change after the wake-up at b" });
    await synced("sync-hibernate", b.store);
    expect(a.store.getMergeableContentHashes()).toEqual(b.store.getMergeableContentHashes());
  });

  it("undo a change a hook refuses, at its sender", async () => {
    const response = await exports.default.fetch(roomUrl("sync-hooked", "/sync", "hooked"), { headers: { Upgrade: "websocket" } });
    const ws = response.webSocket!;
    ws.accept();
    const store = createMergeableStore();
    const synchronizer = await createWsSynchronizer(store, ws as never);
    await synchronizer.startSync();
    store.setCell("pets", "fido", "legs", 4);
    await waitFor(() => storeOf(at("sync-hooked", "hooked")), (stored) => stored?.[0]?.pets?.fido?.legs === 4, { what: "the allowed change" });
    store.setCell("pets", "fido", "legs", -1);
    await waitFor(() => store.getCell("pets", "fido", "legs"), (legs) => legs === 4, { what: "the refused change undone" });
  });
});
