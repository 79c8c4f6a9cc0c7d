// Durable Streams reads over the pure room core: a JSON stream's messages are served as the text
// the log holds (sliced from each event's text, never parsed), exactly as a parse and a
// re-serialization would give them, whatever the messages, the room's name or the event's shape.
import { describe, expect, it } from "vitest";
import { eventDataText, putEvent, type AppendContext } from "../../../party/core/storage/event-log.ts";
import { createKeys } from "../../../party/core/storage/keys.ts";
import { createTestRoom } from "../support/harness.ts";

const JSON_TYPE = { "Content-Type": "application/json" };

/** Messages whose text holds what the slicing looks for: the keys and brackets around an event's data. */
const TRICKY = [
  { ts: "2026", room: "r", data: { json: [1] } },
  { a: 1, ts: 2, room: "r" },
  ']},"ts":"x","room":"y"}',
  ',"data":{"json":[',
  ["nested", ["arrays"]],
  "quote \" and backslash \\ and \\\" both",
  null,
  0,
  "\u2028 \ud83d\ude00",
];

/** The text putEvent writes for one event, and that text's data. */
const written = (input: { data: unknown; tz?: string }, room: string) => {
  let text = "";
  const context: AppendContext = { keys: createKeys(""), room, seq: 7, ts: "2026-01-01T00:00:00.000Z", newId: () => "i", put: () => {} };
  text = putEvent(context, { stream: "$ds/s", type: "$append", ...input }).json;
  return text;
};

describe("an event's data, sliced from its text", () => {
  it.each([
    ["a plain room", { data: { json: TRICKY } }, "room"],
    ["a room whose name holds the keys that follow the data", { data: { json: TRICKY } }, 'r","ts":"1","room":"2'],
    ["an event with a time zone", { data: { json: [{ ts: 1 }] }, tz: "Europe/Paris" }, "room"],
    ["data that is no payload", { data: { ts: ',"ts":"', room: "}" } }, ',"ts":'],
  ])("is the data's own JSON text for %s", (_, input, room) => {
    expect(eventDataText(written(input, room))).toBe(JSON.stringify(input.data));
  });

  it.each([
    ["keys in another order", '{"seq":1,"data":{"json":[1]},"id":"a","stream":"$ds/s","type":"$append","ts":"t","room":"r"}'],
    ["a key after the room", '{"seq":1,"id":"a","stream":"$ds/s","type":"$append","data":{"json":[1]},"ts":"t","room":"r","x":1}'],
    ["no data", '{"seq":1,"id":"a","stream":"$ds/s","type":"$append","ts":"t","room":"r"}'],
  ])("is undefined for a text with %s", (_, text) => {
    expect(eventDataText(text)).toBeUndefined();
  });
});

describe("a JSON stream's reads", () => {
  it("serve every message as the client appended it, in catch-up reads, long-polls and SSE", async () => {
    const test = await createTestRoom();
    expect((await test.request("PUT", "/v1/stream/s", [TRICKY[0]], JSON_TYPE)).status).toBe(201);
    for (const message of TRICKY.slice(1)) expect((await test.request("POST", "/v1/stream/s", [message], JSON_TYPE)).status).toBe(204);
    expect((await test.request("POST", "/v1/stream/s", TRICKY, JSON_TYPE)).status).toBe(204);
    const expected = [...TRICKY, ...TRICKY];
    expect(await (await test.request("GET", "/v1/stream/s?offset=-1")).json()).toEqual(expected);
    expect(await (await test.request("GET", "/v1/stream/s?offset=-1&live=long-poll")).json()).toEqual(expected);
    const sse = await test.request("GET", "/v1/stream/s?offset=-1&live=sse");
    const reader = sse.body!.pipeThrough(new TextDecoderStream()).getReader();
    const record = (await reader.read()).value!;
    await reader.cancel();
    const data = record.split("\n\n")[0]!.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5)).join("\n");
    expect(JSON.parse(data)).toEqual(expected);
  });

  it("reads an event stored in another shape by parsing it", async () => {
    const test = await createTestRoom();
    expect((await test.request("PUT", "/v1/stream/s", undefined, JSON_TYPE)).status).toBe(201);
    expect((await test.request("POST", "/v1/stream/s", [{ a: 1 }, { b: 2 }], JSON_TYPE)).status).toBe(204);
    const [[key, text]] = [...(await test.storage.list({ prefix: "e" }))].filter(([, value]) => String(value).includes('"$append"'));
    const event = JSON.parse(text as string) as Record<string, unknown>;
    // The same event with its keys in another order: a text this release never writes.
    const reordered = JSON.stringify({ data: event.data, ...event });
    await test.storage.write(new Map([[key, reordered]]), []);
    expect(await (await test.request("GET", "/v1/stream/s?offset=-1")).json()).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it.each([
    ["written alone (its appends are consecutive seqs of the log)", false],
    ["written between another stream's appends", true],
  ])("read a stream %s in pages, across large events, to the same messages", async (_, interleaved) => {
    const test = await createTestRoom();
    for (const name of ["a", "b"]) expect((await test.request("PUT", `/v1/stream/${name}`, undefined, JSON_TYPE)).status).toBe(201);
    // Enough for several storage pages, with events stored in pieces (over MAX_STORED_CHARS) among them.
    const appended: unknown[] = [];
    for (let i = 0; i < 150; i++) {
      const message = i % 50 === 7 ? { i, large: "x".repeat(400_000) } : { i };
      appended.push(message);
      expect((await test.request("POST", "/v1/stream/a", [message], JSON_TYPE)).status).toBe(204);
      if (interleaved) expect((await test.request("POST", "/v1/stream/b", [{ other: i }], JSON_TYPE)).status).toBe(204);
    }
    const read: unknown[] = [];
    let offset = "-1";
    for (let reads = 0; reads < 10; reads++) {
      const answer = await test.request("GET", `/v1/stream/a?offset=${offset}`);
      read.push(...(await answer.json()));
      offset = answer.headers.get("Stream-Next-Offset")!;
      if (answer.headers.get("Stream-Up-To-Date") === "true") break;
    }
    expect(read).toEqual(appended);
  }, 30_000);
});
