// Signed tokens that end, inside workerd: sockets of the `signed` party (AUTH_SECRET, retention of
// five events; worker.ts) closed with 4001 at `exp` by the alarm, hibernated or not, main and
// /sync; late frames refused; refreshes over the auth frame; SSE streams ended with an error
// record; the alarm shared with retention. Tokens expire a second or two out, and the tests wait
// for the clock to pass `exp` (a condition), then run the alarm (which the runtime may have run
// already, by its time).
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { signToken, type Role } from "../../party/core/room/auth.ts";
import { CLOSE_TOKEN_EXPIRED, TOKEN_EXPIRED_REASON } from "../../party/protocol.ts";
import type { Room } from "../../party/worker.ts";
import { waitFor } from "../support/wait.ts";
import { at, call, messageIn, openSocket, roomUrl, type Socket } from "./helpers.ts";
import { SIGNED_SECRET } from "./worker.ts";

const PARTY = "signed";
/** How far out the short tokens expire: long enough to open a socket and write once under load. */
const SHORT_TOKEN_MS = 3_000;

const tokenFor = (room: string, role: Role, lifetimeMs: number, secret = SIGNED_SECRET) =>
  signToken(secret, { room, role, exp: (Date.now() + lifetimeMs) / 1000 });

const expiryOf = (token: string): number => JSON.parse(atob(token.split(".")[0].replace(/-/g, "+").replace(/_/g, "/"))).exp * 1000;

/** Waits until the clock has passed the token's `exp`. */
const pastExpiry = (token: string) => waitFor(() => Date.now(), (now) => now > expiryOf(token), { what: "the token's exp to pass" });

const open = (room: string, token: string, path = "") => openSocket(at(room, PARTY), `${path}?token=${encodeURIComponent(token)}`);

const stubOf = (room: string) => env.Signed.getByName(room);

const send = (socket: Socket, message: unknown) => socket.send("x" + JSON.stringify(message));
const appendFrom = (socket: Socket, mid: string) => send(socket, { t: "append", mid, events: [{ type: "note" }] });
/** Once the token's exp has passed and the room's alarm has run, the socket is closed with 4001. */
const expectClosedAtExpiry = async (room: string, token: string, socket: Socket) => {
  await pastExpiry(token);
  await runDurableObjectAlarm(stubOf(room));
  expect(await socket.closed()).toBe(CLOSE_TOKEN_EXPIRED);
};
const answer = async (socket: Socket, mid: string) => messageIn(await socket.frame((frame) => messageIn(frame)?.mid === mid));
const headOf = async (room: string, token: string) =>
  (await call(roomUrl(room, "/events", PARTY), { headers: { Authorization: `Bearer ${token}` } })).json().head as number;

describe.concurrent("a socket opened with a signed token", () => {
  it("is closed with 4001 at exp while the room hibernates: the alarm wakes it", async () => {
    const room = "expire-hibernated";
    const token = await tokenFor(room, "write", SHORT_TOKEN_MS);
    const socket = await open(room, token);
    appendFrom(socket, "m1");
    expect(await answer(socket, "m1")).toMatchObject({ t: "ok", seqs: [1] });
    await evictDurableObject(stubOf(room));
    await expectClosedAtExpiry(room, token, socket);
  });

  it("is closed with 4001 at exp while active", async () => {
    const room = "expire-active";
    const token = await tokenFor(room, "write", SHORT_TOKEN_MS);
    const socket = await open(room, token);
    const reason = new Promise<string>((resolve) => socket.ws.addEventListener("close", (event) => resolve(event.reason)));
    await expectClosedAtExpiry(room, token, socket);
    expect(await reason).toBe(TOKEN_EXPIRED_REASON);
  });

  it("is closed with 4001 by a frame sent after exp when the alarm is late, and the frame appends nothing", async () => {
    const room = "expire-late-frame";
    const token = await tokenFor(room, "write", SHORT_TOKEN_MS);
    const socket = await open(room, token);
    await runInDurableObject(stubOf(room), (_room: Room, state) => state.storage.deleteAlarm());
    await pastExpiry(token);
    appendFrom(socket, "late");
    expect(await socket.closed()).toBe(CLOSE_TOKEN_EXPIRED);
    expect(socket.frames.some((frame) => messageIn(frame)?.mid === "late")).toBe(false);
    expect(await headOf(room, await tokenFor(room, "read", 60_000))).toBe(0);
  });

  it("on /sync is closed with 4001 at exp while the room hibernates", async () => {
    const room = "expire-sync";
    const token = await tokenFor(room, "write", SHORT_TOKEN_MS);
    const socket = await open(room, token, "/sync");
    await evictDurableObject(stubOf(room));
    await expectClosedAtExpiry(room, token, socket);
  });
});

describe.concurrent("the auth frame", () => {
  it("refreshes a socket's token: its role and exp apply, across hibernation", async () => {
    const room = "refresh-ok";
    const first = await tokenFor(room, "read", SHORT_TOKEN_MS);
    const socket = await open(room, first);
    appendFrom(socket, "as-reader");
    expect(await answer(socket, "as-reader")).toMatchObject({ t: "nack", error: { code: "forbidden" } });
    send(socket, { t: "auth", mid: "m1", token: await tokenFor(room, "write", 60_000) });
    expect(await answer(socket, "m1")).toEqual({ t: "ok", mid: "m1" });

    await evictDurableObject(stubOf(room));
    await pastExpiry(first);
    await runDurableObjectAlarm(stubOf(room));
    appendFrom(socket, "as-writer");
    expect(await answer(socket, "as-writer")).toMatchObject({ t: "ok", seqs: [1] });
    expect(socket.closedWith).toBeUndefined();
  });

  it("answers a nack to a token for another room, a bad signature or an expired token; the old token stays until its exp", async () => {
    const room = "refresh-nack";
    const first = await tokenFor(room, "read", SHORT_TOKEN_MS + 1_000);
    const socket = await open(room, first);
    const refused = [
      ["wrong-room", await tokenFor("another-room", "write", 60_000), "forbidden"],
      ["bad-signature", await tokenFor(room, "write", 60_000, "another-secret"), "forbidden"],
      ["expired", await tokenFor(room, "write", -1_000), "unauthorized"],
    ];
    for (const [mid, token, code] of refused) {
      send(socket, { t: "auth", mid, token });
      expect(await answer(socket, mid)).toMatchObject({ t: "nack", mid, error: { code } });
    }
    appendFrom(socket, "still-reader");
    expect(await answer(socket, "still-reader")).toMatchObject({ t: "nack", error: { code: "forbidden" } });
    await expectClosedAtExpiry(room, first, socket);
  });
});

describe.concurrent("an SSE stream opened with a signed token", () => {
  it("ends at exp after an error record", async () => {
    const room = "expire-sse";
    const token = await tokenFor(room, "read", SHORT_TOKEN_MS);
    const response = await exports.default.fetch(roomUrl(room, `/events?token=${encodeURIComponent(token)}`, PARTY), { headers: { Accept: "text/event-stream" } });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain("event: caught-up");
    expect(text.trimEnd().endsWith(`event: error\ndata: {"error":{"code":"unauthorized","message":"${TOKEN_EXPIRED_REASON}"}}`)).toBe(true);
    expect(Date.now()).toBeGreaterThanOrEqual(expiryOf(token));
  });
});

describe.concurrent("the room's alarm", () => {
  it("serves retention and expiries together: an expiry's alarm trims, and the next expiry is still asked for", async () => {
    const room = "expire-retention";
    const stub = stubOf(room);
    const soon = await tokenFor(room, "write", SHORT_TOKEN_MS);
    const later = await tokenFor(room, "write", 60_000);
    const [first, second] = [await open(room, soon), await open(room, later)];
    // Eight events: retention (five kept) asks for its alarm 30 s out; the first exp is earlier.
    send(second, { t: "append", mid: "m1", events: Array.from({ length: 8 }, () => ({ type: "note" })) });
    expect(await answer(second, "m1")).toMatchObject({ t: "ok" });
    await evictDurableObject(stub);
    await pastExpiry(soon);
    await runDurableObjectAlarm(stub);
    expect(await first.closed()).toBe(CLOSE_TOKEN_EXPIRED);
    const page = (await call(roomUrl(room, "/events", PARTY), { headers: { Authorization: `Bearer ${later}` } })).json();
    expect(page.events.map((event: { seq: number }) => event.seq)).toEqual([4, 5, 6, 7, 8]);
    const alarm = await runInDurableObject(stub, (_room: Room, state) => state.storage.getAlarm());
    expect(alarm).toBe(expiryOf(later));
    expect(second.closedWith).toBeUndefined();
  });
});
