// A room with Durable Streams in every state, exported and imported into a new room: every stream
// reads the same from every offset, keeps its metadata, producers and forks, and the next append
// follows the imported head; malformed stream lines and `$ds/` events are refused and leave the
// room empty. Over in-memory storage.
import { describe, expect, it } from "vitest";
import { formatOffset } from "../../../party/core/durable-streams/read.ts";
import { exportStream } from "../../../party/core/admin/export-import.ts";
import { createMemoryStorage } from "../../../party/core/storage/room-storage.ts";
import { createTestRoom, type TestRoom } from "../support/harness.ts";

const START = Date.UTC(2026, 0, 1);
const streamUrl = (name: string) => `http://room.test/parties/main/test-room/v1/stream/${encodeURIComponent(name)}`;
const ds = (test: TestRoom, method: string, name: string, headers: Record<string, string> = {}, body?: string | Uint8Array) =>
  test.room.handleRequest(new Request(streamUrl(name), { method, headers, body }));
const text = (contentType = "text/plain") => ({ "Content-Type": contentType });
const producer = (id: string, epoch: number, seq: number) => ({ ...text(), "Producer-Id": id, "Producer-Epoch": String(epoch), "Producer-Seq": String(seq) });
const exportText = async (test: TestRoom) => (await test.request("GET", "/export")).text();
const streamKeys = (test: TestRoom) => [...test.storage.entries].filter(([key]) => key.startsWith("d")).sort(([a], [b]) => (a < b ? -1 : 1));

/** Every stream name the source room has or had. */
const NAMES = ["open", "json", "bytes", "closed", "ttl", "expires", "expired", "forked", "gone", "again", "soft", "soft-child", "line\nbreak"];

/** A room whose streams are in every state, on a clock that the test moves. */
const streamRoom = async () => {
  const clock = { now: START };
  const test = await createTestRoom({ now: () => clock.now });
  const ok = async (response: Promise<Response>) => expect((await response).status).toBeLessThan(300);
  await test.request("PUT", "/store", [{ t: { r: { n: 1 } } }, {}]);
  await ok(ds(test, "PUT", "open", text(), "a"));
  await ok(ds(test, "POST", "open", { ...producer("p1", 0, 0), "Stream-Seq": "0002" }, "b"));
  const forkAt = (await ds(test, "POST", "open", producer("p1", 0, 1), "cde")).headers.get("Stream-Next-Offset")!;
  await ok(ds(test, "POST", "open", producer("p2", 3, 0), "f"));
  await test.request("POST", "/events", { type: "note", stream: "app", id: "n-1", data: 1 });
  await ok(ds(test, "PUT", "json", text("application/json"), '[{"n":1},{"n":2}]'));
  await ok(ds(test, "POST", "json", text("application/json"), '{"n":3}'));
  await ok(ds(test, "PUT", "bytes", text("application/octet-stream"), new Uint8Array([0, 255, 1])));
  await ok(ds(test, "PUT", "closed", text(), "x"));
  await ok(ds(test, "POST", "closed", { ...producer("closer", 0, 0), "Stream-Closed": "true" }, "y"));
  await ok(ds(test, "PUT", "ttl", { ...text(), "Stream-TTL": "3600" }, "t"));
  await ok(ds(test, "PUT", "expires", { ...text(), "Stream-Expires-At": "2026-06-01T00:00:00Z" }, "e"));
  await ok(ds(test, "PUT", "expired", { ...text(), "Stream-TTL": "1" }, "old"));
  // A fork at the offset before "cde", keeping its first byte, then its own append.
  const before = formatOffset(Number(forkAt.split("_")[0]) - 1);
  await ok(ds(test, "PUT", "forked", { "Stream-Forked-From": "/v1/stream/open", "Stream-Fork-Offset": before, "Stream-Fork-Sub-Offset": "1" }));
  await ok(ds(test, "POST", "forked", text(), "!"));
  await ok(ds(test, "PUT", "gone", text(), "g"));
  await ok(ds(test, "DELETE", "gone"));
  await ok(ds(test, "PUT", "again", text(), "first life"));
  await ok(ds(test, "DELETE", "again"));
  await ok(ds(test, "PUT", "again", text("application/json"), "[1]"));
  await ok(ds(test, "PUT", "soft", text(), "s"));
  await ok(ds(test, "PUT", "soft-child", { "Stream-Forked-From": "/v1/stream/soft" }));
  await ok(ds(test, "POST", "soft-child", text(), "c"));
  await ok(ds(test, "DELETE", "soft"));
  await ok(ds(test, "PUT", "line\nbreak", text(), "n"));
  await test.request("PATCH", "/store", [{ t: { r: { n: 2 } } }, {}]);
  clock.now += 5_000;
  return { test, clock };
};

/** What a client sees of each stream: HEAD, then a catch-up read from the start and from every seq. */
const views = async (test: TestRoom, head: number) => {
  const seen: unknown[] = [];
  const answer = async (response: Response) => [response.status, [...response.headers], Buffer.from(await response.arrayBuffer()).toString("base64")];
  for (const name of NAMES) {
    seen.push(name, await answer(await ds(test, "HEAD", name)));
    for (const offset of ["-1", "now", ...Array.from({ length: head + 1 }, (_, seq) => formatOffset(seq))]) {
      seen.push(await answer(await test.room.handleRequest(new Request(`${streamUrl(name)}?offset=${offset}`))));
    }
  }
  return seen;
};

const importInto = async (exported: string, clock: { now: number }) => {
  const target = await createTestRoom({ storage: createMemoryStorage(), now: () => clock.now });
  const answer = await target.request("POST", "/import", exported);
  return { target, answer };
};

describe("an export of a room with Durable Streams", () => {
  it("imports every stream as it was: reads from every offset, metadata, forks, soft deletes, expiry", async () => {
    const { test, clock } = await streamRoom();
    const exported = await exportText(test);
    const header = JSON.parse(exported.split("\n")[0]);
    expect(header).toMatchObject({ version: 2, streams: 12 });
    const { target, answer } = await importInto(exported, clock);
    expect(answer.status).toBe(201);
    expect(streamKeys(target)).toEqual(streamKeys(test));
    expect(await views(target, header.head)).toEqual(await views(test, header.head));
    expect(await exportText(target)).toBe(exported);
    expect(await (await target.request("GET", "/store")).text()).toBe(await (await test.request("GET", "/store")).text());
  });

  it("keeps producers idempotent, the closing producer's retry a duplicate, and appends after the imported head", async () => {
    const { test, clock } = await streamRoom();
    const exported = await exportText(test);
    const { head } = JSON.parse(exported.split("\n")[0]);
    const { target } = await importInto(exported, clock);
    const retry = await ds(target, "POST", "open", producer("p1", 0, 1), "cde");
    expect([retry.status, retry.headers.get("Producer-Seq")]).toEqual([204, "1"]);
    const gap = await ds(target, "POST", "open", producer("p1", 0, 3), "gap");
    expect([gap.status, gap.headers.get("Producer-Expected-Seq")]).toEqual([409, "2"]);
    expect((await ds(target, "POST", "open", producer("p2", 2, 0), "stale")).status).toBe(403);
    expect((await ds(target, "POST", "open", { ...text(), "Stream-Seq": "0001" }, "old")).status).toBe(409);
    expect((await ds(target, "POST", "closed", { ...producer("closer", 0, 0), "Stream-Closed": "true" }, "y")).status).toBe(204);
    const next = await ds(target, "POST", "open", producer("p1", 0, 2), "g");
    expect(next.headers.get("Stream-Next-Offset")).toBe(formatOffset(head + 1));
    expect(await (await ds(target, "GET", "open")).text()).toBe("abcdefg");
    // The fork count came along: deleting the last fork lets the soft-deleted source go.
    expect((await ds(target, "DELETE", "soft-child")).status).toBe(204);
    expect((await ds(target, "HEAD", "soft")).status).toBe(404);
    expect((await ds(target, "PUT", "soft", text())).status).toBe(201);
    // A TTL counts on from the exported last write: after it, the stream is gone.
    clock.now += 3_600_000;
    expect((await ds(target, "HEAD", "ttl")).status).toBe(404);
  });

  it("imports a trimmed log's streams, whose creation retention dropped, with the base", async () => {
    const clock = { now: START };
    const config = { retention: { maxEvents: 3 } };
    const test = await createTestRoom({ now: () => clock.now, config });
    await test.request("PUT", "/store", [{ t: { r: { n: 1 } } }, {}]);
    expect((await ds(test, "PUT", "open", text(), "a")).status).toBe(201);
    for (const word of ["b", "c", "d", "e"]) expect((await ds(test, "POST", "open", text(), word)).status).toBe(204);
    await test.room.handleAlarm();
    const exported = await exportText(test);
    const header = JSON.parse(exported.split("\n")[0]);
    expect(header).toMatchObject({ version: 2, streams: 1 });
    // The stream's $create (seq 2) is gone with what retention trimmed.
    expect(header.first).toBeGreaterThan(2);
    const target = await createTestRoom({ storage: createMemoryStorage(), now: () => clock.now, config });
    expect((await target.request("POST", "/import", exported)).status).toBe(201);
    const read = (room: TestRoom, offset: string) => room.room.handleRequest(new Request(`${streamUrl("open")}?offset=${offset}`));
    for (const offset of ["-1", formatOffset(4), "now"]) {
      const [ours, theirs] = await Promise.all([read(target, offset), read(test, offset)]);
      expect([ours.status, await ours.text()]).toEqual([theirs.status, await theirs.text()]);
    }
    expect(await exportText(target)).toBe(exported);
  });

  it("is version 1 without streams, and version 2 once a stream was written, even when none is left", async () => {
    const test = await createTestRoom();
    await test.request("POST", "/events", { type: "x" });
    expect(JSON.parse((await exportText(test)).split("\n")[0])).toEqual({ format: "roomstore-export", version: 1, room: "test-room", head: 1, first: 1 });
    await ds(test, "PUT", "s", text());
    await ds(test, "DELETE", "s");
    const exported = await exportText(test);
    expect(JSON.parse(exported.split("\n")[0])).toMatchObject({ version: 2, streams: 0 });
    expect((await (await createTestRoom({ storage: createMemoryStorage() })).request("POST", "/import", exported)).status).toBe(201);
  });

  it("reads the lines past its buffer as they are sent: the same export, or broken when a stream wrote meanwhile", async () => {
    const test = await createTestRoom();
    // Imported 500 lines per write (fewer than a room's IMPORT_BATCH_EVENTS), so that 600 streams cross batches.
    const batchEvents = 500;
    const streams = batchEvents + 100;
    for (let i = 0; i < streams; i++) expect((await ds(test, "PUT", `s${i}`, text(), "x")).status).toBe(201);
    const whole = await exportText(test);
    expect(await new Response(await exportStream(test.room.core, 1)).text()).toBe(whole);
    // The import writes the stream lines in bounded batches too.
    const storage = createMemoryStorage();
    const write = storage.write.bind(storage);
    const streamKeysPerWrite: number[] = [];
    storage.write = (puts, deletes) => (streamKeysPerWrite.push([...puts.keys()].filter((key) => key.startsWith("d")).length), write(puts, deletes));
    expect((await (await createTestRoom({ storage, importBatchEvents: batchEvents })).request("POST", "/import", whole)).status).toBe(201);
    expect(streamKeysPerWrite.reduce((sum, count) => sum + count, 0)).toBe(streams);
    expect(Math.max(...streamKeysPerWrite)).toBeLessThanOrEqual(batchEvents);
    expect(streamKeysPerWrite.filter((count) => count > 0).length).toBeGreaterThan(1);
    const reader = (await exportStream(test.room.core, 1)).getReader();
    await reader.read();
    expect((await ds(test, "POST", "s7", text(), "later")).status).toBe(204);
    const rest = async () => {
      for (let part = await reader.read(); !part.done; part = await reader.read());
    };
    await expect(rest()).rejects.toMatchObject({ code: "conflict" });
  });
});

/** The export's lines as JSON, changed by `edit`, as text again. */
const edited = (exported: string, edit: (lines: any[]) => void) => {
  const lines = exported.trim().split("\n").map((line) => JSON.parse(line));
  edit(lines);
  return lines.map((line) => JSON.stringify(line)).join("\n");
};
const streamLine = (lines: any[], name: string) => lines.find((line) => line.durableStream?.name === name).durableStream;
const eventLine = (lines: any[], stream: string, type: string) => lines.find((line) => line.stream === stream && line.type === type);

describe("an import of Durable Streams", () => {
  it.each<[string, (lines: any[]) => void, RegExp]>([
    ["an unknown $ds/ type", (lines) => (eventLine(lines, "$ds/open", "$close") ?? eventLine(lines, "$ds/open", "$append")).type = "$rename", /types/],
    ["a $create without a content type", (lines) => delete eventLine(lines, "$ds/open", "$create").data.contentType, /\$create data/],
    ["a $create with a field of its own", (lines) => (eventLine(lines, "$ds/open", "$create").data.owner = "me"), /\$create data/],
    ["an $append of no messages", (lines) => (eventLine(lines, "$ds/json", "$append").data = { json: [] }), /\$append data/],
    ["an $append of two payloads", (lines) => (eventLine(lines, "$ds/open", "$append").data = { text: "a", base64: "YQ==" }), /\$append data/],
    ["an $append that is not base64", (lines) => (eventLine(lines, "$ds/bytes", "$append").data = { base64: "!!!!" }), /\$append data/],
    ["a $close with data", (lines) => (eventLine(lines, "$ds/closed", "$close").data = {}), /\$close data/],
    ["a stream with no name", (lines) => (eventLine(lines, "$ds/open", "$create").stream = "$ds/"), /log stream/],
    ["producers that are not an object", (lines) => (streamLine(lines, "open").meta.producers = []), /"producers"/],
    ["a producer without its epoch", (lines) => delete streamLine(lines, "open").meta.producers.p1.epoch, /"producers"/],
    ["a metadata field of its own", (lines) => (streamLine(lines, "open").meta.owner = "me"), /"owner"/],
    ["a tail beyond the head", (lines) => (streamLine(lines, "open").meta.tail = lines[0].head + 1), /beyond the export's head/],
    ["a created that is another stream's $create", (lines) => (streamLine(lines, "open").meta.created = eventLine(lines, "$ds/json", "$create").seq), /its created/],
    ["a tail that is no $append", (lines) => (streamLine(lines, "open").meta.tail = eventLine(lines, "$ds/json", "$append").seq), /its tail/],
    ["a stream listed twice", (lines) => lines.splice(2, 1, lines[3]), /once each/],
    ["fewer stream lines than the header says", (lines) => lines[0].streams++, /stream line is/],
    ["more stream lines than the header says", (lines) => lines[0].streams--, /event object|seq/],
    ["streams in a version 1 export", (lines) => lines.splice(0, 13, { ...lines[0], version: 1, streams: undefined }), /version 1 export/],
    ["a version 3 export", (lines) => (lines[0].version = 3), /versions 1 and 2/],
  ])("refuses %s, and the room stays empty", async (_, edit, message) => {
    const { test, clock } = await streamRoom();
    const exported = await exportText(test);
    const { target, answer } = await importInto(edited(exported, edit), clock);
    const body = await answer.json();
    expect([answer.status, body.error.code]).toEqual([400, "bad_request"]);
    expect(body.error.message).toMatch(message);
    expect(target.storage.entries.size).toBe(0);
    expect((await target.request("POST", "/import", exported)).status).toBe(201);
  });
});
