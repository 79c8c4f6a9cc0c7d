// One room per name on every path, against real `wrangler dev` and `partykit dev` (one server of
// each): names with `/`, `..`, `%`, `?`, `#`, spaces and non-ASCII are written through every way
// in (HTTP, the client library over PartySocket, a raw socket, a TinyBase synchronizer on `/sync`,
// the command line, Durable Streams) and read back through every way out (the store, log pages,
// SSE, export and import, stats, the client library's readers); the rooms that a name spelled
// wrongly would reach instead hold nothing. A socket opened at an unencoded name is refused with
// 404. Under wrangler, the inspector in Chromium opens such rooms and edits them.
/// <reference types="node" />
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connectRoom, getSnapshot, type RoomEvent } from "../../client/index.ts";
import { cli } from "../support/cli-run.ts";
import { createRoomHttp, openSocket } from "../support/room-http.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { openSseStream } from "../support/sse.ts";
import { connectSync } from "../support/sync-client.ts";
import { waitFor } from "../support/wait.ts";

/** Each name, and rooms it must not touch: where it lands when `/`, `?`, `#` or `..` split it, or when it is decoded twice. */
const NAMES: [name: string, siblings: string[]][] = [
  ["a/b", ["a", "b", "a%2Fb"]],
  ["../x", ["x", "..%2Fx"]],
  ["%2F", ["/", "%252F"]],
  ["q?s=1#frag", ["q", "q?s=1"]],
  ["my room/café 日本", ["my", "my room", "my+room/café 日本", "my%20room/café 日本", "café 日本"]],
  ["../c/d?e=f#g %2F", ["c", "../c", "c/d", "d"]],
  ["u/v/../w", ["u", "u/w", "w"]],
];

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/** How long the inspector may take to get there (vitest's default poll is 1 s). */
const SETTLE_MS = 20_000;

/** The status with which a `ws` socket's upgrade was answered: 101 when it opened. */
const upgradeStatus = (url: string) =>
  new Promise<number>((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.on("open", () => (socket.close(), resolve(101)));
    socket.on("unexpected-response", (_request, response) => (response.resume(), socket.terminate(), resolve(response.statusCode ?? 0)));
    socket.on("error", (error) => void (error.message.includes("Unexpected server response") || reject(error)));
  });

describe.each(["wrangler", "partykit"] as const)("under %s dev", (kind) => {
  let server: RunningServer;
  let browser: Browser | undefined;
  const roomAt = (name: string) => `${server.origin}/parties/main/${encodeURIComponent(name)}`;

  /** A room that holds nothing: no store, no events (reading it creates nothing). */
  const expectEmpty = async (name: string) => {
    const http = createRoomHttp(server.origin, name);
    expect([(await http.getStore()).text, await http.head()], `room ${JSON.stringify(name)}`).toEqual(["", 0]);
  };

  beforeAll(async () => {
    server = await startServer({ kind });
    if (kind === "wrangler") browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it.each(NAMES)("%j is one room on every path", async (name, siblings) => {
    const url = roomAt(name);
    const http = createRoomHttp(server.origin, name);
    expect((await http.putStore([{ t: { r: { http: 1 } } }, {}])).status).toBe(201);
    await http.appendOk({ type: "http" });
    // The command line's append runs meanwhile (a child process takes a while to start).
    const appending = cli(["append", url, "--type", "cli"]);

    // The client library: its socket and its readers address the same room.
    const room = connectRoom({ host: server.host, room: name });
    expect(room.socket.roomUrl).toBe(`ws://${server.host}/parties/main/${encodeURIComponent(name)}`);
    await room.append([{ type: "library" }]);
    await room.sendChanges([{ t: { r: { library: 1 } } }, {}, 1]);
    expect((await getSnapshot(room.http)).content).toEqual([{ t: { r: { http: 1, library: 1 } } }, {}]);
    room.close();

    const socket = await openSocket(server.host, encodeURIComponent(name));
    socket.send("s" + JSON.stringify([{ t: { r: { raw: 1 } } }, {}, 1]));
    await waitFor(() => http.getStore(), (store) => store.body?.[0].t.r.raw === 1, { what: "the raw socket's change" });
    socket.close();

    const sync = await connectSync(server.host, encodeURIComponent(name));
    await waitFor(() => sync.store.getCell("t", "r", "raw"), (raw) => raw === 1, { what: "the room's content at the synchronizer" });
    sync.store.setCell("t", "r", "sync", 1);
    await waitFor(() => http.getStore(), (store) => store.body?.[0].t.r.sync === 1, { what: "the synchronizer's change" });
    await sync.close();

    const appended = await appending;
    expect(appended, appended.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(appended.stdout)).toMatchObject({ type: "cli", room: name });
    const content = [{ t: { r: { http: 1, library: 1, raw: 1, sync: 1 } } }, {}];
    const snapshot = await cli(["snapshot", url]);
    expect([snapshot.code, JSON.parse(snapshot.stdout)]).toEqual([0, content]);

    // Read back: every event is this room's, on every way out.
    const events = await http.allEvents();
    expect(events.map(({ type }) => type)).toEqual(expect.arrayContaining(["$init", "http", "library", "$changes", "cli"]));
    expect(new Set(events.map((event) => event.room))).toEqual(new Set([name]));
    const sse = await openSseStream(http.eventsUrl("until=caught-up&limit=1000"));
    await sse.ended;
    const streamed = sse.records.filter(({ type }) => type !== "caught-up").map(({ data }) => JSON.parse(data) as RoomEvent);
    expect(streamed).toEqual(events);
    const exported = await (await fetch(`${url}/export`)).text();
    expect(JSON.parse(exported.split("\n")[0])).toMatchObject({ format: "roomstore-export", room: name, head: events.length });
    const stats = (await (await fetch(`${url}/stats`)).json()) as { room: string; head: number };
    expect([stats.room, stats.head]).toEqual([name, events.length]);

    const copy = `${name}/copy`;
    const imported = await fetch(`${roomAt(copy)}/import`, { method: "POST", headers: { "Content-Type": "application/x-ndjson" }, body: exported });
    expect(imported.status, await imported.clone().text()).toBeLessThan(300);
    expect((await createRoomHttp(server.origin, copy).getStore()).body).toEqual(content);
    expect(new Set((await createRoomHttp(server.origin, copy).allEvents()).map((event) => event.room))).toEqual(new Set([copy]));

    // Durable Streams last: an import refuses the `$ds/` streams they write in the log. The stream
    // is this room's only.
    const stream = `${url}/v1/stream/ds`;
    expect((await fetch(stream, { method: "PUT", headers: { "Content-Type": "application/json" }, body: '[{"n":1}]' })).status).toBe(201);
    expect(await (await fetch(`${stream}?offset=-1`)).json()).toEqual([{ n: 1 }]);
    expect((await fetch(`${roomAt(copy)}/v1/stream/ds?offset=-1`)).status).toBe(404);

    for (const sibling of siblings) await expectEmpty(sibling);
  });

  it("refuses a socket at an unencoded name with 404, and leaves the room that its first segment names alone", async () => {
    for (const path of ["split/b", "split/b/sync", "split/sync/x", "split/store"]) {
      expect(await upgradeStatus(`ws://${server.host}/parties/main/${path}`), path).toBe(404);
    }
    if (kind === "partykit") expect(await upgradeStatus(`ws://${server.host}/party/split/b`)).toBe(404);
    await expectEmpty("split");
    expect(((await (await fetch(`${roomAt("split")}/stats`)).json()) as { connections: number }).connections).toBe(0);
  });

  it("refuses names no URL can carry, in the client library and the command line", async () => {
    for (const name of [".", "..", ""]) expect(() => connectRoom({ host: server.host, room: name, startClosed: true })).toThrow(RangeError);
    for (const url of [`${server.origin}/parties/main/..`, `${server.origin}/parties/main/%2E`, `${server.origin}/parties/main/a/b`, `${server.origin}/parties/main/a%ZZ`]) {
      const run = await cli(["snapshot", url]);
      expect([run.code, run.stdout], url).toEqual([2, ""]);
      expect(run.stderr).toMatch(/Not a room (URL|name)/);
    }
    await expectEmpty("a");
  });

  // The inspector is served by the Workers entry only.
  if (kind === "wrangler") it("opens such rooms in the inspector, and its edits reach them and no other", async () => {
    const context = await browser!.newContext();
    const errors: string[] = [];
    for (const [name, siblings] of NAMES.filter(([name]) => ["a/b", "../x", "../c/d?e=f#g %2F"].includes(name))) {
      const page = await context.newPage();
      page.on("pageerror", (error) => errors.push(`${name}: ${error.message}`));
      await page.goto(`${server.origin}/?room=${encodeURIComponent(name)}`);
      await page.locator("#status", { hasText: "live" }).waitFor();
      await page.locator('[data-row="r"] [data-cell="http"]').waitFor();
      await page.fill("#add-form [name=table]", "t");
      await page.fill("#add-form [name=row]", "inspected");
      await page.fill("#add-form [name=cell]", "c");
      await page.fill("#add-form [name=text]", "seen");
      await page.click("#add-form button");
      const http = createRoomHttp(server.origin, name);
      await expect.poll(async () => (await http.getStore()).body[0].t.inspected, { timeout: SETTLE_MS }).toEqual({ c: "seen" });
      // The page's socket is in the room it reads over HTTP.
      await expect.poll(() => page.locator("dd[data-stat=connections]").innerText(), { timeout: SETTLE_MS }).toBe("1");
      for (const sibling of siblings) await expectEmpty(sibling);
      await page.close();
    }
    const refused = await context.newPage();
    refused.on("pageerror", (error) => errors.push(`..: ${error.message}`));
    await refused.goto(`${server.origin}/?room=..`);
    await refused.locator("#status", { hasText: "cannot open: A room name is" }).waitFor();
    await context.close();
    expect(errors).toEqual([]);
  });
});
