// Export, import and delete of a whole room over in-memory storage; the export format's parsing;
// the store's key order across restarts.
import { describe, expect, it } from "vitest";
import { ROLE_HEADER } from "../../../party/core/room/auth.ts";
import { readLines, parseExportEvent, parseExportHeader } from "../../../party/core/admin/export-format.ts";
import { orderedContentWrites } from "../../../party/core/store/ordered-content.ts";
import { createMemoryStorage } from "../../../party/core/storage/room-storage.ts";
import { ADMITTED, changesFrame, createTestRoom, settle, type TestRoom } from "../support/harness.ts";

const storeText = async (room: TestRoom) => (await room.request("GET", "/store")).text();
const exportText = async (room: TestRoom) => (await room.request("GET", "/export")).text();
const eventsOf = (text: string) => text.trim().split("\n").slice(1).map((line) => JSON.parse(line));
const streamOf = (...parts: string[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
      controller.close();
    },
  });
const collect = async (lines: AsyncGenerator<string>) => {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
};

/** A room with a store whose ids are not in key order, application events and producer ids. */
const seededRoom = async () => {
  const room = await createTestRoom();
  await room.request("PUT", "/store", [{ t: { seed: { n: 0 } } }, { v: 1 }]);
  const writer = room.connect("w");
  for (const id of ["r0", "r1", "r10", "r2", "7", "3"]) await room.room.handleMessage(writer, changesFrame([{ t: { [id]: { n: id } } }, {}, 1]));
  await room.room.handleMessage(writer, changesFrame([{ a: { x: { "2": true, b: null } } }, { "9": "nine" }, 1]));
  await room.request("POST", "/events", [{ type: "made", id: "p-1", data: { n: 1 } }, { type: "made", stream: "orders", data: [1, 2] }]);
  await settle();
  return room;
};

describe("the export format", () => {
  it("splits lines across chunks, drops CR and blank lines, and refuses a line over the limit", async () => {
    expect(await collect(readLines(streamOf('{"a":', '1}\r\n\n{"b"', ":2}"), 100))).toEqual(['{"a":1}', '{"b":2}']);
    await expect(collect(readLines(streamOf("x".repeat(50), "y".repeat(60)), 100))).rejects.toMatchObject({ code: "too_large" });
    // The bound is in bytes: 60 two-byte characters are 120 bytes, and a line within it in one chunk passes.
    await expect(collect(readLines(streamOf("é".repeat(60)), 100))).rejects.toMatchObject({ code: "too_large" });
    await expect(collect(readLines(streamOf("x".repeat(101) + "\n1"), 100))).rejects.toMatchObject({ code: "too_large" });
    expect(await collect(readLines(streamOf("é".repeat(50) + "\n" + "x".repeat(100)), 100))).toHaveLength(2);
  });

  it("joins a line that many chunks bring, a CR LF split between two of them, and a last line with no end", async () => {
    const long = "x".repeat(1_000);
    const parts = [...long.match(/.{1,7}/g)!, "\r", "\n  \n", "{}", "\r\n[1]"];
    expect(await collect(readLines(streamOf(...parts), 2_000))).toEqual([long, "{}", "[1]"]);
  });

  it("lets its reader stop early with a chunk still being read, and leaves no rejection unhandled", async () => {
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(new TextEncoder().encode("a\nb\n")),
      // The next chunk never comes, and the stream then fails: a read of it was under way.
      pull: (controller) => new Promise((_, reject) => setTimeout(() => (controller.error(new Error("gone")), reject(new Error("gone"))), 10)),
    });
    const lines = readLines(body, 100);
    expect((await lines.next()).value).toBe("a");
    await lines.return(undefined);
    await new Promise((resolve) => setTimeout(resolve, 30));
  });

  it.each([
    ['{"format":"other"}', "bad_request"],
    // Version 2 counts its stream lines; version 3 is no version this room reads.
    ['{"format":"roomstore-export","version":2,"room":"r","head":0,"first":1}', "bad_request"],
    ['{"format":"roomstore-export","version":3,"room":"r","head":0,"first":1,"streams":0}', "bad_request"],
    ['{"format":"roomstore-export","version":1,"room":"r","head":3,"first":5}', "bad_request"],
    ["not json", "invalid_json"],
  ])("refuses the header %s", (line, code) => {
    expect(() => parseExportHeader(line)).toThrow(expect.objectContaining({ code }));
  });

  it.each([
    [{ seq: 3, id: "a", stream: "s", type: "t", data: null, ts: "2026-01-01T00:00:00.000Z" }, "bad_request"],
    [{ seq: 2, id: "a", stream: "s", type: "$t", data: null, ts: "2026-01-01T00:00:00.000Z" }, "reserved_name"],
    [{ seq: 2, id: "a", stream: "$store", type: "other", data: null, ts: "2026-01-01T00:00:00.000Z" }, "bad_request"],
    [{ seq: 2, id: "", stream: "s", type: "t", data: null, ts: "2026-01-01T00:00:00.000Z" }, "bad_request"],
    [{ seq: 2, id: "a", stream: "s", type: "t", data: null, ts: "yesterday" }, "bad_request"],
  ])("refuses the event line %j where seq 2 is due", (event, code) => {
    expect(() => parseExportEvent(JSON.stringify(event), 2)).toThrow(expect.objectContaining({ code }));
  });

  it("reads content in the order of its text, array-index ids included", () => {
    const writes = orderedContentWrites('[{"t":{"b":{"z":1,"2":2},"10":{"a":3},"1":{"a":4}}},{"y":1,"0":2}]');
    expect(writes.map((write) => (write.kind === "cell" ? write.path.join("/") : write.id))).toEqual(["t/b/z", "t/b/2", "t/10/a", "t/1/a", "y", "0"]);
  });
});

describe("key order", () => {
  it("survives restarts byte for byte, with and without a snapshot", async () => {
    const room = await seededRoom();
    const before = await storeText(room);
    expect(before.indexOf('"seed"')).toBeLessThan(before.indexOf('"r0"'));
    expect(before.indexOf('"r10"')).toBeLessThan(before.indexOf('"r2"'));
    const restarted = await room.restart();
    expect(await storeText(restarted)).toBe(before);
    // The restart wrote a snapshot: the next one loads from it.
    for (let i = 0; i < 50 && !room.storage.entries.has("k"); i++) await settle();
    expect(room.storage.entries.has("k")).toBe(true);
    expect(await storeText(await restarted.restart())).toBe(before);
  });
});

describe("export and import", () => {
  it("round-trips store bytes, events, producer ids and the next seq into another room", async () => {
    const source = await seededRoom();
    const text = await exportText(source);
    const header = JSON.parse(text.split("\n")[0]);
    expect(header).toEqual({ format: "roomstore-export", version: 1, room: "test-room", head: 10, first: 1 });
    const target = await createTestRoom({ storage: createMemoryStorage() });
    const answer = await target.request("POST", "/import", text);
    expect(answer.status).toBe(201);
    expect(await answer.json()).toEqual({ head: 10, first: 1, events: 10 });
    expect(await storeText(target)).toBe(await storeText(source));
    expect(await exportText(target)).toBe(text);
    const again = await target.request("POST", "/events", { type: "made", id: "p-1", data: { n: 2 } });
    expect((await again.json()).events[0].seq).toBe(eventsOf(text).find((event) => event.id === "p-1").seq);
    const next = await target.request("POST", "/events", { type: "later" });
    expect((await next.json()).events[0].seq).toBe(11);
    // After a restart too: the imported room loads as any other.
    expect(await storeText(await target.restart())).toBe(await storeText(source));
  });

  it("gives an imported room the stats times of its first and last imported events, after a restart too", async () => {
    // Times of days apart, so that first and last cannot be mistaken for each other or for now.
    const [header, ...lines] = (await exportText(await seededRoom())).trim().split("\n");
    const events = lines.map((line, i) => ({ ...JSON.parse(line), ts: new Date(Date.UTC(2025, 0, 1 + i)).toISOString() }));
    const target = await createTestRoom({ storage: createMemoryStorage() });
    expect((await target.request("POST", "/import", [header, ...events.map((event) => JSON.stringify(event))].join("\n"))).status).toBe(201);
    const times = { created: "2025-01-01T00:00:00.000Z", lastWrite: "2025-01-10T00:00:00.000Z" };
    expect(await (await target.request("GET", "/stats")).json()).toMatchObject({ head: 10, events: 10, ...times });
    expect(await (await (await target.restart()).request("GET", "/stats")).json()).toMatchObject(times);
  });

  it("refuses an import into a room that has data, and changes nothing", async () => {
    const source = await seededRoom();
    const text = await exportText(source);
    const target = await createTestRoom();
    await target.request("POST", "/events", { type: "x" });
    const before = new Map(target.storage.entries);
    const answer = await target.request("POST", "/import", text);
    expect(answer.status).toBe(409);
    expect(target.storage.entries).toEqual(before);
  });

  it("leaves the room empty when the body breaks halfway, and then imports", async () => {
    const text = await exportText(await seededRoom());
    const lines = text.trim().split("\n");
    const target = await createTestRoom();
    const broken = [...lines.slice(0, 5), '{"seq":5,"broken', ...lines.slice(6)].join("\n");
    const answer = await target.request("POST", "/import", broken);
    expect(answer.status).toBe(400);
    expect(target.storage.entries.size).toBe(0);
    expect(await storeText(target)).toBe("");
    const truncated = await target.request("POST", "/import", lines.slice(0, 6).join("\n"));
    expect((await truncated.json()).error.message).toMatch(/ended at seq 5/);
    expect(target.storage.entries.size).toBe(0);
    expect((await target.request("POST", "/import", text)).status).toBe(201);
  });

  it("refuses other writes while an import runs, and erases an import that stopped with the room", async () => {
    const text = await exportText(await seededRoom());
    const lines = text.trim().split("\n");
    const target = await createTestRoom();
    let release!: () => void;
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode(lines.slice(0, 4).join("\n") + "\n"));
        await new Promise<void>((resolve) => (release = resolve));
        controller.error(new Error("the client went away"));
      },
    });
    const importing = target.room.handleRequest(new Request("http://room.test/parties/main/test-room/import", { method: "POST", headers: ADMITTED, body, duplex: "half" } as RequestInit));
    for (let i = 0; i < 20; i++) await settle();
    expect((await target.request("POST", "/events", { type: "x" })).status).toBe(409);
    // A restart now finds the lock in the stored meta: the room erases itself.
    const copy = createMemoryStorage(new Map(target.storage.entries));
    expect(copy.entries.get("m")).toMatchObject({ writeLock: "import" });
    const restarted = await createTestRoom({ storage: copy });
    expect(copy.entries.size).toBe(0);
    expect((await restarted.request("POST", "/events", { type: "x" })).status).toBe(201);
    release();
    expect((await importing).status).toBe(500);
    expect(target.storage.entries.size).toBe(0);
  });

  it("imports TinyBase content as a first save", async () => {
    const room = await createTestRoom();
    const answer = await room.request("POST", "/import", '[{"pets":{"fido":{"legs":4}}},\n {"open":true}]');
    expect(answer.status).toBe(201);
    expect(await storeText(room)).toBe('[{"pets":{"fido":{"legs":4}}},{"open":true}]');
    expect(eventsOf(await exportText(room)).map((event) => event.type)).toEqual(["$init"]);
    expect((await room.request("POST", "/import", "[{},{}]")).status).toBe(409);
  });

  it("exports a trimmed log with its base, which imports to the same store", async () => {
    const source = await createTestRoom({ config: { retention: { maxEvents: 3 } } });
    await source.request("PUT", "/store", [{ t: { seed: { n: 0 } } }, {}]);
    const writer = source.connect("w");
    for (const id of ["r1", "10", "r0", "2"]) await source.room.handleMessage(writer, changesFrame([{ t: { [id]: { n: id } } }, {}, 1]));
    await settle();
    await source.room.handleAlarm();
    const text = await exportText(source);
    const [header, base, ...events] = text.trim().split("\n").map((line) => JSON.parse(line));
    expect(header).toMatchObject({ head: 5, first: 3 });
    expect(base.base.seq).toBe(2);
    expect(events.map((event) => event.seq)).toEqual([3, 4, 5]);
    const target = await createTestRoom({ storage: createMemoryStorage() });
    expect((await target.request("POST", "/import", text)).status).toBe(201);
    expect(await storeText(target)).toBe(await storeText(source));
    expect(await exportText(target)).toBe(text);
    // A trimmed room with no snapshot loads from its base and log, in order.
    target.storage.entries.delete("k");
    expect(await storeText(await target.restart())).toBe(await storeText(source));
  });
});

describe("delete", () => {
  it("erases store and log, closes sockets, and the room is new", async () => {
    const room = await seededRoom();
    const socket = room.connect("s");
    const answer = await room.request("DELETE", "");
    expect(answer.status).toBe(204);
    expect(room.storage.entries.size).toBe(0);
    expect(socket.closed?.code).toBe(1001);
    expect(await storeText(room)).toBe("");
    expect((await room.request("PUT", "/store", [{}, { a: 1 }])).status).toBe(201);
    expect(JSON.parse(await (await room.request("GET", "/events")).text()).events.map((event: { seq: number }) => event.seq)).toEqual([1]);
  });

  it("ends every open SSE reader, so that it reconnects to the new room", async () => {
    const room = await seededRoom();
    const response = await room.request("GET", "/events", undefined, { Accept: "text/event-stream" });
    const reader = response.body!.getReader();
    const read = async () => {
      let text = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return text;
        text += new TextDecoder().decode(value);
      }
    };
    const ended = read();
    expect((await room.request("DELETE", "")).status).toBe(204);
    const outcome = await Promise.race([ended.then(() => "ended"), new Promise((resolve) => setTimeout(resolve, 200, "open"))]);
    expect(outcome).toBe("ended");
  });

  it("is refused to a reader, and changes nothing", async () => {
    const room = await seededRoom();
    const before = new Map(room.storage.entries);
    const answer = await room.request("DELETE", "", undefined, { [ROLE_HEADER]: "read" });
    expect(answer.status).toBe(403);
    expect(room.storage.entries).toEqual(before);
  });
});
