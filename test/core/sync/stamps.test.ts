// The stamps a room keeps for synchronizer clients (party/core/sync/mergeable-peer.ts): read from storage only when
// the first synchronizer client needs them, taken in with the writes of the group that loads them,
// and the room's clock past every stamp it kept, across restarts.
import { createMergeableStore } from "tinybase";
import { describe, expect, it, vi } from "vitest";
import { decodedContent } from "../../support/tinybase-client.ts";
import { waitFor } from "../../support/wait.ts";
import { ADMITTED, changesFrame, createConnection, createTestRoom, settle, type TestRoom } from "../support/harness.ts";
import { canonical } from "../../support/sync-client.ts";
import { connectSync, type SyncClient } from "../support/sync-harness.ts";

const STAMP_PREFIX = "hc";
const LATEST_KEY = "hl";

const storedContent = async (room: TestRoom) => decodedContent(JSON.parse((await (await room.request("GET", "/store")).text()) || "[{},{}]"));
const converged = (room: TestRoom, clients: SyncClient[]) =>
  waitFor(
    async () => [await storedContent(room), ...clients.map((client) => client.store.getContent())],
    ([server, ...others]) => others.every((content) => canonical(content) === canonical(server)),
    { timeoutMs: 3_000, what: "convergence" },
  );
const listsOfStamps = (list: { mock: { calls: [{ prefix?: string; start?: string }][] } }) =>
  list.mock.calls.filter(([range]) => (range.prefix ?? range.start ?? "").includes(STAMP_PREFIX)).length;
/** The hashes a client that joins a room rebuilt from storage alone finds. */
const hashesFromStorage = async (room: TestRoom) => {
  const fresh = await room.restart();
  const client = await connectSync(fresh, `check-${Math.random()}`);
  await converged(fresh, [client]);
  const hashes = client.store.getMergeableContentHashes();
  await client.close();
  return hashes;
};

describe("a room's synchronizer stamps", () => {
  it("are not read at wake-up, by HTTP or by persister clients: only for the first synchronizer client", async () => {
    const room = await createTestRoom({ now: Date.now });
    await room.request("PUT", "/store", [{ pets: { fido: { species: "dog" } } }, {}]);
    const list = vi.spyOn(room.storage, "list");
    const restarted = await room.restart();
    await restarted.request("GET", "/store");
    const persister = restarted.connect("persister");
    await restarted.room.handleMessage(persister, changesFrame([{ pets: { felix: { species: "cat" } } }, {}, 1]));
    await settle();
    expect(listsOfStamps(list)).toBe(0);

    const client = await connectSync(restarted, "a");
    await converged(restarted, [client]);
    expect(listsOfStamps(list)).toBeGreaterThan(0);
    // The stamps written while they were not loaded are the ones the client now holds.
    expect(client.store.getMergeableContentHashes()).toEqual(await hashesFromStorage(restarted));
  });

  it("are read before a synchronizer socket opens, when the adapter asks: not for other sockets", async () => {
    const room = await createTestRoom({ now: Date.now });
    await room.request("PUT", "/store", [{ pets: { fido: { species: "dog" } } }, {}]);
    const list = vi.spyOn(room.storage, "list");
    const restarted = await room.restart();
    await restarted.room.prepareSocket(new Request("http://room.test/parties/main/test-room", { headers: ADMITTED }));
    expect(listsOfStamps(list)).toBe(0);
    await restarted.room.prepareSocket(new Request("http://room.test/parties/main/test-room/sync", { headers: ADMITTED }));
    expect(listsOfStamps(list)).toBeGreaterThan(0);
  });

  it("take in the stamps that writes earlier in the loading group recorded, and give them back if that group fails", async () => {
    for (const fails of [false, true]) {
      const room = await createTestRoom({ now: Date.now });
      await room.request("PUT", "/store", [{ pets: { fido: { species: "dog" } } }, {}]);
      const restarted = await room.restart();
      const persister = restarted.connect("persister");
      if (fails) vi.spyOn(restarted.storage, "write").mockRejectedValueOnce(new Error("disk full"));
      // One group: the persister's write, then the load a synchronizer socket's connection starts
      // (a socket that stays silent, so that no client hands the room back what it missed).
      const written = restarted.room.handleMessage(persister, changesFrame([{ pets: { fido: { legs: 4 } } }, {}, 1]));
      const silent = createConnection("silent");
      restarted.connections.push(silent);
      restarted.room.handleConnect(silent, new Request("http://room.test/parties/main/test-room/sync", { headers: ADMITTED }));
      await written;
      await settle();
      // What the room holds in memory, as a client joining it now finds it, is what it stored.
      const client = await connectSync(restarted, "a");
      await converged(restarted, [client]);
      expect(client.store.getCell("pets", "fido", "legs"), `group fails: ${fails}`).toBe(fails ? undefined : 4);
      expect(client.store.getMergeableContentHashes(), `group fails: ${fails}`).toEqual(await hashesFromStorage(restarted));
    }
  });

  it("keep the room's clock past every stamp across restarts, also for a room kept before the latest-stamp key", async () => {
    for (const legacy of [false, true]) {
      const room = await createTestRoom({ now: Date.now });
      // A client whose clock runs four minutes ahead (TinyBase accepts up to five).
      const ahead = createMergeableStore("ahead", () => Date.now() + 4 * 60_000);
      const early = await connectSync(room, "early", ahead);
      ahead.setCell("pets", "fido", "legs", 3);
      await converged(room, [early]);
      await early.close();
      if (legacy) {
        const latest = [...room.storage.entries.keys()].find((key) => key.endsWith(LATEST_KEY));
        expect(latest).toBeDefined();
        room.storage.entries.delete(latest!);
      }
      // After a restart, a persister client's later write must win over the stamp from the future.
      const restarted = await room.restart();
      const persister = restarted.connect("persister");
      await restarted.room.handleMessage(persister, changesFrame([{ pets: { fido: { legs: 4 } } }, {}, 1]));
      const back = await connectSync(restarted, "early-back", ahead);
      await converged(restarted, [back]);
      expect(ahead.getCell("pets", "fido", "legs"), `legacy: ${legacy}`).toBe(4);
      expect(((await storedContent(restarted)) as any)[0].pets.fido.legs, `legacy: ${legacy}`).toBe(4);
    }
  });

  it("answer a request only with what is stored: never a write that is still being stored and then fails", async () => {
    const room = await createTestRoom({ now: Date.now });
    await room.request("PUT", "/store", [{ pets: { fido: { species: "dog" } } }, {}]);
    const joining = createConnection("joining");
    room.connections.push(joining);
    const syncRequest = new Request("http://room.test/parties/main/test-room/sync", { headers: ADMITTED });
    await room.room.prepareSocket(syncRequest);
    room.room.handleConnect(joining, syncRequest);
    // A persister client's write whose storage write fails 20 ms after it starts.
    vi.spyOn(room.storage, "write").mockImplementationOnce(() => new Promise((_, reject) => setTimeout(() => reject(new Error("disk full")), 20)));
    const persister = room.connect("persister");
    const written = room.room.handleMessage(persister, changesFrame([{ pets: { fido: { legs: 4 } } }, {}, 1]));
    await new Promise((resolve) => setTimeout(resolve, 5));
    // A client asks for every table while that write is being stored.
    await room.room.handleMessage(joining, 'S\n["join1234567.abcd",4,{}]');
    await written;
    await waitFor(() => joining.sent.length, (count) => count > 0, { what: "the answer" });
    const answer = joining.sent.find((frame) => frame.includes("join1234567.abcd"))!;
    expect(answer).toContain('"species"');
    expect(answer).not.toContain('"legs"');
  });

  it("answer joining clients from one encoding of the content until it changes", async () => {
    const room = await createTestRoom({ now: Date.now });
    await room.request("PUT", "/store", [{ pets: { fido: { species: "dog" } } }, {}]);
    const first = await connectSync(room, "first");
    const second = await connectSync(room, "second");
    await converged(room, [first, second]);
    first.store.setCell("pets", "felix", "species", "cat");
    await converged(room, [first, second]);
    // A client joining after the change is given the content as it now is.
    const third = await connectSync(room, "third");
    await converged(room, [third]);
    expect(third.store.getCell("pets", "felix", "species")).toBe("cat");
    expect(third.store.getMergeableContentHashes()).toEqual(first.store.getMergeableContentHashes());
  });
});
