// PATCH of the store and both webhooks against real `wrangler dev` servers, with real Node HTTP
// receivers on 127.0.0.1: the validation service decides by room name, the delivery receiver
// records what arrives. One main server for most tests, one with a dead validator and fail-open.
// (A malformed variable is refused by resolveConfig at start-up: test/core/webhooks/webhooks.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RoomEvent } from "../../party/protocol.ts";
import { createRoomHttp, expectError } from "../support/room-http.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { connectTinyBase } from "../support/tinybase-client.ts";
import { waitFor } from "../support/wait.ts";
import { expectCorrectedAfterRefusal, startReceiver, verifyRoomstoreSignature, type Receiver } from "../support/webhook-receiver.ts";

const SECRET = "e2e-webhook-secret";
/** Long enough for a loaded machine's local answer, short enough for the timeout test. */
const VALIDATE_TIMEOUT_MS = 1_000;
const RETRY_MS = 200;
const STREAMS = ["$store", "orders"];
const TYPES = ["$init", "$replace", "$changes", "placed", "paid"];
const run = Date.now().toString(36);
const roomName = (name: string) => `${name}-${run}`;

/** Rooms whose first PUT the validation service has let through. */
const created = new Set<string>();

/** The validation service: refuses, rewrites, stalls or fails by the room's name; a store's first PUT always passes. */
const validatorAnswer = (json: any) => {
  const room = String(json?.room);
  if (json?.kind === "put" && !created.has(room)) {
    created.add(room);
    return { body: { accept: true } };
  }
  if (room.startsWith("reject-")) return { body: { accept: false, reason: "closed for writes" } };
  if (room.startsWith("slow-")) return { delayMs: VALIDATE_TIMEOUT_MS * 3, body: { accept: true } };
  if (room.startsWith("broken-")) return { status: 500 };
  if (room.startsWith("rewrite-") && (json.kind === "changes" || json.kind === "patch")) {
    const [tables, values] = json.changes;
    const upper = (thing: unknown): unknown =>
      typeof thing === "string" ? thing.toUpperCase() : thing && typeof thing === "object" ? Object.fromEntries(Object.entries(thing).map(([id, inner]) => [id, upper(inner)])) : thing;
    return { body: { accept: true, changes: [upper(tables), values, 1] } };
  }
  return { body: { accept: true } };
};

describe("PATCH and webhooks under wrangler dev", () => {
  let validator: Receiver;
  let receiver: Receiver;
  let server: RunningServer;
  let failOpen: RunningServer;
  const http = (room: string) => createRoomHttp(server.origin, room);
  const flakyAnswers = new Map<string, number>();

  beforeAll(async () => {
    validator = await startReceiver((request) => validatorAnswer(request.json));
    receiver = await startReceiver((request) => {
      const room = String(request.json?.room);
      // A "flaky-" room's receiver fails its first two deliveries.
      const seen = (flakyAnswers.get(room) ?? 0) + 1;
      flakyAnswers.set(room, seen);
      return { status: room.startsWith("flaky-") && seen <= 2 ? 500 : 200 };
    });
    const dead = await startReceiver();
    await dead.close();
    // One after another: wrangler dev instances starting at the same time can collide on a port.
    server = await startServer({
        kind: "wrangler",
        vars: {
          VALIDATE_URL: `${validator.origin}/validate`,
          VALIDATE_TIMEOUT_MS: String(VALIDATE_TIMEOUT_MS),
          WEBHOOK_URL: `${receiver.origin}/deliver`,
          WEBHOOK_SECRET: SECRET,
          WEBHOOK_STREAMS: STREAMS.join(","),
          WEBHOOK_TYPES: TYPES.join(","),
          WEBHOOK_RETRY_MS: String(RETRY_MS),
          WEBHOOK_RETRY_MAX_MS: String(RETRY_MS * 4),
        },
    });
    failOpen = await startServer({ kind: "wrangler", vars: { VALIDATE_URL: `${dead.origin}/validate`, VALIDATE_FAIL_OPEN: "true" } });
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), failOpen?.stop()]);
    await Promise.all([validator?.close(), receiver?.close()]);
  });

  const patch = (room: ReturnType<typeof http>, changes: unknown, headers: Record<string, string> = {}) =>
    room.request(room.url("/store").slice(room.url("").length), { method: "PATCH", body: JSON.stringify(changes), headers });

  it("PATCH applies a changeset (null deletes) to every client and the log, with If-Match on the store's seq", async () => {
    const name = roomName("patch");
    const room = http(name);
    expectError(await patch(room, [{ t: { r: { a: 1 } } }, {}, 1]), 409, "conflict");
    expect((await room.putStore([{ t: { r: { a: 1, b: 2 } } }, { v: 1 }])).status).toBe(201);
    const client = await connectTinyBase(server.host, name);
    try {
      await waitFor(() => client.store.getCell("t", "r", "b"), (cell) => cell === 2, { what: "the client to load" });
      const patched = await patch(room, [{ t: { r: { a: 10, b: null } } }, { v: null, w: "x" }, 1]);
      expect([patched.status, patched.body, patched.headers.get("ETag")]).toEqual([200, { seq: 2 }, '"2"']);
      expect((await room.getStore()).body).toEqual([{ t: { r: { a: 10 } } }, { w: "x" }]);
      await waitFor(() => client.store.getContent(), ([tables, values]) => tables.t?.r?.a === 10 && values.w === "x", { what: "the broadcast" });
      expect(client.store.getContent()).toEqual([{ t: { r: { a: 10 } } }, { w: "x" }]);
      const [event] = (await room.page("after=1")).body.events;
      expect([event.stream, event.type, event.data]).toEqual(["$store", "$changes", [{ t: { r: { a: 10, b: null } } }, { v: null, w: "x" }, 1]]);

      expectError(await patch(room, [{ t: { r: { a: 11 } } }, {}, 1], { "If-Match": '"1"' }), 412, "precondition_failed");
      expect((await patch(room, [{ t: { r: { a: 12 } } }, {}, 1], { "If-Match": '"2"' })).body).toEqual({ seq: 3 });
      expectError(await patch(room, [{ t: { r: "not a row" } }, {}, 1]), 400, "invalid_content");
      expect((await room.getStore()).body).toEqual([{ t: { r: { a: 12 } } }, { w: "x" }]);
      expect(await room.head()).toBe(3);
    } finally {
      await client.close();
    }
    // The validation service saw each write that reached the commit, signed: not the stale or invalid ones.
    const seen = validator.requests.filter((request) => request.json.room === name);
    expect(seen.map((request) => request.json.kind)).toEqual(["put", "patch", "patch"]);
    expect(seen[1].json).toEqual({ room: name, kind: "patch", changes: [{ t: { r: { a: 10, b: null } } }, { v: null, w: "x" }, 1], role: "write" });
    for (const request of seen) expect(verifyRoomstoreSignature(SECRET, request.headers["roomstore-signature"] as string, request.body)).toBe(true);
  });

  it("a refusal by the validation service is 403 with its reason and changes nothing; a TinyBase client is corrected", async () => {
    const name = roomName("reject-");
    const room = http(name);
    expect((await room.putStore([{ t: { r: { c: "kept" } } }, {}])).status).toBe(201);
    const refused = await patch(room, [{ t: { r: { c: "no" } } }, {}, 1]);
    expectError(refused, 403, "forbidden");
    expect(refused.body.error.message).toContain("closed for writes");
    expectError(await room.append({ type: "placed", stream: "orders" }), 403, "forbidden");
    expectError(await room.putStore([{ t: { r: { c: "replaced" } } }, {}], { "If-Match": '"1"' }), 403, "forbidden");
    await expectCorrectedAfterRefusal(server.host, name, validator, "kept");
    expect((await room.getStore()).body).toEqual([{ t: { r: { c: "kept" } } }, {}]);
    expect(await room.head()).toBe(1);
  });

  it("a rewrite by the validation service is stored and reaches its sender and every other client", async () => {
    const name = roomName("rewrite-");
    const room = http(name);
    expect((await room.putStore([{ t: { r: { c: "a" } } }, {}])).status).toBe(201);
    const [writer, reader] = await Promise.all([connectTinyBase(server.host, name), connectTinyBase(server.host, name)]);
    try {
      await waitFor(() => writer.store.getCell("t", "r", "c"), (cell) => cell === "a", { what: "the writer to load" });
      writer.store.setCell("t", "r", "c", "hello");
      for (const client of [writer, reader]) {
        await waitFor(() => client.store.getCell("t", "r", "c"), (cell) => cell === "HELLO", { what: "the rewrite to reach a client" });
      }
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
    expect((await room.getStore()).body).toEqual([{ t: { r: { c: "HELLO" } } }, {}]);
    // All or nothing: PATCH does not accept a rewrite of what it sent.
    expectError(await patch(room, [{ t: { r: { c: "bye" } } }, {}, 1]), 403, "forbidden");
  });

  it("a validation service that does not answer in time, or fails, makes writes 503 unavailable and changes nothing", async () => {
    for (const prefix of ["slow-", "broken-"]) {
      const room = http(roomName(prefix));
      expect((await room.putStore([{ t: { r: { c: 1 } } }, {}])).status).toBe(201);
      const started = Date.now();
      expectError(await patch(room, [{ t: { r: { c: 2 } } }, {}, 1]), 503, "unavailable");
      if (prefix === "slow-") expect(Date.now() - started).toBeGreaterThanOrEqual(VALIDATE_TIMEOUT_MS - 50);
      expectError(await room.append({ type: "placed", stream: "orders" }), 503, "unavailable");
      expect((await room.getStore()).body).toEqual([{ t: { r: { c: 1 } } }, {}]);
      expect(await room.head()).toBe(1);
    }
  });

  it("with VALIDATE_FAIL_OPEN, a validation service that cannot be reached lets writes commit", async () => {
    const room = createRoomHttp(failOpen.origin, roomName("open"));
    expect((await room.putStore([{ t: { r: { c: 1 } } }, {}])).status).toBe(201);
    expect((await patch(room, [{ t: { r: { c: 2 } } }, {}, 1])).body).toEqual({ seq: 2 });
    expect((await room.appendOk({ type: "placed" }))[0].seq).toBe(3);
    await waitFor(() => failOpen.output(), (output) => output.includes("committing (VALIDATE_FAIL_OPEN)"), { what: "the log line" });
  });

  /** The room's events the delivery filters keep, as the log has them. */
  const expectedDeliveries = async (room: ReturnType<typeof http>): Promise<RoomEvent[]> =>
    (await room.allEvents()).filter((event) => STREAMS.includes(event.stream) && TYPES.includes(event.type));

  /** Every request of a room: signed, its Roomstore-Delivery header naming its seqs, and never going back. */
  const checkDeliveries = (name: string) => {
    let settled = 0;
    for (const request of receiver.deliveries(name)) {
      expect(verifyRoomstoreSignature(SECRET, request.headers["roomstore-signature"] as string, request.body)).toBe(true);
      const seqs = (request.json.events as RoomEvent[]).map((event) => event.seq);
      expect(request.headers["roomstore-delivery"]).toBe(`${name}:${seqs[0]}-${seqs.at(-1)}`);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      // A request starts right after what was settled, or repeats a batch that failed.
      expect(seqs[0]).toBeGreaterThan(settled - seqs.length);
      settled = Math.max(settled, seqs.at(-1)!);
    }
  };

  it("delivers the filtered events, signed, in seq order, with no gap, from the alarm", async () => {
    const name = roomName("order");
    const room = http(name);
    expect((await room.putStore([{ t: { r: { n: 0 } } }, {}])).status).toBe(201);
    const writes: Promise<{ status: number }>[] = [];
    for (let i = 1; i <= 15; i++) {
      writes.push(patch(room, [{ t: { r: { n: i } } }, {}, 1]));
      writes.push(room.append([{ type: "placed", stream: "orders", data: i }, { type: "note", stream: "orders" }, { type: "paid", stream: "other" }]));
    }
    expect((await Promise.all(writes)).map((answer) => answer.status).sort()).toEqual([...Array(15).fill(200), ...Array(15).fill(201)]);
    const expected = await expectedDeliveries(room);
    expect(expected.length).toBe(1 + 15 + 15);
    await waitFor(() => receiver.delivered(name).length, (count) => count >= expected.length, { what: "every delivery" });
    expect(receiver.delivered(name)).toEqual(expected);
    checkDeliveries(name);
  });

  it("retries a batch the receiver answered 500, after a backoff, and loses nothing", async () => {
    const name = roomName("flaky-");
    const room = http(name);
    expect((await room.putStore([{ t: { r: { n: 0 } } }, {}])).status).toBe(201);
    for (let i = 1; i <= 5; i++) await room.appendOk({ type: "placed", stream: "orders", data: i });
    const expected = await expectedDeliveries(room);
    await waitFor(() => receiver.delivered(name).length, (count) => count >= expected.length, { what: "every delivery" });
    expect(receiver.delivered(name)).toEqual(expected);
    const requests = receiver.deliveries(name);
    expect(requests.length).toBeGreaterThanOrEqual(3);
    expect(requests[1].json.events[0].seq).toBe(requests[0].json.events[0].seq);
    expect(requests[2].json.events[0].seq).toBe(requests[0].json.events[0].seq);
    expect(requests[1].at - requests[0].at).toBeGreaterThanOrEqual(RETRY_MS - 20);
    expect(requests[2].at - requests[1].at).toBeGreaterThanOrEqual(2 * RETRY_MS - 20);
    checkDeliveries(name);
  });

  it("keeps retrying while the receiver refuses connections, across a restart of the server, then delivers everything", async () => {
    const name = roomName("down");
    const room = http(name);
    await receiver.close();
    expect((await room.putStore([{ t: { r: { n: 0 } } }, {}])).status).toBe(201);
    for (let i = 1; i <= 5; i++) await room.appendOk({ type: "placed", stream: "orders", data: i });
    const expected = await expectedDeliveries(room);
    await waitFor(() => server.output(), (output) => output.includes(`webhook delivery of room ${JSON.stringify(name)}`), { what: "a failure in the log" });
    await server.restart();
    await receiver.listen();
    // No request to the room: the alarm, kept across the restart, brings delivery back.
    await waitFor(() => receiver.delivered(name).length, (count) => count >= expected.length, { what: "every delivery after the restart" });
    expect(receiver.delivered(name)).toEqual(expected);
    checkDeliveries(name);
  });
});
