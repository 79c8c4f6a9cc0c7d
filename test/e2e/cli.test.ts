// The `roomstore` command line, run as a child process against a real `wrangler dev` (and, for
// export, import and delete, `partykit dev`): a room round-trips through export and import with
// its store (byte for byte, key order included), events and producer ids; an import into a room
// with data is refused before its input is read; bad usage exits 2; a file that cannot be read is
// named; a deleted room is new; tail follows the log and ends with status 0 on Ctrl-C (under npm
// exec too) and when its reader closes the pipe.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, CLI_MAIN, cliToHead } from "../support/cli-run.ts";
import { createRoomHttp, openSocket } from "../support/room-http.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

const dir = mkdtempSync(path.join(tmpdir(), "roomstore-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A room with a store whose rows are not in key order, application events and producer ids. */
const seed = async (server: RunningServer, room: string) => {
  const http = createRoomHttp(server.origin, room);
  expect((await http.putStore([{ t: { seed: { n: 0 } } }, { z: 1, a: 2 }])).status).toBe(201);
  const socket = await openSocket(server.host, room);
  for (const id of ["r0", "r1", "r10", "r2", "12", "3"]) socket.send("s" + JSON.stringify([{ t: { [id]: { n: id, tags: "\uFFFD[1]" } } }, {}, 1]));
  await waitFor(() => http.page("stream=$store"), (page) => page.body.head >= 7, { what: "the changes" });
  socket.close();
  expect((await http.append([{ type: "made", id: "p-1", data: { n: 1 } }, { type: "made", stream: "orders", data: [1] }])).status).toBe(201);
  return http;
};

const storeText = async (server: RunningServer, room: string) => (await fetch(`${server.origin}/parties/main/${room}/store`)).text();
const eventsOf = async (server: RunningServer, room: string) =>
  ((await (await fetch(`${server.origin}/parties/main/${room}/events?limit=1000`)).json()) as { events: { room: string }[] }).events;
const withoutRoom = (events: { room: string }[]) => events.map(({ room: _room, ...event }) => event);

describe("the command line against wrangler dev", () => {
  let server: RunningServer;
  const url = (room: string) => `${server.origin}/parties/main/${room}`;

  beforeAll(async () => {
    server = await startServer({ kind: "wrangler" });
  });
  afterAll(async () => server?.stop());

  it("round-trips a room through export and import: store bytes, key order, events, producer ids", async () => {
    await seed(server, "cli-source");
    const file = path.join(dir, "source.ndjson");
    const exported = await cli(["export", url("cli-source"), "-o", file]);
    expect(exported, exported.stderr).toMatchObject({ code: 0, stdout: "" });
    const imported = await cli(["import", url("cli-target"), file]);
    expect(imported, imported.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(imported.stdout)).toEqual({ head: 9, first: 1, events: 9 });

    const store = await storeText(server, "cli-source");
    expect(store.indexOf('"r10"')).toBeLessThan(store.indexOf('"r2"'));
    expect(await storeText(server, "cli-target")).toBe(store);
    expect(withoutRoom(await eventsOf(server, "cli-target"))).toEqual(withoutRoom(await eventsOf(server, "cli-source")));
    // The export of the copy is the export of the original, but for the room's name.
    const again = await cli(["export", url("cli-target")]);
    expect(again.stdout.replaceAll('"room":"cli-target"', '"room":"cli-source"')).toBe(readFileSync(file, "utf8"));

    const target = createRoomHttp(server.origin, "cli-target");
    const retried = await target.append({ type: "made", id: "p-1", data: { n: 1 } });
    expect(retried.body.events[0].seq).toBe(8);
    const next = await cli(["append", url("cli-target"), "--type", "later", "--stream", "s", "--data", '{"n":2}']);
    expect(JSON.parse(next.stdout)).toMatchObject({ seq: 10, type: "later", stream: "s", data: { n: 2 }, room: "cli-target" });
    expect((await target.page()).body.head).toBe(10);
  });

  it("refuses an import into a room that has data before it reads its input: exit 1, one line, the room unchanged", async () => {
    await seed(server, "cli-full");
    const before = await storeText(server, "cli-full");
    // stdin stays open and empty: an import that uploaded first would wait on it for good.
    const refused = await cli(["import", url("cli-full")], { openStdin: true });
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/^roomstore import: This room has data \(9 events\): import only into a new room .*\n$/);
    expect(await storeText(server, "cli-full")).toBe(before);
  });

  it("names the file an import cannot read: exit 1, one line", async () => {
    const cases: [string, RegExp][] = [
      [path.join(dir, "missing.ndjson"), /^roomstore import: cannot read .*missing\.ndjson: no such file or directory\n$/],
      [dir, /^roomstore import: cannot read .*: is a directory\n$/],
    ];
    const runs = await Promise.all(cases.map(([file]) => cli(["import", url("cli-no-file"), file])));
    runs.forEach((run, i) => expect([run.code, run.stdout, run.stderr], cases[i][0]).toEqual([1, "", expect.stringMatching(cases[i][1])]));
    expect((await eventsOf(server, "cli-no-file")).length).toBe(0);
  });

  it("ends with status 0, and nothing on stderr, when its reader closes the pipe (| head -1)", async () => {
    // Some 400 KB of events: far more than a pipe holds, so writes go on after head has exited.
    const http = createRoomHttp(server.origin, "cli-pipe");
    const data = "x".repeat(2_000);
    for (let i = 0; i < 2; i++) await http.appendOk(Array.from({ length: 100 }, () => ({ type: "big", data })));
    const commands = [["export"], ["tail", "--until", "caught-up"], ["tail"]];
    const runs = await Promise.all(commands.map(([command, ...options]) => cliToHead([command, url("cli-pipe"), ...options])));
    runs.forEach((run, i) => expect([run.code, run.stderr], commands[i].join(" ")).toEqual([0, ""]));
    expect(JSON.parse(runs[0].stdout)).toMatchObject({ format: "roomstore-export", head: 200 });
    expect(JSON.parse(runs[2].stdout)).toMatchObject({ seq: 1, type: "big" });
  });

  it("leaves the room empty when an import breaks halfway", async () => {
    await seed(server, "cli-broken-source");
    const lines = (await (await fetch(`${url("cli-broken-source")}/export`)).text()).trim().split("\n");
    const broken = [...lines.slice(0, 6), '{"seq":6,"id":', ...lines.slice(7)].join("\n");
    const failed = await cli(["import", url("cli-broken")], { input: broken });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/400/);
    expect(await storeText(server, "cli-broken")).toBe("");
    expect((await eventsOf(server, "cli-broken")).length).toBe(0);
    expect((await cli(["import", url("cli-broken")], { input: lines.join("\n") })).code).toBe(0);
  });

  it("imports TinyBase content as a first save, and prints the store (a token from ROOMSTORE_TOKEN)", async () => {
    const imported = await cli(["import", url("cli-tinybase")], { input: '[{"pets":{"fido":{"legs":4}}},{"open":true}]' });
    expect(imported.code, imported.stderr).toBe(0);
    // Auth is off under plain `npm start`: a bearer token is sent and ignored.
    const snapshot = await cli(["snapshot", url("cli-tinybase")], { env: { ROOMSTORE_TOKEN: "t" } });
    expect(snapshot.stdout).toBe('[{"pets":{"fido":{"legs":4}}},{"open":true}]\n');
  });

  it("prints the store as of a log position, and restores it with --yes (1 and a clear line when refused)", async () => {
    await seed(server, "cli-travel");
    const at1 = await cli(["snapshot", url("cli-travel"), "--at", "1"]);
    expect(at1, at1.stderr).toMatchObject({ code: 0, stdout: '[{"t":{"seed":{"n":0}}},{"z":1,"a":2}]\n' });
    const restored = await cli(["restore", url("cli-travel"), "--at", "1", "--yes"]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toEqual({ seq: 10, restoredFrom: 1 });
    expect(await storeText(server, "cli-travel")).toBe('[{"t":{"seed":{"n":0}}},{"z":1,"a":2}]');
    const past = await cli(["snapshot", url("cli-travel"), "--at", "99"]);
    expect([past.code, past.stdout, past.stderr]).toEqual([1, "", expect.stringMatching(/past the head.*\(bad_request\)\n$/)]);
  });

  it("exits 2 on bad usage, with nothing on stdout; prints help on stdout", async () => {
    const cases: [string[], RegExp][] = [
      [[], /roomstore <command>/],
      [["nope", url("cli-usage")], /Unknown command/],
      [["snapshot", "http://host/not-a-room"], /Not a room URL/],
      [["tail", url("cli-usage"), "--from", "1", "--after", "2"], /--from or --after/],
      [["delete", url("cli-usage")], /--yes/],
      [["restore", url("cli-usage"), "--at", "1"], /--yes/],
      [["restore", url("cli-usage"), "--yes"], /--at N/],
      [["snapshot", url("cli-usage"), "--at", "one"], /--at takes a seq/],
      [["export", url("cli-usage"), "--bogus"], /Unknown option/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    runs.forEach((run, i) => expect([run.code, run.stdout, run.stderr], cases[i][0].join(" ")).toEqual([2, "", expect.stringMatching(cases[i][1])]));
    const help = await cli(["export", "--help"]);
    expect([help.code, help.stdout.startsWith("roomstore export <room-url> [-o FILE]")]).toEqual([0, true]);
  });

  it("deletes a room: store and log gone, sockets closed, the room new", async () => {
    await seed(server, "cli-delete");
    const socket = await openSocket(server.host, "cli-delete");
    const closed = new Promise<number>((resolve) => socket.addEventListener("close", (event) => resolve(event.code)));
    const deleted = await cli(["delete", url("cli-delete"), "--yes"]);
    expect(deleted, deleted.stderr).toMatchObject({ code: 0, stdout: "" });
    expect(await closed).toBe(1001);
    expect(await storeText(server, "cli-delete")).toBe("");
    const http = createRoomHttp(server.origin, "cli-delete");
    expect((await http.page()).body).toEqual({ events: [], next: 0, head: 0 });
    expect((await http.putStore([{}, { fresh: true }])).status).toBe(201);
    expect((await http.page()).body.events.map((event: { seq: number }) => event.seq)).toEqual([1]);
  });

  it("tails the log: history up to caught-up, or live until interrupted", async () => {
    await seed(server, "cli-tail");
    const history = await cli(["tail", url("cli-tail"), "--types", "made", "--until", "caught-up"]);
    expect(history.stdout.trim().split("\n").map((line) => JSON.parse(line).seq)).toEqual([8, 9]);
    const fromStream = await cli(["tail", url("cli-tail"), "--stream", "orders", "--after", "1", "--until", "caught-up"]);
    expect(fromStream.stdout.trim().split("\n").map((line) => JSON.parse(line).seq)).toEqual([9]);

    const child = spawn(process.execPath, [CLI_MAIN, "tail", url("cli-tail"), "--after", "9"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    await createRoomHttp(server.origin, "cli-tail").append({ type: "live", data: { n: 1 } });
    await waitFor(() => stdout, (text) => text.includes('"live"'), { what: "the live event" });
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(JSON.parse(stdout.trim())).toMatchObject({ seq: 10, type: "live" });
  });

  it("ends tail with status 0 on Ctrl-C under npm exec, which forwards the signal once more", async () => {
    await createRoomHttp(server.origin, "cli-ctrl-c").appendOk({ type: "first" });
    // `exec` replaces npm's shell with the command line, as `npx roomstore` does where /bin/sh is
    // bash; where it is dash, that shell dies of the Ctrl-C itself (docs/command-line.md).
    const command = `exec "${process.execPath}" "${CLI_MAIN}" tail "${url("cli-ctrl-c")}"`;
    const child = spawn("npm", ["exec", "--offline", "--yes=false", "-c", command], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    try {
      let stdout = "";
      child.stdout.on("data", (chunk) => (stdout += chunk));
      const exited = new Promise<[number | null, string | null]>((resolve) => child.on("close", (code, signal) => resolve([code, signal])));
      await waitFor(() => stdout, (text) => text.includes('"first"'), { what: "the tail's first event" });
      // A terminal's Ctrl-C signals its whole foreground group: npm and the command line.
      process.kill(-child.pid!, "SIGINT");
      expect(await exited).toEqual([0, null]);
    } finally {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // The group is gone.
      }
    }
  });
});

describe("export, import and delete under partykit dev", () => {
  let server: RunningServer;
  const url = (room: string) => `${server.origin}/parties/main/${room}`;

  beforeAll(async () => {
    server = await startServer({ kind: "partykit" });
  });
  afterAll(async () => server?.stop());

  it("round-trips a room and deletes it", async () => {
    await seed(server, "pk-source");
    const file = path.join(dir, "pk.ndjson");
    expect((await cli(["export", url("pk-source"), "-o", file])).code).toBe(0);
    const imported = await cli(["import", url("pk-target"), file]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(await storeText(server, "pk-target")).toBe(await storeText(server, "pk-source"));
    expect(withoutRoom(await eventsOf(server, "pk-target"))).toEqual(withoutRoom(await eventsOf(server, "pk-source")));
    expect((await fetch(`${url("pk-target")}/import`, { method: "POST", body: readFileSync(file) })).status).toBe(409);
    expect((await cli(["delete", url("pk-target"), "--yes"])).code).toBe(0);
    expect(await storeText(server, "pk-target")).toBe("");
  });
});
