// The edges of a room against real `wrangler dev` and `partykit dev`: reads of rooms that never
// existed leave no data on disk, a body over MAX_BODY_BYTES gets a clean 413 every time, every
// spelling of a name reaches one room, sockets that share a client id are served apart, and a
// client's close is answered.
/// <reference types="node" />
import { readdirSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

/** MAX_BODY_BYTES (16 MiB) and one more MiB. */
const OVERSIZED_BODY_BYTES = 17 * 1024 * 1024;
const OVERSIZED_ATTEMPTS = 3;
/** A close answered later than this leaves a Node client hanging on for nothing. */
const PROMPT_CLOSE_MS = 3_000;

/**
 * Rows of the Durable Object storage table (`_cf_KV`) in every object's SQLite file under a
 * persist dir. Both runtimes create an object's file when it is first instantiated, empty of
 * data (wrangler dev's Miniflare also records the object's name in its own table for its tooling,
 * not in the object's storage); a room exists on disk only once something is in `_cf_KV`.
 */
const storedRows = (persistDir: string): number => {
  let rows = 0;
  for (const file of readdirSync(persistDir, { recursive: true }).map(String)) {
    if (!file.endsWith(".sqlite") || path.basename(file) === "metadata.sqlite") continue;
    const database = new DatabaseSync(path.join(persistDir, file), { readOnly: true });
    try {
      const table = database.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_cf_KV'").get();
      if (table) rows += (database.prepare("SELECT COUNT(*) AS count FROM _cf_KV").get() as { count: number }).count;
    } finally {
      database.close();
    }
  }
  return rows;
};

const sockets = new Set<WebSocket>();
const open = (url: string) =>
  new Promise<{ socket: WebSocket; frames: string[] }>((resolve, reject) => {
    const socket = new WebSocket(url);
    const frames: string[] = [];
    sockets.add(socket);
    socket.on("message", (data) => frames.push(String(data)));
    socket.on("open", () => resolve({ socket, frames }));
    socket.on("error", reject);
  });
const changesOf = (frames: string[]) => frames.filter((frame) => frame.startsWith("s")).map((frame) => JSON.parse(frame.slice(1)));

describe.each(["wrangler", "partykit"] as const)("under %s dev", (kind) => {
  let server: RunningServer;
  const at = (room: string, path = "") => `${server.origin}/parties/main/${room}${path}`;

  beforeAll(async () => {
    server = await startServer({ kind });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.terminate();
    sockets.clear();
    await server?.stop();
  });

  // First in the file: no room has been written yet, so every stored row would be a ghost's.
  it("answers reads of rooms that never existed as empty rooms, and stores nothing", async () => {
    for (const room of ["ghost-1", "ghost-2", "ghost%C3%A9"]) {
      const store = await fetch(at(room, "/store"));
      expect([store.status, await store.text()]).toEqual([200, ""]);
      const page = (await (await fetch(at(room, "/events"))).json()) as { events: unknown[]; head: number };
      expect([page.events, page.head]).toEqual([[], 0]);
      expect((await fetch(at(room, "/events/history?table=t&row=r"))).status).toBe(200);
    }
    expect(storedRows(server.persistDir)).toBe(0);
    expect((await fetch(at("written", "/store"), { method: "PUT", body: "[{},{}]" })).status).toBe(201);
    expect(storedRows(server.persistDir)).toBeGreaterThan(0);
  });

  it(`answers ${OVERSIZED_ATTEMPTS} PUTs and POSTs over MAX_BODY_BYTES with a JSON 413 each`, async () => {
    const body = new Uint8Array(OVERSIZED_BODY_BYTES).fill(0x20);
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < OVERSIZED_ATTEMPTS; attempt++) {
      for (const [method, path] of [["PUT", "/store"], ["POST", "/events"]]) {
        try {
          const response = await fetch(at(`big-${attempt}`, path), { method, body });
          const answer = (await response.json()) as { error: { code: string } };
          outcomes.push(`${response.status} ${answer.error.code}`);
        } catch (error) {
          outcomes.push(String((error as { cause?: { code?: string } }).cause?.code ?? error));
        }
      }
    }
    expect(outcomes).toEqual(Array(OVERSIZED_ATTEMPTS * 2).fill("413 too_large"));
    expect((await fetch(at("big-0", "/store"))).status).toBe(200);
  });

  it("reaches one room from every spelling of its name, over HTTP and WebSocket", async () => {
    expect((await fetch(at("caf%C3%A9", "/store"), { method: "PUT", body: '[{},{"v":1}]' })).status).toBe(201);
    expect(await (await fetch(at("caf%c3%a9", "/store"))).json()).toEqual([{}, { v: 1 }]);
    const listener = await open(`ws://${server.host}/parties/main/cafe%CC%81`);
    const writer = await open(`ws://${server.host}/parties/main/caf%c3%a9`);
    writer.socket.send('s[{},{"v":2},1]');
    await waitFor(() => changesOf(listener.frames), (changes) => changes.length > 0, { what: "the broadcast" });
    expect(changesOf(listener.frames)).toEqual([[{}, { v: 2 }, 1]]);
    const bad = await fetch(at("a%ZZ", "/store"));
    expect([bad.status, ((await bad.json()) as { error: { code: string } }).error.code]).toEqual([400, "bad_request"]);
  });

  it("serves two sockets that open with the same client id apart", async () => {
    await fetch(at("ident", "/store"), { method: "PUT", body: '[{},{"n":0}]' });
    const first = await open(`ws://${server.host}/parties/main/ident?_pk=alice`);
    const second = await open(`ws://${server.host}/parties/main/ident?_pk=alice`);
    const writer = await open(`ws://${server.host}/parties/main/ident?_pk=bob`);
    writer.socket.send('s[{},{"n":1},1]');
    await waitFor(() => [first, second].map(({ frames }) => changesOf(frames).length), (counts) => counts.every((count) => count === 1), { what: "both broadcasts" });
    second.socket.close(1000);
    writer.socket.send('s[{},{"n":2},1]');
    await waitFor(() => changesOf(first.frames), (changes) => changes.length === 2, { what: "the broadcast after the other socket closed" });
    expect(changesOf(first.frames)).toEqual([[{}, { n: 1 }, 1], [{}, { n: 2 }, 1]]);
  });

  // PartyKit also routes its short path `/party/:room` to the main party: the same room, the same resources.
  if (kind === "partykit") {
    it("serves a room's resources at PartyKit's short path /party/:room too", async () => {
      expect((await fetch(at("short", "/store"), { method: "PUT", body: '[{},{"v":1}]' })).status).toBe(201);
      expect(await (await fetch(`${server.origin}/party/short/store`)).json()).toEqual([{}, { v: 1 }]);
      // A synchronizer socket there is one: it answers a GetContentHashes request.
      const sync = await open(`ws://${server.host}/party/short/sync`);
      sync.socket.send('S\n["abcdefghijk.abcd",1,""]');
      await waitFor(() => sync.frames, (frames) => frames.some((frame) => frame.startsWith('S\n["abcdefghijk.abcd",0,')), { what: "the room's hashes" });
    });
  }

  it("answers a client's close(1000) with a close", async () => {
    const { socket } = await open(`ws://${server.host}/parties/main/closing`);
    const started = Date.now();
    const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(Date.now() - started)));
    socket.close(1000);
    expect(await closed).toBeLessThan(PROMPT_CLOSE_MS);
  });
});
