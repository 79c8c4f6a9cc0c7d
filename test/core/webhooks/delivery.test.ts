// Delivery from the alarm, over in-memory storage, to a real Node receiver: the cursor, retries,
// the status, and retention holding what is not delivered yet.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookStatus } from "../../../party/core/index.ts";
import { startReceiver, verifyRoomstoreSignature, type Receiver } from "../../support/webhook-receiver.ts";
import { changesFrame, createTestRoom, settle } from "../support/harness.ts";

describe("webhook delivery from the alarm", () => {
  let receiver: Receiver;
  let failing = true;
  beforeAll(async () => {
    receiver = await startReceiver(() => ({ status: failing ? 500 : 200 }));
  });
  afterAll(async () => receiver?.close());

  it("holds retention while the receiver fails, retries after the backoff, then delivers in order and trims", async () => {
    let clock = Date.now();
    const room = await createTestRoom({
      now: () => clock,
      config: {
        retention: { maxEvents: 2 },
        webhooks: { secret: "k", delivery: { url: `${receiver.origin}/deliver`, timeoutMs: 2_000, retryMs: 1_000, retryMaxMs: 4_000 } },
      },
    });
    await room.request("POST", "/events", [1, 2, 3, 4, 5].map((n) => ({ type: "t", data: n })));
    await room.room.handleAlarm();
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0].headers["roomstore-delivery"]).toBe("test-room:1-5");
    const failed = await webhookStatus(room.room.core);
    expect(failed).toMatchObject({ cursor: 0, pending: 5, lastError: { message: "the receiver answered HTTP 500", attempts: 1 } });
    // Retention (at most 2 events) trimmed nothing: none was delivered.
    expect(room.room.core.log.first).toBe(1);

    // An alarm before the retry is due (say, retention's) sends nothing.
    clock += 500;
    await room.room.handleAlarm();
    expect(receiver.requests).toHaveLength(1);

    failing = false;
    clock += 600;
    await room.room.handleAlarm();
    expect(receiver.requests).toHaveLength(2);
    const [request] = receiver.requests.slice(1);
    expect(verifyRoomstoreSignature("k", request.headers["roomstore-signature"] as string, request.body)).toBe(true);
    expect(request.json.events.map((event: { data: number }) => event.data)).toEqual([1, 2, 3, 4, 5]);
    expect(await webhookStatus(room.room.core)).toEqual({ cursor: 5, pending: 0, lastError: null });
    expect(room.room.core.log.first).toBe(4);

    // The cursor is durable: a restarted room delivers only what came after it.
    const restarted = await room.restart();
    await restarted.request("POST", "/events", { type: "t", data: 6 });
    await restarted.room.handleAlarm();
    expect(receiver.requests.at(-1)!.headers["roomstore-delivery"]).toBe("test-room:6-6");
  });
});

describe("the delivery cursor", () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver(() => ({ status: 200 }));
  });
  afterAll(async () => receiver?.close());

  it("is reported moved only once its write is durable", async () => {
    const room = await createTestRoom({ now: Date.now, config: { webhooks: { delivery: { url: `${receiver.origin}/deliver`, timeoutMs: 2_000, retryMs: 1_000, retryMaxMs: 4_000 } } } });
    await room.request("POST", "/events", { type: "t" });
    const write = room.storage.write.bind(room.storage);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let writing!: () => void;
    const cursorWrite = new Promise<void>((resolve) => (writing = resolve));
    room.storage.write = async (puts, deletes) => {
      if ([...puts.keys()].some((key) => key.endsWith("w"))) {
        writing();
        await held;
      }
      return write(puts, deletes);
    };
    const alarm = room.room.handleAlarm();
    await cursorWrite;
    expect(await webhookStatus(room.room.core)).toMatchObject({ cursor: 0, pending: 1 });
    release();
    await alarm;
    expect(await webhookStatus(room.room.core)).toMatchObject({ cursor: 1, pending: 0 });
  });
});

describe("the validation webhook", () => {
  let validator: Receiver;
  beforeAll(async () => {
    validator = await startReceiver(({ json }) => ({ body: json?.events?.some((event: { type: string }) => event.type === "bad") ? { accept: false, reason: "no bad events" } : { accept: true } }));
  });
  afterAll(async () => validator?.close());

  it("sees each append once: a resend of stored events is not asked about again; a refusal is 403 and appends nothing", async () => {
    const room = await createTestRoom({ now: Date.now, config: { webhooks: { validate: { url: `${validator.origin}/validate`, timeoutMs: 2_000, failOpen: false } } } });
    const first = await room.request("POST", "/events", { type: "good", id: "once" });
    const again = await room.request("POST", "/events", { type: "good", id: "once" });
    expect([first.status, again.status]).toEqual([201, 201]);
    expect((await again.json()).events[0].seq).toBe(1);
    expect(validator.requests.map((request) => request.json)).toEqual([
      { room: "test-room", kind: "append", events: [{ type: "good", id: "once", stream: "default" }], role: "write" },
    ]);
    const refused = await room.request("POST", "/events", [{ type: "good" }, { type: "bad" }]);
    expect([refused.status, (await refused.json()).error]).toEqual([403, { code: "forbidden", message: "Refused by validation: no bad events" }]);
    expect(room.room.core.log.head).toBe(1);
  });
});

describe("a slow validation webhook", () => {
  it("is asked about the changesets of one group together, which still commit in their order, each all or nothing", async () => {
    let inFlight = 0;
    let most = 0;
    const validator = await startReceiver(async ({ json }) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 50));
      inFlight--;
      return { body: JSON.stringify(json?.changes ?? null).includes('"bad"') ? { accept: false, reason: "bad" } : { accept: true } };
    });
    try {
      const validate = { url: `${validator.origin}/validate`, timeoutMs: 2_000, failOpen: false };
      const room = await createTestRoom({ now: Date.now, config: { webhooks: { validate } } });
      expect((await room.request("PUT", "/store", [{}, {}])).status).toBe(201);
      const writer = room.connect("w");
      const cells = [0, 1, "bad", 3, 4];
      await Promise.all(cells.map((c, i) => room.room.handleMessage(writer, changesFrame([{ t: { [`r${i}`]: { c } } }, {}, 1]))));
      await settle();
      expect(most).toBe(cells.length);
      const page = (await (await room.request("GET", "/events?types=$changes")).json()) as { events: { data: [Record<string, Record<string, unknown>>] }[] };
      expect(page.events.map((event) => Object.keys(event.data[0].t))).toEqual([["r0"], ["r1"], ["r3"], ["r4"]]);
      expect(JSON.parse(await (await room.request("GET", "/store")).text())).toEqual([{ t: { r0: { c: 0 }, r1: { c: 1 }, r3: { c: 3 }, r4: { c: 4 } } }, {}]);
    } finally {
      await validator.close();
    }
  });
});

describe("a burst of changesets to a slow validation webhook", () => {
  it("asks at most 16 ahead of their jobs; the rest are asked in their turn, and all commit in their order", async () => {
    let inFlight = 0;
    let most = 0;
    const validator = await startReceiver(async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 30));
      inFlight--;
      return { body: { accept: true } };
    });
    try {
      const validate = { url: `${validator.origin}/validate`, timeoutMs: 5_000, failOpen: false };
      const room = await createTestRoom({ now: Date.now, config: { webhooks: { validate } } });
      expect((await room.request("PUT", "/store", [{}, {}])).status).toBe(201);
      const writer = room.connect("w");
      const rows = Array.from({ length: 24 }, (_, i) => `r${String(i).padStart(2, "0")}`);
      await Promise.all(rows.map((row) => room.room.handleMessage(writer, changesFrame([{ t: { [row]: { c: 1 } } }, {}, 1]))));
      await settle();
      expect(most).toBeGreaterThan(1);
      expect(most).toBeLessThanOrEqual(16);
      const page = (await (await room.request("GET", "/events?types=$changes")).json()) as { events: { data: [Record<string, Record<string, unknown>>] }[] };
      expect(page.events.map((event) => Object.keys(event.data[0].t)[0])).toEqual(rows);
    } finally {
      await validator.close();
    }
  });
});
