// The worker's edges in workerd: a JSON answer for every path, one room per name, sockets only at
// a room's socket paths, reads that create nothing, and sockets that share a client-chosen id
// without touching each other.
import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ROLE_HEADER } from "../../party/core/room/auth.ts";
import type { Room } from "../../party/worker.ts";
import { at, call, changesFrame, changesIn, ORIGIN, openSocket, putStore, storeOf } from "./helpers.ts";

describe("paths", () => {
  it.each([
    ["//parties/__proto__/x/store", 404, "not_found"],
    ["//parties/nope/x/store", 404, "not_found"],
    ["/parties/nope/x/store", 404, "not_found"],
    ["/parties/__proto__/x/store", 404, "not_found"],
    ["/parties/main//store", 400, "bad_request"],
    ["/parties/main/a%ZZ/store", 400, "bad_request"],
    ["/parties/main/a%00b/store", 400, "bad_request"],
    [`/parties/main/${"x".repeat(257)}/store`, 400, "bad_request"],
    ["/elsewhere", 404, "not_found"],
  ])("answers %s with a JSON %i", async (path, status, code) => {
    const answer = await call(ORIGIN + path);
    expect([answer.status, answer.headers.get("Content-Type"), answer.json().error.code]).toEqual([status, "application/json; charset=utf-8", code]);
  });
});

describe("room names", () => {
  it("reaches one room, named canonically, from every spelling of its name", async () => {
    expect((await putStore(at("caf%C3%A9"), [{}, { v: 1 }])).status).toBe(201);
    for (const spelling of ["caf%c3%a9", "cafe%CC%81"]) {
      expect(await storeOf(at(spelling))).toEqual([{}, { v: 1 }]);
      expect((await putStore(at(spelling), [{}, { v: 2 }])).status).toBe(205);
    }
    const name = await runInDurableObject(env.Main.getByName("caf%C3%A9"), (room: Room) => room.room.core.options.name);
    expect(name).toBe("café");
  });
});

describe("socket paths", () => {
  const upgrade = { Upgrade: "websocket" };
  /** The room's open sockets and stored keys: a refused upgrade leaves both as they were. */
  const footprint = (name: string) =>
    runInDurableObject(env.Main.getByName(name), async (room: Room, state) => ({
      sockets: [...room.getConnections()].length,
      keys: [...(await state.storage.list()).keys()].length,
    }));

  // `a/b` is what a client that does not encode the name "a/b" opens: a sub-path of the room "a".
  it.each(["sp/unknown", "sp/b", "sp/store", "sp/events", "sp/stats", "sp/sync/more", "sp//sync", "sp/v1/stream/s"])(
    "refuses an upgrade to /parties/main/%s with a JSON 404, and opens no socket of the room",
    async (path) => {
      const response = await exports.default.fetch(`${ORIGIN}/parties/main/${path}`, { headers: upgrade });
      const text = await response.text();
      expect([response.status, response.webSocket, JSON.parse(text).error.code]).toEqual([404, null, "not_found"]);
      expect(await footprint("sp")).toEqual({ sockets: 0, keys: 0 });
    },
  );

  it("refuses it in the room too, for an upgrade that reaches the object without the worker's gate", async () => {
    const request = new Request(`${ORIGIN}/parties/main/sp-direct/elsewhere`, { headers: { ...upgrade, [ROLE_HEADER]: "write" } });
    const response = await env.Main.getByName("sp-direct").fetch(request);
    expect([response.status, response.webSocket, ((await response.json()) as { error: { code: string } }).error.code]).toEqual([404, null, "not_found"]);
    expect(await footprint("sp-direct")).toEqual({ sockets: 0, keys: 0 });
  });

  it.each(["sp-open", "sp-open/sync"])("opens a socket at /parties/main/%s", async (path) => {
    const response = await exports.default.fetch(`${ORIGIN}/parties/main/${path}`, { headers: upgrade });
    expect(response.status).toBe(101);
    response.webSocket!.accept();
    response.webSocket!.close(1000);
  });
});

describe("reading a room that never existed", () => {
  it("answers as an empty room and leaves nothing in its storage", async () => {
    const store = await call(`${ORIGIN}/parties/main/ghost/store`);
    expect([store.status, store.text]).toEqual([200, ""]);
    expect((await call(`${ORIGIN}/parties/main/ghost/events`)).json()).toMatchObject({ events: [], head: 0 });
    expect((await call(`${ORIGIN}/parties/main/ghost/events/history?table=t&row=r`)).status).toBe(200);
    const keys = await runInDurableObject(env.Main.getByName("ghost"), async (_room: Room, state) => [...(await state.storage.list()).keys()]);
    expect(keys).toEqual([]);
  });
});

describe("socket identity", () => {
  it("keeps both sockets that open with one client id, and a close of one leaves the other served", async () => {
    await putStore(at("ident"), [{}, { n: 0 }]);
    const [first, second] = [await openSocket(at("ident?_pk=alice")), await openSocket(at("ident?_pk=alice"))];
    const writer = await openSocket(at("ident?_pk=bob"));
    writer.send(changesFrame([{}, { n: 1 }, 1]));
    for (const socket of [first, second]) expect(changesIn(await socket.frame((frame) => changesIn(frame)?.[1].n === 1))).toEqual([{}, { n: 1 }, 1]);
    second.ws.close(1000);
    writer.send(changesFrame([{}, { n: 2 }, 1]));
    expect(changesIn(await first.frame((frame) => changesIn(frame)?.[1].n === 2))).toEqual([{}, { n: 2 }, 1]);
    const open = await runInDurableObject(env.Main.getByName("ident"), (room: Room) => [...room.getConnections()].length);
    expect(open).toBe(2);
  });
});
