import { describe, expect, it } from "vitest";
import { createTestRoom, messageFrame, receivedChanges, receivedMessages, settle } from "../support/harness.ts";

type TestRoom = Awaited<ReturnType<typeof createTestRoom>>;
const append = (room: TestRoom, count: number, type = "a") =>
  room.request("POST", "/events", Array.from({ length: count }, () => ({ type })));
const eventSeqs = (messages: any[], sid = "s") => messages.filter((m) => m.t === "ev" && m.sid === sid).map((m) => m.e.seq);
const waitFor = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await settle();
  expect(check()).toBe(true);
};

describe("WebSocket subscriptions", () => {
  it("never sends more events than the credit granted, and more after each ack", async () => {
    const room = await createTestRoom();
    await append(room, 10);
    const reader = room.connect("reader");
    await room.room.handleMessage(reader, messageFrame({ t: "sub", sid: "s", credit: 3 }));
    await waitFor(() => eventSeqs(receivedMessages(reader)).length === 3);
    await settle();
    expect(eventSeqs(receivedMessages(reader))).toEqual([1, 2, 3]);
    await room.room.handleMessage(reader, messageFrame({ t: "ack", sid: "s", credit: 4 }));
    await waitFor(() => eventSeqs(receivedMessages(reader)).length === 7);
    await settle();
    expect(eventSeqs(receivedMessages(reader))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(receivedMessages(reader).some((m) => m.t === "caught-up")).toBe(false);
    await room.room.handleMessage(reader, messageFrame({ t: "ack", sid: "s", credit: 100 }));
    await waitFor(() => receivedMessages(reader).some((m) => m.t === "caught-up"));
    await append(room, 2);
    await waitFor(() => eventSeqs(receivedMessages(reader)).length === 12);
    expect(eventSeqs(receivedMessages(reader))).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it("lets a socket that reconnects with its id resubscribe before the old one's close, which then ends nothing", async () => {
    const room = await createTestRoom();
    const before = room.connect("client");
    await room.room.handleMessage(before, messageFrame({ t: "sub", sid: "s", credit: 10 }));
    await append(room, 1);
    await waitFor(() => eventSeqs(receivedMessages(before)).length === 1);
    const after = room.connect("client"); // PartySocket keeps its id across reconnects
    await room.room.handleMessage(after, messageFrame({ t: "sub", sid: "s", credit: 10, selectors: { after: 1 } }));
    room.room.handleClose(before);
    await append(room, 2);
    await waitFor(() => eventSeqs(receivedMessages(after)).length === 2);
    expect(receivedMessages(after).filter((m) => m.t === "error" || m.t === "end")).toEqual([]);
    expect(eventSeqs(receivedMessages(after))).toEqual([2, 3]);
    expect(eventSeqs(receivedMessages(before))).toEqual([1]);
  });

  it("falls behind without buffering when live events outrun the credit, then catches up from storage", async () => {
    const room = await createTestRoom();
    const reader = room.connect("reader");
    await room.room.handleMessage(reader, messageFrame({ t: "sub", sid: "s", credit: 2, selectors: { types: ["a"] } }));
    await waitFor(() => receivedMessages(reader).some((m) => m.t === "caught-up"));
    await append(room, 5, "a");
    await append(room, 5, "b");
    await settle();
    expect(eventSeqs(receivedMessages(reader))).toEqual([1, 2]);
    await room.room.handleMessage(reader, messageFrame({ t: "ack", sid: "s", credit: 10 }));
    await waitFor(() => eventSeqs(receivedMessages(reader)).length === 5);
    expect(eventSeqs(receivedMessages(reader))).toEqual([1, 2, 3, 4, 5]);
  });

  it("holds several subscriptions per connection, ends a closed range, and unsubscribes", async () => {
    const room = await createTestRoom();
    await append(room, 3);
    const reader = room.connect("reader");
    await room.room.handleMessage(reader, messageFrame({ t: "sub", sid: "hist", credit: 10, selectors: { until: "caught-up" } }));
    await room.room.handleMessage(reader, messageFrame({ t: "sub", sid: "live", credit: 10, selectors: { after: "past-events" } }));
    await waitFor(() => receivedMessages(reader).some((m) => m.t === "end" && m.sid === "hist"));
    expect(receivedMessages(reader).find((m) => m.t === "end")).toEqual({ t: "end", sid: "hist", reason: "done" });
    await append(room, 1);
    await waitFor(() => eventSeqs(receivedMessages(reader), "live").length === 1);
    expect(eventSeqs(receivedMessages(reader), "hist")).toEqual([1, 2, 3]);
    expect(eventSeqs(receivedMessages(reader), "live")).toEqual([4]);
    await room.room.handleMessage(reader, messageFrame({ t: "unsub", sid: "live" }));
    await append(room, 1);
    await settle();
    expect(eventSeqs(receivedMessages(reader), "live")).toEqual([4]);
    expect(receivedMessages(reader).at(-1)).toEqual({ t: "end", sid: "live", reason: "unsubscribed" });
  });

  it("ends a subscription left without credit past its timeout, with reason timeout", async () => {
    let clock = 0;
    const room = await createTestRoom({ now: () => clock });
    const reader = room.connect("reader");
    await room.room.handleMessage(reader, messageFrame({ t: "sub", sid: "s", credit: 1, timeoutMs: 1_000 }));
    await append(room, 2);
    await settle();
    expect(eventSeqs(receivedMessages(reader))).toEqual([1]);
    clock += 500;
    await append(room, 1);
    await settle();
    expect(receivedMessages(reader).some((m) => m.t === "end")).toBe(false);
    clock += 1_000;
    await append(room, 1);
    await waitFor(() => receivedMessages(reader).some((m) => m.t === "end"));
    expect(receivedMessages(reader).at(-1)).toEqual({ t: "end", sid: "s", reason: "timeout" });
    await room.room.handleMessage(reader, messageFrame({ t: "ack", sid: "s", credit: 5 }));
    expect(receivedMessages(reader).at(-1)).toMatchObject({ t: "error", error: { code: "not_found" } });
  });

  it.each([
    [{ t: "sub", sid: "s", credit: 1, timeoutMs: 0 }, "bad_request"],
    [{ t: "sub", sid: "s" }, "bad_request"],
    [{ t: "sub", sid: "s", credit: 1, selectors: { after: "x" } }, "invalid_selector"],
    [{ t: "ack", sid: "nope", credit: 1 }, "not_found"],
    [{ t: "what" }, "bad_request"],
  ])("answers %j with an error frame and keeps the socket", async (message, code) => {
    const room = await createTestRoom();
    const reader = room.connect("reader");
    await room.room.handleMessage(reader, messageFrame(message));
    expect(reader.closed).toBeUndefined();
    expect(receivedMessages(reader).at(-1)).toMatchObject({ t: "error", error: { code } });
  });

  it("tells subscribed connections to resubscribe after the room wakes without them", async () => {
    const room = await createTestRoom();
    const reader = room.connect("reader");
    await room.room.handleMessage(reader, messageFrame({ t: "sub", sid: "s", credit: 5 }));
    reader.sent.length = 0;
    await room.restart([reader]);
    expect(receivedMessages(reader)).toEqual([{ t: "end", sid: "s", reason: "reset" }]);
  });
});

describe("subscription selectors", () => {
  it.each([
    ["an object as stream", { stream: {} }],
    ["a number as stream", { stream: 5 }],
    ["types holding an object", { types: [{}] }],
    ["a text as from", { from: "soon" }],
    ["a negative after", { after: -1 }],
    ["null as until", { until: null }],
    ["an unknown selector", { colour: "red" }],
    ["an array as the selectors", ["stream"]],
    ["a number as the selectors", 7],
  ])("refuse %s with invalid_selector, as HTTP does", async (_, selectors) => {
    const room = await createTestRoom();
    const reader = room.connect("reader");
    await room.room.handleMessage(reader, messageFrame({ t: "sub", sid: "s", credit: 10, selectors }));
    expect(receivedMessages(reader)).toMatchObject([{ t: "error", sid: "s", error: { code: "invalid_selector" } }]);
  });

  it("accept the selectors a query string would give, as JSON types", async () => {
    const room = await createTestRoom();
    const reader = room.connect("reader");
    await room.request("POST", "/events", [{ type: "a", stream: "s1" }, { type: "b", stream: "s1" }, { type: "a", stream: "s2" }]);
    const selectors = { stream: "s1", types: ["a"], from: 1, until: "caught-up" };
    await room.room.handleMessage(reader, messageFrame({ t: "sub", sid: "s", credit: 10, selectors }));
    await settle();
    expect(receivedMessages(reader).map((message) => message.t + (message.e ? message.e.seq : ""))).toEqual(["ev1", "caught-up", "end"]);
  });
});

describe("acknowledged writes", () => {
  it("acknowledges a changeset with its seq and applies a resend once", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{}, { n: 0 }]);
    const [writer, other] = [room.connect("writer"), room.connect("other")];
    const message = messageFrame({ t: "changes", mid: "m-1", changes: [{}, { n: 1 }, 1] });
    await room.room.handleMessage(writer, message);
    await room.room.handleMessage(writer, message);
    expect(receivedMessages(writer)).toEqual([
      { t: "ok", mid: "m-1", seq: 2 },
      { t: "ok", mid: "m-1", seq: 2 },
    ]);
    expect(receivedChanges(other)).toEqual([[{}, { n: 1 }, 1]]);
    const restarted = await room.restart();
    const again = restarted.connect("writer");
    await restarted.room.handleMessage(again, message);
    expect(receivedMessages(again)).toEqual([{ t: "ok", mid: "m-1", seq: 2 }]);
    expect((await (await restarted.request("GET", "/events")).json()).head).toBe(2);
  });

  it("rejects a changeset the hooks would cut, whole, and sends the authoritative values", async () => {
    const room = await createTestRoom({ hooks: { canSetValue: (id) => id !== "locked" } });
    await room.request("PUT", "/store", [{}, { n: 0 }]);
    const writer = room.connect("writer");
    await room.room.handleMessage(writer, messageFrame({ t: "changes", mid: "m", changes: [{}, { n: 1, locked: 1 }, 1] }));
    expect(receivedMessages(writer)).toMatchObject([{ t: "nack", mid: "m", error: { code: "forbidden" } }]);
    expect(receivedChanges(writer)).toEqual([[{}, { n: 0, locked: "\uFFFC" }, 1]]);
    expect((await (await room.request("GET", "/store")).json())[1]).toEqual({ n: 0 });
  });

  it("answers an append with a message id with its own events, never with a producer's event that has a look-alike id", async () => {
    const room = await createTestRoom();
    const writer = room.connect("writer");
    expect((await room.request("POST", "/events", [{ type: "producer", id: "m-1:0" }])).status).toBe(201);
    const message = messageFrame({ t: "append", mid: "m-1", events: [{ type: "mine" }] });
    await room.room.handleMessage(writer, message);
    await room.room.handleMessage(writer, message);
    expect(receivedMessages(writer)).toEqual([
      { t: "ok", mid: "m-1", seqs: [2] },
      { t: "ok", mid: "m-1", seqs: [2] },
    ]);
    const { events } = await (await room.request("GET", "/events")).json();
    expect(events.map((event: { seq: number; type: string }) => [event.seq, event.type])).toEqual([
      [1, "producer"],
      [2, "mine"],
    ]);
  });

  it("acknowledges appends with their seqs and appends a resend once", async () => {
    const room = await createTestRoom();
    const writer = room.connect("writer");
    const message = messageFrame({ t: "append", mid: "a-1", events: [{ type: "x" }, { type: "y", data: 1 }] });
    await room.room.handleMessage(writer, message);
    await room.room.handleMessage(writer, message);
    expect(receivedMessages(writer)).toEqual([
      { t: "ok", mid: "a-1", seqs: [1, 2] },
      { t: "ok", mid: "a-1", seqs: [1, 2] },
    ]);
    await room.room.handleMessage(writer, messageFrame({ t: "append", mid: "a-2", events: [{ type: "$x" }] }));
    expect(receivedMessages(writer).at(-1)).toMatchObject({ t: "nack", mid: "a-2", error: { code: "reserved_name" } });
    await room.room.handleMessage(writer, messageFrame({ t: "append", mid: "a-3", events: [{ type: "z" }], ifMatch: 1 }));
    expect(receivedMessages(writer).at(-1)).toMatchObject({ t: "nack", mid: "a-3", error: { code: "precondition_failed" } });
    expect((await (await room.request("GET", "/events")).json()).head).toBe(2);
  });
});
