// Unmodified TinyBase 10 synchronizer clients (createWsSynchronizer over a MergeableStore) at
// `{room}/sync` of a real `wrangler dev` and a real `partykit dev`: in Node over `ws` (and, under
// wrangler dev, in Debian's Chromium), mixed with persister clients and HTTP PUTs under concurrent
// bursts, offline edits both ways, a restore that every client kind follows (persister,
// synchronizer, the client library, a log subscriber), a restart with a large room loaded cold,
// and bad frames.
import { build } from "esbuild";
import { chromium, type Browser } from "playwright-core";
import { createMergeableStore, createStore } from "tinybase";
import { connectRoom } from "../../client/index.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startServer, type RunningServer } from "../support/servers.ts";
import { canonical, connectSync, syncUrl, type SyncClient } from "../support/sync-client.ts";
import { connectTinyBase, decodedContent, serverContent, type TinyBaseClient } from "../support/tinybase-client.ts";
import { waitFor } from "../support/wait.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/** A room this large still answers a cold client's every request within TinyBase's 1 s (SYNC_REQUEST_TIMEOUT_MS). */
const LARGE_ROOM_ROWS = 500;
const LARGE_ROOM_CELLS_PER_ROW = 10;

/** LARGE_ROOM_ROWS rows of LARGE_ROOM_CELLS_PER_ROW string cells. */
const largeContent = () => {
  const rows: Record<string, Record<string, string>> = {};
  for (let row = 0; row < LARGE_ROOM_ROWS; row++) {
    rows[`r${row}`] = Object.fromEntries(Array.from({ length: LARGE_ROOM_CELLS_PER_ROW }, (_, cell) => [`c${cell}`, `${row}.${cell}`]));
  }
  return [{ big: rows }, {}];
};

describe.each(["wrangler", "partykit"] as const)("TinyBase synchronizer clients at {room}/sync of %s dev", (kind) => {
  let server: RunningServer;
  const open: { close(): Promise<void> }[] = [];
  const sync = async (room: string, store = createMergeableStore()) => {
    const client = await connectSync(server.host, room, store);
    open.push(client);
    return client;
  };
  const persister = async (room: string) => {
    const client = await connectTinyBase(server.host, room);
    open.push(client);
    return client;
  };
  const fromServer = async (room: string) => decodedContent((await serverContent(server.origin, room)) ?? [{}, {}]);
  /** Waits until every client holds the server's store; returns it. */
  const converged = async (room: string, clients: (SyncClient | TinyBaseClient)[], what = "convergence") =>
    (
      await waitFor(
        async () => [await fromServer(room), ...clients.map((client) => decodedContent(client.store.getContent()))],
        ([stored, ...others]) => others.every((content) => canonical(content) === canonical(stored)),
        { what, timeoutMs: 20_000 },
      )
    )[0];
  const head = async (room: string) => ((await (await fetch(`${server.origin}/parties/main/${room}/events?limit=1`)).json()) as { head: number }).head;

  beforeAll(async () => {
    server = await startServer({ kind });
  });
  afterAll(async () => {
    await Promise.all(open.map((client) => client.close().catch(() => undefined)));
    await server?.stop();
  });

  it("converge with persister and client-library clients and a log subscriber on a restore, and go on syncing after it", async () => {
    const room = "sync-restore";
    const restored = [{ pets: { fido: { legs: 4 } } }, { open: true }];
    const p = await connectTinyBase(server.host, room, { setup: (store) => store.setContent(restored as never) });
    open.push(p);
    const s = await sync(room);
    await converged(room, [p, s], "the first save");
    const position = await head(room);
    s.store.setCell("pets", "fido", "legs", 3).setCell("pets", "rex", "legs", 4);
    p.store.delValue("open");
    await waitFor(() => fromServer(room), (content) => canonical(content) === canonical([{ pets: { fido: { legs: 3 }, rex: { legs: 4 } } }, {}]), { what: "the edits" });
    const library = connectRoom({ host: server.host, room });
    open.push({ close: async () => library.close() });
    const libraryStore = createStore();
    await library.syncStore(libraryStore).ready;
    // A subscriber of the log: the $store events after the position, live, up to the restore's.
    const subscribed: { type: string }[] = [];
    const subscription = (async () => {
      for await (const event of library.events({ stream: "$store", after: position })) {
        subscribed.push(event);
        if (event.type === "$replace") return;
      }
    })();
    const past = await fetch(`${server.origin}/parties/main/${room}/store?at=${position}`);
    expect([past.status, canonical(await past.json())]).toEqual([200, canonical(restored)]);
    const response = await fetch(`${server.origin}/parties/main/${room}/restore`, { method: "POST", body: JSON.stringify({ at: position }) });
    expect(response.status).toBe(200);
    const { seq, restoredFrom } = (await response.json()) as { seq: number; restoredFrom: number };
    expect(restoredFrom).toBe(position);
    const clients = [p, s, { store: libraryStore } as unknown as TinyBaseClient];
    expect(canonical(await converged(room, clients, "every client kind to follow the restore"))).toBe(canonical(restored));
    // A reader of the log sees one $replace with the restored content.
    const events = ((await (await fetch(`${server.origin}/parties/main/${room}/events?from=${seq}`)).json()) as { events: { type: string; data: unknown }[] }).events;
    expect(events.map(({ type, data }) => [type, canonical(data)])).toEqual([["$replace", canonical(restored)]]);
    await subscription;
    expect(subscribed.at(-1)).toMatchObject({ seq, type: "$replace" });
    s.store.setCell("pets", "fido", "legs", 5);
    await waitFor(() => [p.store.getCell("pets", "fido", "legs"), libraryStore.getCell("pets", "fido", "legs")], (cells) => cells.every((cell) => cell === 5), { what: "a change after the restore" });
  });

  it("converge with persister clients and HTTP PUTs under concurrent bursts", async () => {
    const room = "sync-mixed";
    const [a, b] = [await sync(room), await sync(room)];
    const p = await persister(room);
    const put = async () => {
      for (;;) {
        const etag = (await fetch(`${server.origin}/parties/main/${room}/store`)).headers.get("ETag")!;
        const body = JSON.stringify([{ http: { row: { n: 1 } }, shared: { r0: { by: "http" } } }, { from: "http" }]);
        const answer = await fetch(`${server.origin}/parties/main/${room}/store`, { method: "PUT", body, headers: { "If-Match": etag } });
        if (answer.status !== 412) return answer.status;
      }
    };
    const burst = async (client: SyncClient | TinyBaseClient, by: string) => {
      for (let i = 0; i < 60; i++) {
        client.store.setCell("shared", `r${i % 10}`, "by", by);
        client.store.setCell(by, `r${i}`, "n", i);
        if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    await Promise.all([burst(a, "a"), burst(b, "b"), burst(p, "p"), new Promise((resolve) => setTimeout(resolve, 20)).then(put)]);
    a.store.setValue("last", "a");
    const content = (await converged(room, [a, b, p])) as any;
    expect(content[1].last).toBe("a");
    // Every writer's rows survived, but for those the PUT replaced away.
    for (const by of ["a", "b", "p"]) expect(Object.keys(content[0][by] ?? {}).length + (content[0][by] ? 0 : 60)).toBeGreaterThan(0);
    expect(a.store.getMergeableContentHashes()).toEqual(b.store.getMergeableContentHashes());
  });

  it("exchange offline edits both ways when a client reconnects", async () => {
    const room = "sync-offline";
    const a = await sync(room);
    // Another spelling of the name: under PartyKit the socket is forwarded to the room's object (partykit.ts, admit).
    const b = await sync("sync%2Doffline");
    a.store.setCell("notes", "n1", "text", "first");
    await converged(room, [a, b]);
    await a.close();
    a.store.setCell("notes", "mine", "text", "written offline");
    a.store.setCell("notes", "n1", "text", "edited offline");
    b.store.setCell("notes", "theirs", "text", "written while a was away");
    await waitFor(() => fromServer(room), (content: any) => content[0].notes?.theirs !== undefined, { what: "b's edit" });
    const back = await sync(room, a.store);
    const content = (await converged(room, [back, b], "both sides' edits")) as any;
    expect(content[0].notes).toEqual({ n1: { text: "edited offline" }, mine: { text: "written offline" }, theirs: { text: "written while a was away" } });
  });

  it(`keep content and stamps across a restart: a rejoining client changes nothing, a new one loads it all, even from a cold room of ${LARGE_ROOM_ROWS * LARGE_ROOM_CELLS_PER_ROW} cells`, async () => {
    const room = "sync-restart";
    const a = await sync(room);
    a.store.setTable("pets", { fido: { species: "dog", tags: ["good"] as never }, felix: { species: "cat" } });
    a.store.delCell("pets", "felix", "species");
    await converged(room, [a]);
    await a.close();
    const before = await head(room);
    const large = largeContent();
    expect((await fetch(`${server.origin}/parties/main/sync-large/store`, { method: "PUT", body: JSON.stringify(large) })).status).toBe(201);
    await server.restart();
    // The first socket after the restart: the room loads from storage, and TinyBase does not retry a
    // load whose request timed out, so the store is whole only if every answer came within 1 s.
    const cold = await sync("sync-large");
    expect(cold.ignored).toEqual([]);
    expect(canonical(cold.store.getContent())).toBe(canonical(large));
    const fresh = await sync(room);
    await converged(room, [fresh]);
    expect(fresh.store.getMergeableContentHashes()).toEqual(a.store.getMergeableContentHashes());
    const again = await sync(room, a.store);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await converged(room, [again, fresh]);
    expect(await head(room)).toBe(before);
  });

  it("close a socket that sends a malformed frame, changing nothing", async () => {
    const room = "sync-bad";
    const a = await sync(room);
    a.store.setCell("t", "r", "c", 1);
    await converged(room, [a]);
    const before = await head(room);
    for (const frame of ["no newline", 'S\n[null,3,[{"t":1},[{}],1]]', 'S\n[null,42,""]']) {
      const socket = new WebSocket(syncUrl(server.host, room));
      const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)));
      socket.on("open", () => socket.send(frame));
      expect(await closed).toBe(1007);
    }
    expect(await head(room)).toBe(before);
    expect(await fromServer(room)).toEqual([{ t: { r: { c: 1 } } }, {}]);
  });

  // One browser test is enough: the page's client is the same under either runtime.
  if (kind === "wrangler") describe("in Chromium", () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    });
    afterAll(async () => {
      await browser?.close();
    });

    it("sync a page's MergeableStore with a Node client through the room", async () => {
      const room = "sync-browser";
      const bundle = await build({
        stdin: {
          contents: 'export {createMergeableStore} from "tinybase"; export {createWsSynchronizer} from "tinybase/synchronizers/synchronizer-ws-client";',
          resolveDir: process.cwd(),
        },
        bundle: true,
        format: "iife",
        globalName: "TinyBase",
        write: false,
      });
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      await page.goto(`${server.origin}/parties/main/${room}/store`);
      await page.addScriptTag({ content: bundle.outputFiles[0].text });
      const node = await sync(room);
      node.store.setCell("pets", "fido", "species", "dog");
      await converged(room, [node]);
      await page.evaluate(async (url) => {
        // Names unlike the module's imports: vitest rewrites those, even inside a function sent to the page.
        const tinybase = (globalThis as any).TinyBase;
        const store = tinybase.createMergeableStore();
        const synchronizer = await tinybase.createWsSynchronizer(store, new (globalThis as any).WebSocket(url));
        await synchronizer.startSync();
        store.setCell("pets", "felix", "species", "cat");
        (globalThis as any).store = store;
      }, syncUrl(server.host, room));
      await waitFor(() => node.store.getCell("pets", "felix", "species"), (species) => species === "cat", { what: "the page's cell in Node" });
      node.store.setCell("pets", "rex", "species", "wolf");
      await waitFor(() => page.evaluate(() => (globalThis as any).store.getContent()), (content: any) => content[0].pets?.rex?.species === "wolf", { what: "Node's cell in the page" });
      expect(canonical(await page.evaluate(() => (globalThis as any).store.getContent()))).toBe(canonical(await fromServer(room)));
      expect(errors).toEqual([]);
    });
  });
});
