// Memory bounded in bytes: large events and readers that stop reading. What the room holds for its
// readers (SSE queues, unacknowledged subscription events) is measured by the room's own gauge;
// pages are measured by their size.
import { describe, expect, it } from "vitest";
import { createTestRoom, messageFrame, receivedMessages, settle } from "../support/harness.ts";
import { createSseReader } from "../support/sse-reader.ts";

const KIB = 1024;
/** Budgets small enough that a handful of large events crosses each of them many times. */
const BUDGET_BYTES = 64 * KIB;
const EVENT_DATA_CHARS = 100_000;
const EVENTS = 20;
/** An event's stored text or SSE record is its data plus well under a kilobyte of fields. */
const EVENT_BYTES_AT_MOST = EVENT_DATA_CHARS + KIB;

const config = { limits: { maxPageBytes: 4 * BUDGET_BYTES, maxSseQueueBytes: BUDGET_BYTES, maxSubscriptionBytes: BUDGET_BYTES } };
type TestRoom = Awaited<ReturnType<typeof createTestRoom>>;

const appendLarge = async (room: TestRoom, count: number) => {
  for (let i = 0; i < count; i++) {
    const response = await room.request("POST", "/events", [{ type: "big", data: String(i).padEnd(EVENT_DATA_CHARS, "x") }]);
    expect(response.status).toBe(201);
  }
};

describe("byte budgets", () => {
  it("a page stops at its byte budget with at least one event, and next continues it to the end", async () => {
    const room = await createTestRoom({ config });
    await appendLarge(room, EVENTS);
    const seen: number[] = [];
    let query = "?limit=1000";
    for (let pages = 0; pages < EVENTS + 1; pages++) {
      const text = await (await room.request("GET", `/events${query}`)).text();
      const page = JSON.parse(text);
      expect(text.length).toBeLessThanOrEqual(config.limits.maxPageBytes + EVENT_BYTES_AT_MOST + KIB);
      if (page.events.length === 0) break;
      seen.push(...page.events.map((event: { seq: number }) => event.seq));
      query = `?limit=1000&after=${page.next}`;
    }
    expect(seen).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
  });

  it("a single event larger than the page budget is a page of its own", async () => {
    const room = await createTestRoom({ config: { limits: { maxPageBytes: 1_000 } } });
    await appendLarge(room, 2);
    const page = await (await room.request("GET", "/events")).json();
    expect(page.events.map((event: { seq: number }) => event.seq)).toEqual([1]);
    expect(page.next).toBe(1);
  });

  it("four SSE readers that stop reading hold at most their queue budget (or one event) each, and get everything once they read", async () => {
    const room = await createTestRoom({ config });
    const responses = await Promise.all(
      Array.from({ length: 4 }, () => room.request("GET", "/events", undefined, { Accept: "text/event-stream" })),
    );
    await appendLarge(room, EVENTS);
    await settle();
    const held = room.room.core.memory.heldBytes();
    expect(held.readers).toBe(4);
    expect(held.largest).toBeLessThanOrEqual(Math.max(BUDGET_BYTES, EVENT_BYTES_AT_MOST) + EVENT_BYTES_AT_MOST);
    expect(held.total).toBeLessThanOrEqual(4 * (BUDGET_BYTES + EVENT_BYTES_AT_MOST));
    // The feed fell behind, not the reader: it gets every event, in order, once it reads.
    const reader = createSseReader(responses[0]);
    const records = await reader.take(EVENTS + 1);
    expect(records.filter((record) => record.event === "big").map((record) => Number(record.id))).toEqual(
      Array.from({ length: EVENTS }, (_, i) => i + 1),
    );
    await reader.cancel();
    for (const response of responses.slice(1)) await response.body!.cancel();
    expect(room.room.core.memory.heldBytes().readers).toBe(0);
  });

  it("a subscription that stops acknowledging has at most its byte budget (or one event) unacknowledged, whatever its credit", async () => {
    const room = await createTestRoom({ config });
    const socket = room.connect("reader");
    await room.room.handleMessage(socket, messageFrame({ t: "sub", sid: "s", credit: 10_000 }));
    await appendLarge(room, EVENTS);
    await settle();
    const delivered = () => receivedMessages(socket).filter((message) => message.t === "ev").map((message) => message.e.seq);
    const sentBytes = socket.sent.filter((frame) => frame.includes('"t":"ev"')).reduce((sum, frame) => sum + frame.length, 0);
    expect(sentBytes).toBeLessThanOrEqual(BUDGET_BYTES + EVENT_BYTES_AT_MOST + KIB);
    expect(room.room.core.memory.heldBytes().largest).toBeLessThanOrEqual(BUDGET_BYTES + EVENT_BYTES_AT_MOST);
    expect(delivered().length).toBeLessThan(EVENTS);
    // Acknowledging what arrived lets the feed go on, from storage, with no gap.
    for (let acks = 0; acks < EVENTS && delivered().length < EVENTS; acks++) {
      await room.room.handleMessage(socket, messageFrame({ t: "ack", sid: "s", credit: delivered().length }));
      await settle();
      await settle();
    }
    expect(delivered()).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
  });
});
