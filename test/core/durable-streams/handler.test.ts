// Durable Streams over the pure room core (in-memory storage): what the conformance suite and the
// e2e tests cannot reach quickly: reads below what retention trimmed, the byte bound of one
// read, the offset grammar, producer state bounded per stream, views that cannot be written.
import { describe, expect, it } from "vitest";
import { formatOffset, MAX_CHUNK_BYTES, parseOffset } from "../../../party/core/durable-streams/read.ts";
import { MAX_PRODUCERS_PER_STREAM } from "../../../party/core/durable-streams/producers.ts";
import { MAX_LIVE_READS } from "../../../party/core/durable-streams/handler.ts";
import { MAX_APPEND_BYTES, MAX_KEPT_HEADER_CHARS } from "../../../party/core/durable-streams/requests.ts";
import type { StreamMeta } from "../../../party/core/durable-streams/model.ts";
import { createTestRoom, type TestRoom } from "../support/harness.ts";

const STREAM = "/v1/stream/s";
const create = (test: TestRoom, contentType = "text/plain", body?: string | Uint8Array) =>
  test.room.handleRequest(new Request(`http://room.test/parties/main/test-room${STREAM}`, { method: "PUT", headers: { "Content-Type": contentType }, body }));
const append = (test: TestRoom, body: string | Uint8Array, headers: Record<string, string> = {}, contentType = "text/plain") =>
  test.room.handleRequest(
    new Request(`http://room.test/parties/main/test-room${STREAM}`, { method: "POST", headers: { "Content-Type": contentType, ...headers }, body }),
  );
const read = (test: TestRoom, query = "") => test.request("GET", STREAM + query);

describe("Durable Streams in the room core", () => {
  it("answers 410 Gone to a read from below what retention trimmed, and reads on from a later offset", async () => {
    const test = await createTestRoom({ config: { retention: { maxEvents: 3 } } });
    expect((await create(test)).status).toBe(201);
    let last = "";
    for (const word of ["a", "b", "c", "d", "e"]) last = (await append(test, word)).headers.get("Stream-Next-Offset")!;
    await test.room.handleAlarm();
    const gone = await read(test, "?offset=-1");
    expect([gone.status, (await gone.json()).error.code]).toEqual([410, "gone"]);
    const fromTail = await read(test, `?offset=${last}`);
    expect([fromTail.status, fromTail.headers.get("Stream-Up-To-Date"), await fromTail.text()]).toEqual([200, "true", ""]);
    expect((await append(test, "f")).status).toBe(204);
    expect(await (await read(test, `?offset=${last}`)).text()).toBe("f");
  });

  it("holds at most about MAX_CHUNK_BYTES in one read: the rest follows from its next offset", async () => {
    const test = await createTestRoom();
    expect((await create(test, "application/octet-stream")).status).toBe(201);
    const part = new Uint8Array(MAX_CHUNK_BYTES / 2 + 1).fill(7);
    for (let i = 0; i < 3; i++) expect((await append(test, part, {}, "application/octet-stream")).status).toBe(204);
    const first = await read(test);
    expect(first.headers.get("Stream-Up-To-Date")).toBeNull();
    const firstBytes = (await first.arrayBuffer()).byteLength;
    expect(firstBytes).toBe(2 * part.length);
    const rest = await read(test, `?offset=${first.headers.get("Stream-Next-Offset")}`);
    expect([(await rest.arrayBuffer()).byteLength, rest.headers.get("Stream-Up-To-Date")]).toEqual([part.length, "true"]);
  }, 30_000); // 1.5 MB through base64 and structured clones: seconds on a busy machine

  it.each([
    ["", { kind: "start" }],
    ["?offset=-1", { kind: "start" }],
    ["?offset=now", { kind: "now" }],
    [`?offset=${formatOffset(42)}`, { kind: "after", seq: 42 }],
  ])("reads the offset %j as %j", (query, offset) => {
    expect(parseOffset(new URLSearchParams(query))).toEqual(offset);
  });

  it.each(["?offset=", "?offset=1,2", "?offset=-2", "?offset=abc_1", "?offset=1_2&offset=1_2", "?offset=99999999999999999_0"])(
    "refuses the offset %j with 400",
    async (query) => {
      const test = await createTestRoom();
      await create(test);
      expect((await read(test, query)).status).toBe(400);
    },
  );

  it("remembers at most MAX_PRODUCERS_PER_STREAM producers per stream, the least recently active forgotten first", async () => {
    const test = await createTestRoom();
    await create(test);
    for (let i = 0; i <= MAX_PRODUCERS_PER_STREAM; i++) {
      const answer = await append(test, "x", { "Producer-Id": `p${i}`, "Producer-Epoch": "0", "Producer-Seq": "0" });
      expect(answer.status).toBe(200);
    }
    const meta = (await test.storage.get(['d"s"'])).get('d"s"') as StreamMeta;
    expect(Object.keys(meta.producers)).toHaveLength(MAX_PRODUCERS_PER_STREAM);
    expect(meta.producers.p0).toBeUndefined();
    expect(meta.producers[`p${MAX_PRODUCERS_PER_STREAM}`]).toMatchObject({ epoch: 0, seq: 0 });
  });

  it("answers 413 to an append larger than MAX_APPEND_BYTES after reading its body to the end, and appends nothing", async () => {
    const test = await createTestRoom();
    await create(test);
    let sent = 0;
    const parts = 3;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ === parts) return controller.close();
        controller.enqueue(new Uint8Array(MAX_APPEND_BYTES / 2 + 1).fill(7));
      },
    });
    const request = new Request(`http://room.test/parties/main/test-room${STREAM}`, {
      method: "POST",
      headers: { "Content-Type": "text/plain", "Content-Length": String(parts * (MAX_APPEND_BYTES / 2 + 1)) },
      body,
      duplex: "half",
    } as RequestInit);
    const refused = await test.room.handleRequest(request);
    expect([refused.status, ((await refused.json()) as { error: { code: string } }).error.code]).toEqual([413, "too_large"]);
    expect(sent).toBe(parts + 1);
    expect(await (await read(test)).text()).toBe("");
  });

  it("refuses with 400 a kept header longer than MAX_KEPT_HEADER_CHARS, and changes nothing", async () => {
    const test = await createTestRoom();
    const long = "x".repeat(MAX_KEPT_HEADER_CHARS + 1);
    expect((await create(test, `text/${long}`)).status).toBe(400);
    expect((await read(test)).status).toBe(404);
    await create(test);
    expect((await append(test, "a", { "Stream-Seq": long })).status).toBe(400);
    expect(await (await read(test)).text()).toBe("");
    expect((await append(test, "a", { "Stream-Seq": "x".repeat(MAX_KEPT_HEADER_CHARS) })).status).toBe(204);
  });

  it("holds at most MAX_LIVE_READS live reads: one more is 429, and frees its place when they end", async () => {
    const test = await createTestRoom();
    await create(test);
    const tail = (await read(test, "?offset=now")).headers.get("Stream-Next-Offset")!;
    const waiting = Array.from({ length: MAX_LIVE_READS }, () => read(test, `?offset=${tail}&live=long-poll`));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await read(test, `?offset=${tail}&live=sse`);
    expect([refused.status, ((await refused.json()) as { error: { code: string } }).error.code]).toEqual([429, "rate_limited"]);
    expect((await append(test, "a")).status).toBe(204);
    expect(new Set((await Promise.all(waiting)).map((answer) => answer.status))).toEqual(new Set([200]));
    const sse = await read(test, `?offset=${tail}&live=sse`);
    expect(sse.status).toBe(200);
    await sse.body!.cancel();
  }, 30_000);

  it("serves $store as a read-only JSON stream of its events", async () => {
    const test = await createTestRoom();
    expect((await test.request("PUT", "/store", [{ t: { r: { c: 1 } } }, {}])).status).toBe(201);
    const answer = await test.request("GET", "/v1/stream/%24store?offset=-1");
    expect(answer.headers.get("Content-Type")).toBe("application/json");
    expect((await answer.json()).map((event: { type: string }) => event.type)).toEqual(["$init"]);
    for (const method of ["POST", "DELETE"]) {
      const refused = await test.request(method, "/v1/stream/%24store", method === "POST" ? {} : undefined, { "Content-Type": "application/json" });
      expect([refused.status, refused.headers.get("Allow")]).toEqual([405, "GET, HEAD, OPTIONS"]);
    }
    expect((await test.request("PUT", "/v1/stream/%24mine")).status).toBe(400);
  });
});
