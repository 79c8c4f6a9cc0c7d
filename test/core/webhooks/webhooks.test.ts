// The pure parts of the webhooks: signatures, backoff, batching, configuration, the shared alarm.
import { createHmac } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { createAlarmScheduler } from "../../../party/core/room/alarm-scheduler.ts";
import { resolveConfig } from "../../../party/core/room/config.ts";
import { deliveryBody, isDelivered, retryDelayMs, takeBatch } from "../../../party/core/webhooks/batch.ts";
import { readWebhookConfig } from "../../../party/core/room/webhook-config.ts";
import { MAX_WEBHOOK_ANSWER_BYTES, postSigned, signBody, verifySignature } from "../../../party/core/webhooks/signature.ts";

const event = (seq: number, stream = "orders", type = "placed", data: unknown = null) => ({
  seq,
  json: JSON.stringify({ seq, id: `e${seq}`, stream, type, data, ts: "2026-01-01T00:00:00.000Z", room: "r" }),
});

describe("webhook signatures", () => {
  it("are t=<seconds>,v1=<hex HMAC-SHA256(secret, t.body)>, as Node's crypto computes it", async () => {
    const body = '{"room":"r","events":[]}';
    const header = await signBody("s3cret", body, 1_700_000_000.9);
    const expected = createHmac("sha256", "s3cret").update(`1700000000.${body}`).digest("hex");
    expect(header).toBe(`t=1700000000,v1=${expected}`);
  });

  it("verify with the right secret and body within the tolerance, and nothing else", async () => {
    const body = '{"a":1}';
    const header = await signBody("k", body, 1000);
    expect(await verifySignature("k", header, body, { nowSeconds: 1000 + 299 })).toBe(true);
    expect(await verifySignature("k", header, body, { nowSeconds: 1000 - 299 })).toBe(true);
    expect(await verifySignature("k", header, body, { nowSeconds: 1000 + 301 })).toBe(false);
    expect(await verifySignature("other", header, body, { nowSeconds: 1000 })).toBe(false);
    expect(await verifySignature("k", header, '{"a":2}', { nowSeconds: 1000 })).toBe(false);
    expect(await verifySignature("k", null, body, { nowSeconds: 1000 })).toBe(false);
    expect(await verifySignature("k", header.replace("t=1000", "t=1001"), body, { nowSeconds: 1000 })).toBe(false);
  });
});

describe("retry backoff", () => {
  it.each([
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1000],
    [60, 1000],
  ])("attempt %i waits %i ms (100 ms doubling, capped at 1000 ms)", (attempt, ms) => {
    expect(retryDelayMs(attempt, 100, 1000)).toBe(ms);
  });
});

describe("delivery batches", () => {
  it("hold at most the event count, in seq order, and settle through their last event", () => {
    const read = [1, 2, 3, 4, 5].map((seq) => event(seq));
    const batch = takeBatch(read, {}, 0, { maxEvents: 3 });
    expect(batch.events.map((json) => JSON.parse(json).seq)).toEqual([1, 2, 3]);
    expect(batch).toMatchObject({ firstSeq: 1, lastSeq: 3, through: 3 });
  });

  it("hold at most the byte count, but always one event, however large", () => {
    const big = (seq: number) => event(seq, "orders", "placed", "x".repeat(600));
    expect(takeBatch([big(1), big(2), big(3)], {}, 0, { maxEvents: 100, maxBytes: 1500 }).events).toHaveLength(2);
    expect(takeBatch([big(7), big(8)], {}, 6, { maxEvents: 100, maxBytes: 10 })).toMatchObject({ firstSeq: 7, lastSeq: 7, through: 7 });
  });

  it("skip what the filters leave out, and settle past it without passing an event they keep", () => {
    const read = [event(1, "other"), event(2, "orders", "placed"), event(3, "orders", "note"), event(4, "orders", "paid"), event(5, "other")];
    const filter = { streams: ["orders"], types: ["placed", "paid"] };
    const first = takeBatch(read, filter, 0, { maxEvents: 1 });
    expect(first).toMatchObject({ firstSeq: 2, lastSeq: 2, through: 3 });
    const second = takeBatch(read.slice(3), filter, 3, { maxEvents: 1 });
    expect(second).toMatchObject({ firstSeq: 4, lastSeq: 4, through: 5 });
    expect(takeBatch([event(9, "other")], filter, 8)).toEqual({ events: [], through: 9 });
    expect(isDelivered({ types: ["paid"] }, { stream: "any", type: "paid" })).toBe(true);
  });

  it("are POSTed as {room, events} with the events as stored", () => {
    const body = deliveryBody('a "room"', [event(1).json]);
    expect(JSON.parse(body)).toEqual({ room: 'a "room"', events: [JSON.parse(event(1).json)] });
  });
});

describe("webhook configuration", () => {
  it("reads every variable, with defaults", () => {
    expect(readWebhookConfig({})).toEqual({});
    const config = readWebhookConfig({
      VALIDATE_URL: "http://127.0.0.1:9/validate",
      VALIDATE_FAIL_OPEN: "true",
      WEBHOOK_URL: "https://example.com/hook",
      WEBHOOK_SECRET: "s",
      WEBHOOK_STREAMS: "orders, $store",
      WEBHOOK_TYPES: "placed",
      WEBHOOK_RETRY_MS: "50",
    });
    expect(config).toEqual({
      secret: "s",
      validate: { url: "http://127.0.0.1:9/validate", timeoutMs: 2000, failOpen: true },
      delivery: { url: "https://example.com/hook", streams: ["orders", "$store"], types: ["placed"], timeoutMs: 10_000, retryMs: 50, retryMaxMs: 300_000 },
    });
  });

  it.each([
    [{ WEBHOOK_URL: "not a url" }, /WEBHOOK_URL is not a URL/],
    [{ VALIDATE_URL: "ftp://example.com/" }, /VALIDATE_URL must be an http or https URL/],
    [{ WEBHOOK_SECRET: "" }, /WEBHOOK_SECRET is empty/],
    [{ WEBHOOK_SECRET: "  " }, /WEBHOOK_SECRET is empty/],
    [{ VALIDATE_URL: "http://x/", VALIDATE_TIMEOUT_MS: "soon" }, /VALIDATE_TIMEOUT_MS must be a whole number/],
    [{ VALIDATE_TIMEOUT_MS: "0" }, /VALIDATE_TIMEOUT_MS must be a whole number/],
    [{ VALIDATE_FAIL_OPEN: "yes" }, /VALIDATE_FAIL_OPEN must be "true" or "false"/],
    [{ WEBHOOK_STREAMS: "orders" }, /WEBHOOK_STREAMS filters deliveries, but WEBHOOK_URL is not set/],
    [{ WEBHOOK_URL: "http://x/", WEBHOOK_TYPES: " , " }, /WEBHOOK_TYPES must name at least one/],
    [{ WEBHOOK_URL: "http://x/", WEBHOOK_RETRY_MS: "500", WEBHOOK_RETRY_MAX_MS: "100" }, /WEBHOOK_RETRY_MAX_MS must not be below/],
  ])("refuses %j", (env, message) => {
    expect(() => readWebhookConfig(env)).toThrow(message);
  });
});

describe("the shared alarm", () => {
  const fakeStorage = () => {
    let alarm: number | null = null;
    return {
      get alarm() {
        return alarm;
      },
      async getAlarm() {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return alarm;
      },
      async setAlarm(at: number) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        alarm = at;
      },
    };
  };

  it("is set to the earliest time asked for, even when requests overlap", async () => {
    const storage = fakeStorage();
    const schedule = createAlarmScheduler(storage);
    await Promise.all([schedule(5_000), schedule(1_000), schedule(30_000)]);
    expect(storage.alarm).toBe(1_000);
    await schedule(2_000);
    expect(storage.alarm).toBe(1_000);
  });
});

describe("a room's configuration with webhooks", () => {
  it("is refused at start-up when a webhook variable is malformed, naming the variable", () => {
    expect(() => resolveConfig({ VALIDATE_URL: "http://127.0.0.1:9/", VALIDATE_TIMEOUT_MS: "soon" })).toThrow(/VALIDATE_TIMEOUT_MS must be a whole number/);
    expect(resolveConfig({ WEBHOOK_URL: "http://127.0.0.1:9/" }).webhooks.delivery?.url).toBe("http://127.0.0.1:9/");
  });
});

describe("webhook answers", () => {
  const endless = (chunk: Uint8Array) => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    return { body, pulled: () => pulled };
  };

  it("are read up to MAX_WEBHOOK_ANSWER_BYTES, then cancelled, however much the service sends", async () => {
    const answer = endless(new Uint8Array(64 * 1024).fill(32));
    vi.stubGlobal("fetch", async () => new Response(answer.body, { status: 200 }));
    try {
      await expect(postSigned("http://validator.test/", "{}", { nowMs: 0, timeoutMs: 5_000 })).rejects.toThrow(
        `answered a body larger than ${MAX_WEBHOOK_ANSWER_BYTES} bytes`,
      );
      expect(answer.pulled()).toBeLessThan(4 * MAX_WEBHOOK_ANSWER_BYTES);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("fail when the body does not end within the timeout", async () => {
    vi.stubGlobal("fetch", async (_url: string, init: RequestInit) => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"accept":'));
          init.signal?.addEventListener("abort", () => controller.error(new Error("aborted")));
        },
      });
      return new Response(body, { status: 200 });
    });
    try {
      await expect(postSigned("http://validator.test/", "{}", { nowMs: 0, timeoutMs: 50 })).rejects.toThrow("did not answer within 50 ms");
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("are read whole when within the bound", async () => {
    vi.stubGlobal("fetch", async () => new Response('{"accept":true}', { status: 200 }));
    try {
      expect(await postSigned("http://validator.test/", "{}", { nowMs: 0, timeoutMs: 5_000 })).toEqual({ status: 200, text: '{"accept":true}' });
      await expect(postSigned("http://validator.test/", "{}", { nowMs: 0, timeoutMs: 5_000, maxAnswerBytes: 10 })).rejects.toThrow("larger than 10 bytes");
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
