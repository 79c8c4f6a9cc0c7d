import { createMergeableStore } from "tinybase";
import { describe, expect, it } from "vitest";
import type { RoomHooks } from "../../../party/core/index.ts";
import { updateState } from "../../../party/core/room/types.ts";
import { decodedContent } from "../../support/tinybase-client.ts";
import { waitFor } from "../../support/wait.ts";
import { changesFrame, createTestRoom, receivedChanges, settle, type TestRoom } from "../support/harness.ts";
import { canonical } from "../../support/sync-client.ts";
import { connectSync, type SyncClient } from "../support/sync-harness.ts";
import { createFragmentBudget, createSyncDecoder } from "../../../party/core/sync/wire.ts";

const newRoom = (options: { hooks?: RoomHooks } = {}) => createTestRoom({ ...options, now: Date.now });
const stored = async (room: TestRoom) => {
  const text = await (await room.request("GET", "/store")).text();
  return text === "" ? undefined : JSON.parse(text);
};
const contentOf = (client: SyncClient) => client.store.getContent();
const converged = (room: TestRoom, clients: SyncClient[], what = "convergence") =>
  waitFor(
    async () => [decodedContent(await stored(room)), ...clients.map(contentOf)],
    ([server, ...others]) => others.every((content) => canonical(content) === canonical(server ?? [{}, {}])),
    { timeoutMs: 3_000, what },
  );

describe("synchronizer clients at {room}/sync", () => {
  it("sync a change through the room, which stores it and logs one $changes event", async () => {
    const room = await newRoom();
    const a = await connectSync(room, "a");
    const b = await connectSync(room, "b");
    a.store.setCell("pets", "fido", "species", "dog");
    await converged(room, [a, b]);
    expect(b.store.getCell("pets", "fido", "species")).toBe("dog");
    const events = (await (await room.request("GET", "/events?stream=$store")).json()).events;
    expect(events.map((event: any) => event.type)).toEqual(["$init", "$changes"]);
    expect(events[1].data).toEqual([{ pets: { fido: { species: "dog" } } }, {}, 1]);
  });

  it("count synchronizer sockets toward the room's connection limit", async () => {
    const room = await createTestRoom({ config: { limits: { maxConnections: 2 } } });
    await connectSync(room, "a");
    await connectSync(room, "b");
    // A third socket, of either protocol, is one too many.
    expect(room.connect("c").closed?.code).toBe(1013);
  });

  it("load a room's content into a fresh client, and reach persister clients as plain changes", async () => {
    const room = await newRoom();
    await room.request("PUT", "/store", [{ pets: { fido: { species: "dog", legs: 4 } } }, { open: true }]);
    const persister = room.connect("persister");
    const a = await connectSync(room, "a");
    await converged(room, [a]);
    expect(a.store.getContent()).toEqual([{ pets: { fido: { species: "dog", legs: 4 } } }, { open: true }]);
    a.store.setCell("pets", "felix", "species", "cat");
    a.store.delValue("open");
    await converged(room, [a]);
    await settle();
    expect(receivedChanges(persister).at(-1)).toEqual([{ pets: { felix: { species: "cat" } } }, { open: "\uFFFC" }, 1]);
    // And a persister client's change reaches the synchronizer client, stamped by the room.
    await room.room.handleMessage(persister, changesFrame([{ pets: { fido: { legs: 3 } } }, {}, 1]));
    await waitFor(() => a.store.getCell("pets", "fido", "legs"), (legs) => legs === 3, { what: "the persister's change" });
  });

  it("keep stamps across a restart: a client that rejoins has nothing to exchange, a new one gets everything", async () => {
    const room = await newRoom();
    const a = await connectSync(room, "a");
    a.store.setTable("pets", { fido: { species: "dog", tags: JSON.parse('["good"]') }, felix: { species: "cat", obj: JSON.parse('{"x":[1,2]}') } });
    a.store.setValue("open", true);
    a.store.delCell("pets", "felix", "obj");
    await converged(room, [a]);
    await a.close();
    const restarted = await room.restart();
    const before = restarted.room.core.log.head;
    const b = await connectSync(restarted, "b");
    await converged(restarted, [b]);
    expect(b.store.getMergeableContentHashes()).toEqual(a.store.getMergeableContentHashes());
    const again = await connectSync(restarted, "a2", a.store);
    await settle();
    await converged(restarted, [again, b]);
    expect(restarted.room.core.log.head).toBe(before);
  });

  it("pull a reconnecting client's offline edits, and give it what it missed", async () => {
    const room = await newRoom();
    const a = await connectSync(room, "a");
    a.store.setCell("notes", "n1", "text", "first");
    await converged(room, [a]);
    await a.close();
    a.store.setCell("notes", "n2", "text", "offline");
    await room.request("PUT", "/store", [{ notes: { n1: { text: "first" }, n3: { text: "from http" } } }, {}], { "If-Match": `"${room.room.core.log.storeSeq}"` });
    const back = await connectSync(room, "a-again", a.store);
    await converged(room, [back]);
    expect((await stored(room))[0].notes).toEqual({ n1: { text: "first" }, n2: { text: "offline" }, n3: { text: "from http" } });
  });

  it("undo a change a hook refuses at its sender, with the room's newer stamps", async () => {
    const room = await newRoom({ hooks: { canSetCell: (_t, _r, cellId) => cellId !== "secret" } });
    const a = await connectSync(room, "a");
    const b = await connectSync(room, "b");
    a.store.setCell("pets", "fido", "species", "dog");
    await converged(room, [a, b]);
    a.store.setRow("pets", "fido", { species: "wolf", secret: "x" });
    await converged(room, [a, b], "the refused cell undone");
    expect(a.store.getRow("pets", "fido")).toEqual({ species: "wolf" });
    expect(a.store.getMergeableContentHashes()).toEqual(b.store.getMergeableContentHashes());
  });

  it("undo every change of a read-only client", async () => {
    const room = await newRoom();
    await room.request("PUT", "/store", [{ pets: { fido: { species: "dog" } } }, {}]);
    const reader = await connectSync(room, "reader");
    updateState(reader.connection, { role: "read" });
    await converged(room, [reader]);
    reader.store.setCell("pets", "fido", "species", "cat");
    await converged(room, [reader], "the reader's change undone");
    expect(reader.store.getCell("pets", "fido", "species")).toBe("dog");
  });

  it.each([
    ["no newline", "garbage", 1007],
    ["bad JSON", "S\n[null,3,", 1007],
    ["an unknown type", 'S\n[null,9,""]', 1007],
    ["a wrong body", 'S\n[null,3,[{"t":1},[{}],1]]', 1007],
    ["a stamp from the far future", 'S\n[null,3,[[{"t":[{"r":[{"c":[1,"zzzzzzzzzzzzzzzz"]}]}]}],[{}],1]]', 1007],
    ["a fragment beyond its total", "S\nAAAAAAAAAAAAAAAA\n3\n2\n[", 1007],
    ["too many fragments", "S\nAAAAAAAAAAAAAAAA\n0\n5000\n[", 1009],
  ])("close a socket that sends %s, changing nothing", async (_name, frame, code) => {
    const room = await newRoom();
    await room.request("PUT", "/store", [{ t: { r: { c: 0 } } }, {}]);
    const a = await connectSync(room, "a");
    const head = room.room.core.log.head;
    await a.sendRaw(frame);
    expect(a.connection.closed?.code).toBe(code);
    expect(room.room.core.log.head).toBe(head);
    expect(await stored(room)).toEqual([{ t: { r: { c: 0 } } }, {}]);
  });

  it("close a synchronizer socket that sends frames faster than the room's per-socket limit", async () => {
    const room = await createTestRoom({ config: { limits: { maxMessagesPerSecond: 1, messageBurst: 20 } } });
    const a = await connectSync(room, "a");
    for (let i = 0; i < 40 && !a.connection.closed; i++) await a.sendRaw('S\n[null,1,""]');
    expect(a.connection.closed?.code).toBe(1008);
  });

  it("reassemble a fragmented message", async () => {
    const room = await newRoom();
    const a = await connectSync(room, "a");
    const hlc = a.store.getMergeableContent()[0][1] || "";
    void hlc;
    const big = "x".repeat(40_000);
    const writer = createMergeableStore();
    writer.setCell("t", "r", "c", big);
    const json = JSON.stringify([null, 3, writer.getMergeableContent()].map((part, i) => (i === 2 ? stripHashes(part) : part)));
    const chunks = [json.slice(0, 16_000), json.slice(16_000, 32_000), json.slice(32_000)];
    for (const [i, chunk] of chunks.entries()) await a.sendRaw(`\nABCDEFGHIJKLMNOP\n${i}\n3\n${chunk}`);
    await waitFor(() => stored(room), (content) => content?.[0]?.t?.r?.c === big, { what: "the fragmented change" });
    expect(a.connection.closed).toBeUndefined();
  });
});

/** MergeableContent without its hashes: the shape of MergeableChanges. */
const stripHashes = (thing: any): any => {
  if (!Array.isArray(thing)) return thing;
  if (thing.length === 3 && typeof thing[2] === "number" && typeof thing[1] === "string") {
    const [inner, hlc] = thing;
    if (inner !== null && typeof inner === "object" && !Array.isArray(inner)) {
      return [Object.fromEntries(Object.entries(inner).map(([id, child]) => [id, stripHashes(child)])), hlc];
    }
    return [inner, hlc];
  }
  return [stripHashes(thing[0]), stripHashes(thing[1]), 1];
};

describe("synchronizer fragment buffers", () => {
  it("bound the bytes kept in fragments across every socket of the room, and free a socket's on release", () => {
    const budget = createFragmentBudget(10);
    const a = createSyncDecoder(Date.now, budget);
    const b = createSyncDecoder(Date.now, budget);
    expect(a.decode("S\nAAAAAAAAAAAAAAAA\n0\n2\n12345678")).toBeUndefined();
    expect(() => b.decode("S\nBBBBBBBBBBBBBBBB\n0\n2\n12345")).toThrow(/fragments/);
    a.release();
    expect(budget.bytes).toBe(0);
    expect(b.decode("S\nBBBBBBBBBBBBBBBB\n0\n2\n12345")).toBeUndefined();
    expect(budget.bytes).toBe(5);
  });
});
