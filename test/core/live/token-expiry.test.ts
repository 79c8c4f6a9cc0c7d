// Tokens that end (party/core/live/token-expiry.ts), on the pure core with an injected clock: sockets
// closed at `exp` by the alarm and on a late frame, across a wake-up, refreshes that apply or are
// refused, SSE streams that end with an error record, and the gate that passes `exp` on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAlarmScheduler } from "../../../party/core/room/alarm-scheduler.ts";
import { ROLE_HEADER, signToken, TOKEN_EXPIRY_HEADER } from "../../../party/core/room/auth.ts";
import { endAtExpiry } from "../../../party/core/live/token-expiry.ts";
import { gate } from "../../../party/gate.ts";
import { CLOSE_TOKEN_EXPIRED, TOKEN_EXPIRED_REASON } from "../../../party/protocol.ts";
import { startReceiver, type Receiver } from "../../support/webhook-receiver.ts";
import { createConnection, createTestRoom, messageFrame, settle, receivedMessages, type TestConnection, type TestRoom } from "../support/harness.ts";

const SECRET = "core-test-secret";
const ENV = { AUTH_SECRET: SECRET, AUTH_WRITE_TOKEN: "shared-write" };
const START_MS = Date.UTC(2026, 0, 1);
const startSeconds = START_MS / 1000;

/** A room with AUTH_SECRET, a clock the test moves, and the alarms it asks for. */
const signedRoom = async () => {
  const clock = { ms: START_MS };
  const alarms: number[] = [];
  const room = await createTestRoom({ env: ENV, now: () => clock.ms, scheduleAlarm: (at) => void alarms.push(at) });
  await room.request("PUT", "/store", [{}, {}]);
  return { room, clock, alarms };
};

/** A socket as the gate admits it: with its role and its token's expiry (seconds), on `path`. */
const connectWith = (room: TestRoom, id: string, role: "read" | "write", exp?: number, path = ""): TestConnection => {
  const connection = createConnection(id);
  room.connections.push(connection);
  const headers: Record<string, string> = { [ROLE_HEADER]: role, ...(exp === undefined ? {} : { [TOKEN_EXPIRY_HEADER]: String(exp) }) };
  room.room.handleConnect(connection, new Request(`http://room.test/parties/main/test-room${path}`, { headers }));
  return connection;
};

const append = (room: TestRoom, connection: TestConnection, mid: string) =>
  room.room.handleMessage(connection, messageFrame({ t: "append", mid, events: [{ type: "note" }] }));

const headOf = async (room: TestRoom) => (await (await room.request("GET", "/events")).json()).head as number;
const answerTo = (connection: TestConnection, mid: string) => receivedMessages(connection).find((message) => message.mid === mid);
const expiredClose = { code: CLOSE_TOKEN_EXPIRED, reason: TOKEN_EXPIRED_REASON };

describe("a socket admitted by a signed token", () => {
  it("is closed with 4001 by a frame that arrives after exp, which is not applied", async () => {
    const { room, clock } = await signedRoom();
    const socket = connectWith(room, "a", "write", startSeconds + 3);
    await append(room, socket, "early");
    expect(answerTo(socket, "early")).toMatchObject({ t: "ok", seqs: [2] });
    clock.ms += 6_000;
    await append(room, socket, "late");
    expect(socket.closed).toEqual(expiredClose);
    expect(answerTo(socket, "late")).toBeUndefined();
    expect(await headOf(room)).toBe(2);
  });

  it("asks for the alarm at its exp; the alarm closes the expired sockets, main and /sync, and asks for the next exp", async () => {
    const { room, clock, alarms } = await signedRoom();
    const soon = connectWith(room, "soon", "write", startSeconds + 2);
    const sync = connectWith(room, "sync", "read", startSeconds + 2, "/sync");
    const later = connectWith(room, "later", "read", startSeconds + 10);
    const shared = connectWith(room, "shared", "write");
    expect(Math.min(...alarms)).toBe(START_MS + 2_000);

    // An alarm that comes early closes nothing.
    await room.room.handleAlarm();
    expect([soon, sync, later, shared].map((socket) => socket.closed)).toEqual([undefined, undefined, undefined, undefined]);

    clock.ms += 2_000;
    alarms.length = 0;
    await room.room.handleAlarm();
    expect([soon.closed, sync.closed, later.closed, shared.closed]).toEqual([expiredClose, expiredClose, undefined, undefined]);
    expect(alarms).toContain(START_MS + 10_000);
  });

  it("is closed by the alarm of a room that woke from hibernation, from the expiry kept in its state", async () => {
    const { room, clock } = await signedRoom();
    const socket = connectWith(room, "a", "write", startSeconds + 2);
    const fresh = await room.restart([socket]);
    clock.ms += 3_000;
    await fresh.room.handleAlarm();
    expect(socket.closed).toEqual(expiredClose);
  });
});

describe("the room's one alarm", () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver(() => ({ status: 500 }));
  });
  afterAll(async () => receiver?.close());

  it("keeps each need's time: an expiry comes before a delivery retry, which still comes at its own time", async () => {
    const clock = { ms: START_MS };
    // The runtime's one alarm: cleared when it fires, set by the room through the scheduler.
    let alarm: number | null = null;
    const scheduleAlarm = createAlarmScheduler({ getAlarm: async () => alarm, setAlarm: async (at) => void (alarm = at) });
    const delivery = { url: `${receiver.origin}/deliver`, timeoutMs: 2_000, retryMs: 4_000, retryMaxMs: 4_000 };
    const room = await createTestRoom({ env: ENV, now: () => clock.ms, scheduleAlarm: (at) => void scheduleAlarm(at), config: { webhooks: { delivery } } });
    const fire = async () => {
      alarm = null;
      await room.room.handleAlarm();
      await settle();
    };
    await room.request("POST", "/events", { type: "t" });
    const socket = connectWith(room, "a", "write", startSeconds + 2);
    await settle();

    await fire();
    expect(receiver.requests).toHaveLength(1);
    expect(alarm).toBe(START_MS + 2_000);

    clock.ms += 2_000;
    await fire();
    expect(socket.closed).toEqual(expiredClose);
    expect([receiver.requests.length, alarm]).toEqual([1, START_MS + 4_000]);

    clock.ms += 2_000;
    await fire();
    expect(receiver.requests).toHaveLength(2);
  });
});

describe("the auth frame", () => {
  const refresh = async (room: TestRoom, socket: TestConnection, mid: string, token: string) => {
    await room.room.handleMessage(socket, messageFrame({ t: "auth", mid, token }));
    return answerTo(socket, mid);
  };

  it("gives the socket the new token's role and exp: a reader becomes a writer, and outlives its first token", async () => {
    const { room, clock } = await signedRoom();
    const socket = connectWith(room, "a", "read", startSeconds + 3);
    await append(room, socket, "as-reader");
    expect(answerTo(socket, "as-reader")).toMatchObject({ t: "nack", error: { code: "forbidden" } });
    const token = await signToken(SECRET, { room: "test-room", role: "write", exp: startSeconds + 60 });
    expect(await refresh(room, socket, "m1", token)).toEqual({ t: "ok", mid: "m1" });
    clock.ms += 6_000;
    await room.room.handleAlarm();
    await append(room, socket, "as-writer");
    expect([socket.closed, answerTo(socket, "as-writer")]).toMatchObject([undefined, { t: "ok", seqs: [2] }]);
  });

  it("takes a writer down to read", async () => {
    const { room } = await signedRoom();
    const socket = connectWith(room, "a", "write", startSeconds + 30);
    expect(await refresh(room, socket, "m1", await signToken(SECRET, { room: "test-room", role: "read", exp: startSeconds + 60 }))).toEqual({ t: "ok", mid: "m1" });
    await append(room, socket, "after");
    expect(answerTo(socket, "after")).toMatchObject({ t: "nack", error: { code: "forbidden" } });
  });

  it.each([
    ["a token for another room", () => signToken(SECRET, { room: "other-room", role: "write", exp: startSeconds + 60 }), "forbidden"],
    ["a token with a bad signature", () => signToken("another-secret", { room: "test-room", role: "write", exp: startSeconds + 60 }), "forbidden"],
    ["an expired token", () => signToken(SECRET, { room: "test-room", role: "write", exp: startSeconds - 1 }), "unauthorized"],
  ])("refuses %s with a nack; the old token stays, with its role and its expiry", async (_name, makeToken, code) => {
    const { room, clock } = await signedRoom();
    const socket = connectWith(room, "a", "read", startSeconds + 3);
    expect(await refresh(room, socket, "m1", await makeToken())).toMatchObject({ t: "nack", mid: "m1", error: { code } });
    await append(room, socket, "still-reader");
    expect(answerTo(socket, "still-reader")).toMatchObject({ t: "nack", error: { code: "forbidden" } });
    clock.ms += 3_000;
    await room.room.handleAlarm();
    expect(socket.closed).toEqual(expiredClose);
  });

  it("takes a shared token, which ends the expiry", async () => {
    const { room, clock } = await signedRoom();
    const socket = connectWith(room, "a", "read", startSeconds + 3);
    expect(await refresh(room, socket, "m1", "shared-write")).toEqual({ t: "ok", mid: "m1" });
    clock.ms += 6_000;
    await room.room.handleAlarm();
    await append(room, socket, "later");
    expect([socket.closed, answerTo(socket, "later")?.t]).toEqual([undefined, "ok"]);
  });

  it.each([
    ["without a token", { t: "auth", mid: "m1" }],
    ["with an empty token", { t: "auth", mid: "m1", token: "" }],
    ["without a mid", { t: "auth", token: "x" }],
  ])("is an error frame %s, and changes nothing", async (_name, frame) => {
    const { room } = await signedRoom();
    const socket = connectWith(room, "a", "read", startSeconds + 3);
    await room.room.handleMessage(socket, messageFrame(frame));
    expect(receivedMessages(socket).at(-1)).toMatchObject({ t: "error", error: { code: "bad_request", message: expect.stringMatching(/^auth needs/) } });
    expect(socket.closed).toBeUndefined();
  });
});

describe("an SSE stream opened by a signed token", () => {
  it("ends at exp after an error record", async () => {
    const { room, clock } = await signedRoom();
    const exp = (clock.ms + 300) / 1000;
    const response = await room.request("GET", "/events", undefined, { Accept: "text/event-stream", [TOKEN_EXPIRY_HEADER]: String(exp) });
    const text = await response.text();
    expect(text).toContain("event: caught-up");
    expect(text.trimEnd().endsWith(`event: error\ndata: {"error":{"code":"unauthorized","message":"${TOKEN_EXPIRED_REASON}"}}`)).toBe(true);
  });
});

describe("endAtExpiry", () => {
  it("ends after the record it is part-way through, never inside it", async () => {
    const encoder = new TextEncoder();
    let source!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (controller) => void (source = controller) });
    source.enqueue(encoder.encode("id: 1\nevent: a\ndata: first half"));
    const ended = endAtExpiry(new Response(body), Date.now(), Date.now);
    const reader = ended.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    // exp has passed while the record is half written: its rest still comes, then the error record.
    await new Promise((resolve) => setTimeout(resolve, 10));
    source.enqueue(encoder.encode(", second half\n"));
    source.enqueue(encoder.encode("\n"));
    source.enqueue(encoder.encode("id: 2\nevent: a\ndata: never sent\n\n"));
    for (let read = await reader.read(); !read.done; read = await reader.read()) text += decoder.decode(read.value);
    expect(text).toBe(`id: 1\nevent: a\ndata: first half, second half\n\nevent: error\ndata: {"error":{"code":"unauthorized","message":"${TOKEN_EXPIRED_REASON}"}}\n\n`);
  });
});

describe("the gate", () => {
  const gated = async (token: string, headers: Record<string, string> = {}) =>
    (await gate(new Request(`http://x/parties/main/r1/store?token=${token}`, { headers }), ENV, "r1")) as Request;

  it("passes a signed token's exp on, and never one a client sent", async () => {
    const exp = Math.floor(Date.now() / 1000) + 60;
    expect((await gated(await signToken(SECRET, { room: "r1", role: "read", exp }))).headers.get(TOKEN_EXPIRY_HEADER)).toBe(String(exp));
    expect((await gated("shared-write", { [TOKEN_EXPIRY_HEADER]: String(exp) })).headers.get(TOKEN_EXPIRY_HEADER)).toBeNull();
  });
});
