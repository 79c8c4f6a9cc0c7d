// Presence against real `wrangler dev` and `partykit dev`, one server each: two client-library
// clients see each other's state and each other leave, a socket killed without a close leaves
// too, and a flood of updates from one socket reaches the others coalesced, the last state winning.
// Under wrangler dev also two Chromium pages (Debian's, via playwright-core) running the client
// library bundled by esbuild: each sees the other's state, and the one that stays sees the other go.
import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connectRoom, type Room } from "../../client/index.ts";
import type { ServerMessage } from "../../party/protocol.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const FAST_RECONNECT = { minReconnectionDelay: 50, maxReconnectionDelay: 500, connectionTimeout: 2_000 };
const FLOOD = 1_000;

describe.each(["wrangler", "partykit"] as const)("presence under %s dev", (kind) => {
  let server: RunningServer;
  const rooms: Room[] = [];
  const sockets: WebSocket[] = [];
  const connect = (room: string) => {
    const client = connectRoom({ host: server.host, room, ...FAST_RECONNECT });
    rooms.push(client);
    return client;
  };
  const peersOf = async (room: string) => ((await (await fetch(`${server.origin}/parties/main/${room}/presence`)).json()) as { peers: Record<string, unknown> }).peers;

  beforeAll(async () => {
    server = await startServer({ kind });
  });
  afterAll(async () => {
    rooms.forEach((room) => room.close());
    sockets.forEach((socket) => socket.terminate());
    await server?.stop();
  });

  it("shows two clients each other's state, and the one that stays sees the other leave", async () => {
    const alice = connect("two");
    const bob = connect("two");
    await waitFor(() => [alice.presence.self, bob.presence.self], (ids) => ids.every(Boolean), { what: "both hellos" });
    alice.presence.set({ name: "alice", cursor: [1, 2] });
    bob.presence.set({ name: "bob" });
    await waitFor(() => bob.presence.peers[alice.presence.self!], (state) => state !== undefined, { what: "alice on bob" });
    await waitFor(() => alice.presence.peers[bob.presence.self!], (state) => state !== undefined, { what: "bob on alice" });
    expect(bob.presence.peers).toEqual({ [alice.presence.self!]: { name: "alice", cursor: [1, 2] } });
    expect(alice.presence.peers).toEqual({ [bob.presence.self!]: { name: "bob" } });
    expect(Object.keys(await peersOf("two")).sort()).toEqual([alice.presence.self, bob.presence.self].sort());
    const changes: unknown[] = [];
    bob.presence.onChange((peers) => changes.push(peers));
    alice.close();
    await waitFor(() => bob.presence.peers, (peers) => Object.keys(peers).length === 0, { what: "alice's leave" });
    expect(changes.at(-1)).toEqual({});
    expect(Object.keys(await peersOf("two"))).toEqual([bob.presence.self]);
  });

  it("coalesces a flood of updates from one socket, and a socket killed without a close leaves", async () => {
    const watcher = connect("flood");
    const frames: ServerMessage[] = [];
    watcher.onMessage((message) => void (message.t === "presence" && "set" in message && frames.push(message)));
    await waitFor(() => watcher.presence.self, Boolean, { what: "the watcher's hello" });
    const flooder = new WebSocket(`ws://${server.host}/parties/main/flood`);
    sockets.push(flooder);
    const hello = await new Promise<any>((resolve, reject) => {
      flooder.once("message", (data) => resolve(JSON.parse(String(data).slice(1))));
      flooder.once("error", reject);
    });
    for (let i = 1; i <= FLOOD; i++) flooder.send("x" + JSON.stringify({ t: "presence", state: { i } }));
    await waitFor(() => watcher.presence.peers[hello.self], (state) => (state as { i?: number } | undefined)?.i === FLOOD, { what: "the last state" });
    // One frame every 50 ms at most: however long the room took for 1,000 frames, far fewer than 1,000.
    expect(frames.length).toBeLessThan(FLOOD / 10);
    flooder.terminate();
    await waitFor(() => watcher.presence.peers, (peers) => !(hello.self in peers), { what: "the killed socket's leave" });
    expect(await peersOf("flood")).toEqual({});
  });

  if (kind === "wrangler") {
    let browser: Browser | undefined;
    const errors: string[] = [];
    afterAll(async () => browser?.close());

    /** A page with the client library as `globalThis.roomstore`, connected to `room` as `globalThis.room`. */
    const openPage = async (bundle: string, room: string, name: string): Promise<Page> => {
      browser ??= await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      const page = await browser.newPage();
      page.on("pageerror", (error) => errors.push(error.message));
      await page.goto(`${server.origin}/parties/main/${room}/presence`); // an origin for the page, nothing more
      await page.addScriptTag({ content: bundle });
      await page.evaluate(
        ([host, room, name]) => {
          const scope = globalThis as any;
          scope.room = scope.roomstore.connectRoom({ host, room });
          scope.room.presence.set({ name });
        },
        [server.host, room, name],
      );
      return page;
    };
    const peerNames = (page: Page) => page.evaluate(() => Object.values((globalThis as any).room.presence.peers).map((state: any) => state.name));

    it("shows two Chromium pages each other's state, and the other's leave", async () => {
      const { outputFiles } = await build({ entryPoints: ["client/index.ts"], bundle: true, format: "iife", globalName: "roomstore", platform: "browser", target: "es2022", write: false, logLevel: "warning" });
      const bundle = outputFiles[0].text;
      const [ann, ben] = [await openPage(bundle, "pages", "ann"), await openPage(bundle, "pages", "ben")];
      await waitFor(() => peerNames(ann), (names) => names.join() === "ben", { what: "ben on ann's page" });
      await waitFor(() => peerNames(ben), (names) => names.join() === "ann", { what: "ann on ben's page" });
      await ann.close();
      await waitFor(() => peerNames(ben), (names) => names.length === 0, { what: "ann's leave on ben's page" });
      expect(errors).toEqual([]);
    });
  }
});
