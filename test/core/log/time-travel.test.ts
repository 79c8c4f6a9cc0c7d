import { afterEach, describe, expect, it, vi } from "vitest";
import { changesFrame, createTestRoom, receivedChanges, type TestRoom } from "../support/harness.ts";
import { MAX_STORED_CHARS } from "../../../party/core/storage/event-log.ts";
import { resolveConfig } from "../../../party/core/room/config.ts";

const at = async (room: TestRoom, seq: number | string) => {
  const response = await room.request("GET", `/store?at=${seq}`);
  const text = await response.text();
  return { status: response.status, etag: response.headers.get("ETag"), body: text === "" ? undefined : JSON.parse(text) };
};
const send = (room: TestRoom, changes: unknown) => room.room.handleMessage(room.connect("w"), changesFrame(changes));
const checkpointKeys = (room: TestRoom) => [...room.storage.entries.keys()].filter((key) => /^t\d{16}$/.test(key));

describe("GET {storePath}?at=", () => {
  it("answers the store as of each position, with the last $store seq at or before it as ETag", async () => {
    const room = await createTestRoom();
    expect(await at(room, 0)).toEqual({ status: 200, etag: '"0"', body: undefined });
    await room.request("POST", "/events", { type: "hello" });
    await room.request("PUT", "/store", [{ t: { r: { c: 1 } } }, {}]);
    await send(room, [{ t: { r: { c: 2 } } }, { v: "x" }, 1]);
    await room.request("POST", "/events", { type: "later" });
    expect(await at(room, 1)).toEqual({ status: 200, etag: '"0"', body: undefined });
    expect(await at(room, 2)).toEqual({ status: 200, etag: '"2"', body: [{ t: { r: { c: 1 } } }, {}] });
    expect(await at(room, 3)).toEqual({ status: 200, etag: '"3"', body: [{ t: { r: { c: 2 } } }, { v: "x" }] });
    expect(await at(room, 4)).toEqual({ status: 200, etag: '"3"', body: [{ t: { r: { c: 2 } } }, { v: "x" }] });
  });

  it.each([["abc"], ["-1"], ["1.5"], [""], ["5"], ["99999999999999999"]])("refuses at=%j with 400 bad_request", async (text) => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{}, { n: 1 }]);
    const response = await room.request("GET", `/store?at=${text}`);
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe("bad_request");
  });

  it("keeps a checkpoint per window of CHECKPOINT_EVENTS seqs, each chunked under a storage value", async () => {
    const room = await createTestRoom({ config: { limits: { checkpointEvents: 4 } } });
    const rows = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`r${i}`, { text: "x".repeat(MAX_STORED_CHARS / 12) }]));
    expect((await room.request("PUT", "/store", [{ t: rows }, {}])).status).toBe(201);
    for (let n = 0; n < 10; n++) await send(room, [{}, { n }, 1]);
    // $store events at seqs 1 to 11: the first reaching 4, 8 writes one.
    expect(checkpointKeys(room)).toEqual(["t" + "4".padStart(16, "0"), "t" + "8".padStart(16, "0")]);
    const chunks = [...room.storage.entries].filter(([key]) => key.startsWith("t.0000000000000004."));
    expect(chunks.length).toBe(3);
    for (const [, chunk] of chunks) expect((chunk as string).length).toBeLessThanOrEqual(MAX_STORED_CHARS);
    expect((await at(room, 6)).body[1]).toEqual({ n: 4 });
  });

  it("reads a room stored without checkpoints from its log, heals it as it reads, and checkpoints it from its next write on", async () => {
    const room = await createTestRoom({ config: { limits: { checkpointEvents: 5 } } });
    await room.request("PUT", "/store", [{}, { n: 0 }]);
    for (let n = 1; n <= 12; n++) await send(room, [{}, { n }, 1]);
    // As a release before checkpoints left it: no checkpoint keys at all.
    for (const key of [...room.storage.entries.keys()]) if (key.startsWith("t")) room.storage.entries.delete(key);
    const woken = await room.restart();
    expect((await at(woken, 12)).body).toEqual([{}, { n: 11 }]);
    // The read replayed from the empty store, and put the checkpoints it passed.
    expect(checkpointKeys(woken)).toEqual(["t" + "5".padStart(16, "0"), "t" + "10".padStart(16, "0")]);
    for (let seq = 0; seq <= 13; seq++) expect((await at(woken, seq)).body).toEqual(seq === 0 ? undefined : [{}, { n: seq - 1 }]);
    await send(woken, [{}, { n: 13 }, 1]);
    await send(woken, [{}, { n: 14 }, 1]);
    expect(checkpointKeys(woken).at(-1)).toEqual("t" + "15".padStart(16, "0"));
    expect((await at(woken, 15)).body).toEqual([{}, { n: 14 }]);
  });

  it("answers 410 before what retention kept, and reads from the base and checkpoints after a trim", async () => {
    const room = await createTestRoom({ config: { limits: { checkpointEvents: 3 }, retention: { maxEvents: 4 } } });
    await room.request("PUT", "/store", [{}, { n: 0 }]);
    for (let n = 1; n <= 9; n++) await send(room, [{}, { n }, 1]);
    await room.room.handleAlarm();
    const { first } = room.room.core.log;
    expect(first).toBe(7);
    expect((await at(room, 5)).status).toBe(410);
    expect((await (await room.request("GET", "/store?at=5")).json()).error.code).toBe("gone");
    for (let seq = first - 1; seq <= 10; seq++) expect(await at(room, seq)).toEqual({ status: 200, etag: `"${seq}"`, body: [{}, { n: seq - 1 }] });
    // Checkpoints before first-1 start no read: gone with the events.
    expect(checkpointKeys(room).map((key) => Number(key.slice(1)))).toEqual([6, 9]);
    expect([...room.storage.entries.keys()].filter((key) => key.startsWith("t.0000000000000003"))).toEqual([]);
  });

  it("reads a base written before checkpoints (no storeSeq in it), with first-1 as the ETag of what it holds", async () => {
    const room = await createTestRoom({ config: { limits: { checkpointEvents: 100 }, retention: { maxEvents: 3 } } });
    await room.request("PUT", "/store", [{}, { n: 0 }]);
    for (let n = 1; n <= 2; n++) await send(room, [{}, { n }, 1]);
    await room.request("POST", "/events", [{ type: "a" }, { type: "b" }]);
    for (let n = 3; n <= 4; n++) await send(room, [{}, { n }, 1]);
    await room.room.handleAlarm();
    const header = room.storage.entries.get("f") as { seq: number; storeSeq?: number };
    expect([room.room.core.log.first, header.seq, header.storeSeq]).toEqual([5, 4, 3]);
    expect(await at(room, 4)).toEqual({ status: 200, etag: '"3"', body: [{}, { n: 2 }] });
    delete header.storeSeq;
    expect(await at(room, 4)).toEqual({ status: 200, etag: '"4"', body: [{}, { n: 2 }] });
    expect(await at(room, 6)).toEqual({ status: 200, etag: '"6"', body: [{}, { n: 3 }] });
  });

  it("takes CHECKPOINT_EVENTS from the environment", () => {
    expect(resolveConfig({ CHECKPOINT_EVENTS: "250" }).limits.checkpointEvents).toBe(250);
    expect(resolveConfig({}).limits.checkpointEvents).toBe(1000);
    expect(() => resolveConfig({ CHECKPOINT_EVENTS: "0" })).toThrow(/CHECKPOINT_EVENTS/);
  });
});

describe("POST {room}/restore", () => {
  afterEach(() => vi.unstubAllGlobals());
  const setUp = async (options: Parameters<typeof createTestRoom>[0] = {}) => {
    const room = await createTestRoom(options);
    await room.request("PUT", "/store", [{ pets: { fido: { legs: 4 } } }, { open: true }]);
    await send(room, [{ pets: { fido: "\uFFFC", rex: { legs: 3 } } }, { open: "\uFFFC" }, 1]);
    return room;
  };

  it("makes the store its content at that position as one $replace, broadcast to the sockets", async () => {
    const room = await setUp();
    const listener = room.connect("listener");
    const response = await room.request("POST", "/restore", { at: 1 });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ seq: 3, restoredFrom: 1 });
    expect(response.headers.get("ETag")).toBe('"3"');
    expect(await (await room.request("GET", "/store")).json()).toEqual([{ pets: { fido: { legs: 4 } } }, { open: true }]);
    const events = (await (await room.request("GET", "/events?from=3")).json()).events;
    expect(events.map((event: any) => [event.stream, event.type])).toEqual([["$store", "$replace"]]);
    expect(receivedChanges(listener)).toEqual([[{ pets: { fido: { legs: 4 }, rex: { legs: "\uFFFC" } } }, { open: true }, 1]]);
    // Restoring is itself history: the store before it can be read and restored again.
    expect((await at(room, 2)).body).toEqual([{ pets: { rex: { legs: 3 } } }, {}]);
  });

  it("restores to an empty store a position before the store existed", async () => {
    const room = await createTestRoom();
    await room.request("POST", "/events", { type: "before" });
    await room.request("PUT", "/store", [{}, { n: 1 }]);
    expect((await (await room.request("POST", "/restore", { at: 1 })).json()).restoredFrom).toBe(1);
    expect(await (await room.request("GET", "/store")).json()).toEqual([{}, {}]);
  });

  it.each([
    ["not JSON", "{", 400, "invalid_json"],
    ["no at", {}, 400, "bad_request"],
    ["a string", { at: "1" }, 400, "bad_request"],
    ["a negative seq", { at: -1 }, 400, "bad_request"],
    ["a fraction", { at: 1.5 }, 400, "bad_request"],
    ["an array", [1], 400, "bad_request"],
    ["past the head", { at: 3 }, 400, "bad_request"],
  ])("refuses %s and changes nothing", async (_name, body, status, code) => {
    const room = await setUp();
    const response = await room.request("POST", "/restore", body);
    expect(response.status).toBe(status);
    expect((await response.json()).error.code).toBe(code);
    expect(room.room.core.log.head).toBe(2);
  });

  it("refuses a stale If-Match with 412 and takes a current one", async () => {
    const room = await setUp();
    expect((await room.request("POST", "/restore", { at: 1 }, { "If-Match": '"1"' })).status).toBe(412);
    expect(room.room.core.log.head).toBe(2);
    expect((await room.request("POST", "/restore", { at: 1 }, { "If-Match": '"2"' })).status).toBe(200);
  });

  it("goes through the hooks as a replacing PUT: a refused cell refuses the whole restore", async () => {
    let restoring = false;
    const room = await setUp({ hooks: { canSetValue: (valueId) => !restoring || valueId !== "open" } });
    restoring = true;
    const response = await room.request("POST", "/restore", { at: 1 });
    expect(response.status).toBe(403);
    expect(room.room.core.log.head).toBe(2);
    expect(await (await room.request("GET", "/store")).json()).toEqual([{ pets: { rex: { legs: 3 } } }, {}]);
  });

  it("asks the validation webhook as a replacing PUT, and changes nothing when it refuses", async () => {
    const asked: any[] = [];
    let accept = true;
    vi.stubGlobal("fetch", async (_url: string, init: RequestInit) => {
      asked.push(JSON.parse(String(init.body)));
      return new Response(JSON.stringify(accept ? { accept: true } : { accept: false, reason: "not today" }), { status: 200 });
    });
    const room = await setUp({ env: { VALIDATE_URL: "http://validator.test/" } });
    asked.length = 0;
    accept = false;
    const refused = await room.request("POST", "/restore", { at: 1 });
    expect([refused.status, (await refused.json()).error.message]).toEqual([403, expect.stringContaining("not today")]);
    expect(room.room.core.log.head).toBe(2);
    expect(asked).toEqual([{ room: "test-room", kind: "put", content: [{ pets: { fido: { legs: 4 } } }, { open: true }], role: "write" }]);
    accept = true;
    expect((await room.request("POST", "/restore", { at: 1 })).status).toBe(200);
  });

  it("reads and restores an imported log, which has no checkpoints, from its base", async () => {
    const source = await setUp({ config: { retention: { maxEvents: 1 } } });
    await source.room.handleAlarm();
    const exported = await (await source.request("GET", "/export")).text();
    const copy = await createTestRoom({ config: { limits: { checkpointEvents: 2 } } });
    expect((await copy.request("POST", "/import", exported)).status).toBe(201);
    expect(checkpointKeys(copy)).toEqual([]);
    expect((await at(copy, 0)).status).toBe(410);
    expect(await at(copy, 1)).toEqual({ status: 200, etag: '"1"', body: [{ pets: { fido: { legs: 4 } } }, { open: true }] });
    expect((await copy.request("POST", "/restore", { at: 1 })).status).toBe(200);
    expect(await (await copy.request("GET", "/store")).json()).toEqual([{ pets: { fido: { legs: 4 } } }, { open: true }]);
    // Checkpoints from the next store change that reaches a new window of seqs on.
    expect(checkpointKeys(copy)).toEqual([]);
    await send(copy, [{}, { n: 1 }, 1]);
    expect(checkpointKeys(copy)).toEqual(["t" + "4".padStart(16, "0")]);
    expect((await at(copy, 3)).body).toEqual([{ pets: { fido: { legs: 4 } } }, { open: true }]);
  });

  it("refuses a room with no store (409), a read token (403) and a position trimmed away (410)", async () => {
    const empty = await createTestRoom();
    await empty.request("POST", "/events", { type: "x" });
    expect((await empty.request("POST", "/restore", { at: 0 })).status).toBe(409);
    const room = await setUp();
    expect((await room.request("POST", "/restore", { at: 1 }, { "x-roomstore-role": "read" })).status).toBe(403);
    const trimmed = await setUp({ config: { retention: { maxEvents: 1 } } });
    await trimmed.room.handleAlarm();
    expect((await trimmed.request("POST", "/restore", { at: 0 })).status).toBe(410);
    expect(trimmed.room.core.log.head).toBe(2);
  });
});
