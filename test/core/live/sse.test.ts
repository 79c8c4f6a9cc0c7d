import { describe, expect, it } from "vitest";
import { sseRecord } from "../../../party/core/live/sse.ts";
import { createTestRoom } from "../support/harness.ts";
import { createSseReader } from "../support/sse-reader.ts";

type TestRoom = Awaited<ReturnType<typeof createTestRoom>>;
const stream = (room: TestRoom, query = "", headers: Record<string, string> = {}) =>
  room.request("GET", `/events${query}`, undefined, { Accept: "text/event-stream", ...headers });
const append = (room: TestRoom, types: string[]) => room.request("POST", "/events", types.map((type) => ({ type })));

describe("SSE framing", () => {
  it("splits data on every line break and refuses line breaks in id and event", () => {
    expect(sseRecord({ id: "1", event: "e", data: "a\nb\r\nc" })).toBe("id: 1\nevent: e\ndata: a\ndata: b\ndata: c\n\n");
    expect(() => sseRecord({ event: "a\nb", data: "" })).toThrow();
    expect(() => sseRecord({ id: "1\r", data: "" })).toThrow();
  });

  it("refuses event types with control characters at append time", async () => {
    const room = await createTestRoom();
    expect((await room.request("POST", "/events", { type: "a\nevent: x" })).status).toBe(400);
  });
});

describe("SSE feeds", () => {
  it("sends history, a caught-up marker, then live events with no gap", async () => {
    const room = await createTestRoom();
    await append(room, ["a", "b"]);
    const response = await stream(room);
    expect(response.headers.get("Content-Type")).toContain("text/event-stream");
    const reader = createSseReader(response);
    const history = await reader.take(3);
    expect(history.map((record) => [record.id, record.event])).toEqual([["1", "a"], ["2", "b"], [undefined, "caught-up"]]);
    expect(JSON.parse(history[2].data)).toEqual({ seq: 2 });
    await append(room, ["c"]);
    const [live] = await reader.take(1);
    expect([live.id, live.event, JSON.parse(live.data).seq]).toEqual(["3", "c", 3]);
    await reader.cancel();
  });

  it("loses nothing and repeats nothing while appends race the switch to live", async () => {
    const room = await createTestRoom();
    for (let i = 0; i < 3; i++) await append(room, Array.from({ length: 100 }, () => "h"));
    const reader = createSseReader(await stream(room));
    const racing = (async () => {
      for (let i = 0; i < 50; i++) await append(room, ["r"]);
    })();
    const records = await reader.take(351);
    await racing;
    const seqs = records.filter((record) => record.id !== undefined).map((record) => Number(record.id));
    expect(seqs).toEqual(Array.from({ length: 350 }, (_, i) => i + 1));
    expect(records.filter((record) => record.event === "caught-up")).toHaveLength(1);
    await reader.cancel();
  });

  it("ends after history with until=caught-up", async () => {
    const room = await createTestRoom();
    await append(room, ["a"]);
    const reader = createSseReader(await stream(room, "?until=caught-up"));
    expect((await reader.take(2)).map((record) => record.event)).toEqual(["a", "caught-up"]);
    expect(await reader.ended()).toBe(true);
  });

  it("resumes after Last-Event-ID and filters by type", async () => {
    const room = await createTestRoom();
    await append(room, ["a", "b", "a", "b"]);
    const reader = createSseReader(await stream(room, "?types=b", { "Last-Event-ID": "2" }));
    expect((await reader.take(2)).map((record) => [record.id, record.event])).toEqual([["4", "b"], [undefined, "caught-up"]]);
    await reader.cancel();
  });

  it("starts with the store and its seq when snapshot=1, then sends only later events", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{ t: { r: { c: 1 } } }, {}]);
    await append(room, ["a"]);
    const reader = createSseReader(await stream(room, "?snapshot=1"));
    const [snapshot, event, marker] = await reader.take(3);
    expect(snapshot.event).toBe("snapshot");
    expect(JSON.parse(snapshot.data)).toEqual({ seq: 1, content: [{ t: { r: { c: 1 } } }, {}] });
    expect([event.id, event.event, marker.event]).toEqual(["2", "a", "caught-up"]);
    await reader.cancel();
  });

  it("answers bad selectors with a JSON 400 instead of a stream", async () => {
    const room = await createTestRoom();
    const response = await stream(room, "?after=nope");
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe("invalid_selector");
  });

  it("stops listening when the reader goes away", async () => {
    const room = await createTestRoom();
    const reader = createSseReader(await stream(room));
    await reader.take(1);
    await reader.cancel();
    await append(room, ["a"]);
    // Nothing left subscribed: a listener count of zero is what cancel must leave.
    let listeners = 0;
    const stop = room.room.core.onEvents(() => listeners++);
    await append(room, ["b"]);
    stop();
    expect(listeners).toBe(1);
  });

  it("admits at most MAX_SSE_READERS readers: one more is 429 rate_limited, and a reader that leaves frees its place", async () => {
    const room = await createTestRoom({ config: { limits: { maxSseReaders: 2 } } });
    const first = await stream(room);
    const second = await stream(room, "?until=caught-up");
    const refused = await stream(room);
    expect(refused.status).toBe(429);
    expect((await refused.json()).error.code).toBe("rate_limited");
    // A stream that ends by itself and one that is cancelled both give their place back.
    const ending = createSseReader(second);
    expect((await ending.take(1))[0].event).toBe("caught-up");
    expect(await ending.ended()).toBe(true);
    const third = await stream(room);
    expect(third.status).toBe(200);
    await first.body!.cancel();
    const fourth = await stream(room);
    expect(fourth.status).toBe(200);
    expect((await stream(room)).status).toBe(429);
    expect((await room.request("GET", "/stats")).status).toBe(200);
    expect((await (await room.request("GET", "/stats")).json()).sseReaders).toBe(2);
    await third.body!.cancel();
    await fourth.body!.cancel();
  });
});
