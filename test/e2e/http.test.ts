// The store's HTTP surface and the room's routing over plain `fetch`, against real `wrangler dev`
// and `partykit dev`: conditional GET and PUT, content validation, CORS, 404/405, refusals that
// change nothing and leave a keep-alive connection usable, and config from variables.
import type { RoomEvent } from "../../party/protocol.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoomHttp, expectError, openSocket } from "../support/room-http.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { connectTinyBase, serverContent, type TinyBaseClient } from "../support/tinybase-client.ts";
import { waitFor } from "../support/wait.ts";

const DELETED = "\uFFFC";
const JSON_CELL = "\uFFFD";

const seqsOf = (events: RoomEvent[]) => events.map((event) => event.seq);

/** An error with its chain of causes, e.g. "GET … failed <- fetch failed <- read ECONNRESET". */
const causes = (error: unknown): string =>
  error instanceof Error ? error.message + (error.cause === undefined ? "" : ` <- ${causes(error.cause)}`) : String(error);

describe.each(["wrangler", "partykit"] as const)("the store and routes over HTTP under %s dev", (kind) => {
  let server: RunningServer;
  const http = (room: string) => createRoomHttp(server.origin, room);

  beforeAll(async () => {
    server = await startServer({ kind });
  });
  afterAll(async () => server?.stop());

  it("answers GET of the store with an ETag that moves with store changes only, and 304 for If-None-Match", async () => {
    const room = http("etag");
    const empty = await room.getStore();
    expect([empty.status, empty.text, empty.headers.get("ETag")]).toEqual([200, "", '"0"']);
    const put = await room.putStore([{ t: { r: { c: 1 } } }, {}]);
    expect([put.status, put.text, put.headers.get("ETag")]).toEqual([201, "", '"1"']);
    const got = await room.getStore();
    expect([got.status, got.body, got.headers.get("ETag")]).toEqual([200, [{ t: { r: { c: 1 } } }, {}], '"1"']);

    const notModified = await room.getStore({ "If-None-Match": '"1"' });
    expect([notModified.status, notModified.text]).toEqual([304, ""]);
    // An application event does not change the store, so not its ETag either.
    await room.appendOk({ type: "a" });
    expect((await room.getStore({ "If-None-Match": '"1"' })).status).toBe(304);

    const socket = await openSocket(server.host, "etag");
    socket.send("s" + JSON.stringify([{ t: { r: { c: 2 } } }, {}, 1]));
    await waitFor(async () => (await room.getStore()).headers.get("ETag"), (etag) => etag === '"3"', { what: "the ETag to move" });
    socket.close();
    const changed = await room.getStore({ "If-None-Match": '"1"' });
    expect([changed.status, changed.body]).toEqual([200, [{ t: { r: { c: 2 } } }, {}]]);
    expect((await room.getStore({ "If-None-Match": 'W/"3"' })).status).toBe(304);
  });

  it("keeps an existing store on a plain PUT (205), replaces it with If-Match (200), refuses a stale If-Match (412)", async () => {
    const room = http("replace");
    const original = [{ t: { r: { c: 1 } } }, { v: 1 }];
    expect((await room.putStore(original, { "If-Match": '"7"' })).status).toBe(412);
    expect((await room.putStore(original, { "If-Match": '"0"' })).status).toBe(201);
    const kept = await room.putStore([{ other: { r: { c: 2 } } }, {}]);
    expect([kept.status, kept.text, kept.headers.get("ETag")]).toEqual([205, "", '"1"']);
    expect((await room.getStore()).body).toEqual(original);

    const replacement = [{ other: { r: { c: 2, obj: `${JSON_CELL}{"a":1}` } } }, { w: null }];
    const replaced = await room.putStore(replacement, { "If-Match": '"1"' });
    expect([replaced.status, replaced.headers.get("ETag")]).toEqual([200, '"2"']);
    expect((await room.getStore()).body).toEqual(replacement);
    expectError(await room.putStore(original, { "If-Match": '"1"' }), 412, "precondition_failed");
    expect((await room.getStore()).body).toEqual(replacement);
    expect((await room.allEvents()).map((event) => event.type)).toEqual(["$init", "$replace"]);
  });

  it.each([
    ["malformed JSON", "[{}", "invalid_json"],
    ["not [tables, values]", { tables: {} }, "invalid_content"],
    ["a table that is not an object", [{ t: 5 }, {}], "invalid_content"],
    ["a row that is not an object", [{ t: { r: [1] } }, {}], "invalid_content"],
    ["a deletion in content", [{ t: { r: { c: DELETED } } }, {}], "invalid_content"],
    ["values that are not an object", [{}, []], "invalid_content"],
  ])("refuses a store PUT with %s and creates nothing", async (what, body, code) => {
    const name = `bad-put-${what.replace(/\W+/g, "-")}`;
    expectError(await http(name).putStore(body), 400, code);
    expect((await http(name).getStore()).text).toBe("");
    expect(await http(name).head()).toBe(0);
  });

  it("answers a CORS preflight with 204, the Access-Control-Allow-* headers and no body", async () => {
    const room = http("cors");
    await room.putStore([{ t: { r: { c: 1 } } }, {}]);
    for (const path of ["/store", "/events", "/events/history"]) {
      const response = await fetch(room.url(path), {
        method: "OPTIONS",
        headers: { Origin: "https://app.example", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type, if-match" },
      });
      expect(response.status, path).toBe(204);
      expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
      expect(response.headers.get("Access-Control-Allow-Methods")?.split(/,\s*/)).toEqual(expect.arrayContaining(["GET", "PUT", "POST", "OPTIONS"]));
      expect(response.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toBe("content-type, if-match");
      expect(Number(response.headers.get("Access-Control-Max-Age"))).toBeGreaterThan(0);
      expect(await response.text()).toBe("");
    }
    // Ordinary answers carry CORS headers too, and let a browser read the ETag.
    const got = await room.getStore({ Origin: "https://app.example" });
    expect(got.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(got.headers.get("Access-Control-Expose-Headers")).toMatch(/ETag/);
  });

  it.each([
    ["a malformed If-Match", "/events", { method: "POST", headers: { "If-Match": "two" } }, 400, "bad_request"],
    ["a method the resource does not answer", "/events/history", { method: "POST" }, 405, "method_not_allowed"],
    ["an unknown resource", "/nothing-here", { method: "PUT" }, 404, "not_found"],
  ])("keeps a keep-alive connection usable after refusing %s before reading the body", async (_case, path, init, status, code) => {
    // The next request on the same connection (fetch reuses connections) must still be answered.
    const room = http("unread-body");
    const failures: string[] = [];
    for (let round = 0; round < 30; round++) {
      try {
        expectError(await room.request(path, { ...init, body: JSON.stringify({ type: "a", data: "x".repeat(2_000) }) }), status, code);
        expect((await room.getStore()).status).toBe(200);
      } catch (error) {
        failures.push(`round ${round}: ${causes(error)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(await room.head()).toBe(0);
  });

  it("answers an unknown resource with 404 and an unsupported method with 405, as JSON errors", async () => {
    const room = http("routes");
    expectError(await room.request("/nothing-here"), 404, "not_found");
    expectError(await room.request("/store/deeper"), 404, "not_found");
    for (const [path, allowed] of [["/store", ["GET", "PUT"]], ["/events", ["GET", "POST"]], ["/events/history", ["GET"]]] as const) {
      const refused = await room.request(path, { method: "DELETE" });
      expectError(refused, 405, "method_not_allowed");
      expect(refused.headers.get("Allow")?.split(/,\s*/)).toEqual(expect.arrayContaining(["OPTIONS", ...allowed]));
    }
  });

  it("refuses a malformed If-Match, and a method a resource does not answer, before anything changes", async () => {
    const room = http("refused-early");
    await room.putStore([{ t: { r: { c: 1 } } }, {}]);
    const refusals: [string, { method: string; body?: string; headers?: Record<string, string> }, number, string][] = [
      ["/store", { method: "PUT", body: "[{},{}]", headers: { "If-Match": "latest" } }, 400, "bad_request"],
      ["/events", { method: "POST", body: '{"type":"a"}', headers: { "If-Match": "two" } }, 400, "bad_request"],
      ["/events", { method: "PUT", body: "[]" }, 405, "method_not_allowed"],
      ["/events/history", { method: "POST", body: "{}" }, 405, "method_not_allowed"],
    ];
    for (const [path, init, status, code] of refusals) expectError(await room.request(path, init), status, code);
    expect(await room.head()).toBe(1);
    expect((await room.getStore()).body).toEqual([{ t: { r: { c: 1 } } }, {}]);
  });
});

describe("config from variables under wrangler dev", () => {
  let server: RunningServer;
  const clients: TinyBaseClient[] = [];
  beforeAll(async () => {
    server = await startServer({
      kind: "wrangler",
      vars: { STORE_PATH: "/data", EVENTS_PATH: "/log", MESSAGE_PREFIX: "~", MAX_EVENT_DATA_CHARS: "100", MAX_BODY_BYTES: "4096" },
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server?.stop();
  });

  it("moves the store and the log to the configured paths", async () => {
    const room = createRoomHttp(server.origin, "vars", { storePath: "/data", eventsPath: "/log" });
    expect((await room.putStore([{ t: { r: { c: 1 } } }, {}])).status).toBe(201);
    expect((await room.getStore()).body).toEqual([{ t: { r: { c: 1 } } }, {}]);
    expect(seqsOf(await room.appendOk({ type: "a" }))).toEqual([2]);
    expect(seqsOf((await room.page()).body.events)).toEqual([1, 2]);
    expect((await room.history("table=t&row=r&cell=c")).body.history).toEqual([{ seq: 1, value: 1 }]);
    for (const path of ["/store", "/events", "/events/history"]) expectError(await room.request(path), 404, "not_found");
  });

  it("applies the configured limits", async () => {
    const room = createRoomHttp(server.origin, "limits", { storePath: "/data", eventsPath: "/log" });
    expectError(await room.append({ type: "a", data: "x".repeat(101) }), 413, "too_large");
    expect((await room.append({ type: "a", data: "x".repeat(90) })).status).toBe(201);
    expectError(await room.putStore([{ t: { r: { c: "x".repeat(5_000) } } }, {}]), 413, "too_large");
    expect(await room.head()).toBe(1);
  });

  it("syncs TinyBase clients configured with the same store path and message prefix", async () => {
    const options = { storePath: "/data", messagePrefix: "~" };
    const alice = await connectTinyBase(server.host, "prefixed", { ...options, setup: (store) => store.setTables({ t: { r: { c: 1 } } }) });
    const bob = await connectTinyBase(server.host, "prefixed", options);
    clients.push(alice, bob);
    expect(bob.store.getTables()).toEqual({ t: { r: { c: 1 } } });
    alice.store.setCell("t", "r", "c", 2);
    await waitFor(() => bob.store.getCell("t", "r", "c"), (cell) => cell === 2, { what: "alice's change on bob" });
    expect(await serverContent(server.origin, "prefixed", "/data")).toEqual([{ t: { r: { c: 2 } } }, {}]);
    // A frame without the prefix is not a changeset here.
    const socket = await openSocket(server.host, "prefixed");
    const frames: string[] = [];
    // Its presence hello aside, the room's one answer is an error.
    socket.addEventListener("message", (event) => void (String(event.data).includes('"t":"presence"') || frames.push(String(event.data))));
    socket.send("s" + JSON.stringify([{ t: { r: { c: 3 } } }, {}, 1]));
    await waitFor(() => frames, (list) => list.length > 0, { what: "the room's answer" });
    socket.close();
    expect(frames[0].startsWith("~x")).toBe(true);
    expect(JSON.parse(frames[0].slice(2))).toMatchObject({ t: "error", error: { code: "bad_request" } });
    expect(await serverContent(server.origin, "prefixed", "/data")).toEqual([{ t: { r: { c: 2 } } }, {}]);
  });
});
