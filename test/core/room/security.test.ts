import { describe, expect, it } from "vitest";
import { authorize, ROLE_HEADER, signToken } from "../../../party/core/room/auth.ts";
import { isRoomError } from "../../../party/core/common/errors.ts";
import { gate } from "../../../party/gate.ts";
import { ROLE_RESPONSE_HEADER } from "../../../party/protocol.ts";
import { ADMITTED, createTestRoom, messageFrame, receivedChanges, receivedErrors, receivedMessages } from "../support/harness.ts";

const request = (headers: Record<string, string> = {}, query = "") => new Request(`http://x/parties/main/r1/store${query}`, { headers });
const codeOf = async (run: () => Promise<unknown>) => {
  try {
    return await run();
  } catch (error) {
    return isRoomError(error) ? error.code : error;
  }
};

describe("tokens", () => {
  const config = { writeToken: "w-secret", readToken: "r-secret", secret: "hmac-key" };
  const now = 1_800_000_000;

  it.each([
    ["no auth configured", {}, {}, "", "write"],
    ["the write token as a bearer", config, { Authorization: "Bearer w-secret" }, "", "write"],
    ["the read token as a query parameter", config, {}, "?token=r-secret", "read"],
    ["no token", config, {}, "", "unauthorized"],
    ["a wrong token", config, { Authorization: "Bearer nope" }, "", "forbidden"],
  ])("decides %s", async (_name, auth, headers, query, expected) => {
    expect(await codeOf(() => authorize(auth, request(headers, query), "r1", now))).toBe(expected);
  });

  it("accepts a signed token for its room and role until it expires", async () => {
    const token = await signToken("hmac-key", { room: "r1", role: "read", exp: now + 60 });
    expect(await authorize(config, request({ Authorization: `Bearer ${token}` }), "r1", now)).toBe("read");
    expect(await codeOf(() => authorize(config, request({ Authorization: `Bearer ${token}` }), "r2", now))).toBe("forbidden");
    expect(await codeOf(() => authorize(config, request({ Authorization: `Bearer ${token}` }), "r1", now + 61))).toBe("unauthorized");
    const forged = token.slice(0, -2) + (token.endsWith("A") ? "BB" : "AA");
    expect(await codeOf(() => authorize(config, request({ Authorization: `Bearer ${forged}` }), "r1", now))).toBe("forbidden");
    const any = await signToken("hmac-key", { room: "*", role: "write", exp: now + 60 });
    expect(await authorize(config, request({ Authorization: `Bearer ${any}` }), "r9", now)).toBe("write");
  });

  it("overwrites a role header the client sent, and answers preflights itself", async () => {
    const env = { AUTH_WRITE_TOKEN: "w", AUTH_READ_TOKEN: "r" };
    const passed = await gate(request({ Authorization: "Bearer r", [ROLE_HEADER]: "write" }), env, "r1");
    expect((passed as Request).headers.get(ROLE_HEADER)).toBe("read");
    const refused = (await gate(request(), env, "r1")) as Response;
    expect([refused.status, (await refused.json() as any).error.code]).toEqual([401, "unauthorized"]);
    const preflight = new Request("http://x/parties/main/r1/store", { method: "OPTIONS", headers: { [ROLE_HEADER]: "write" } });
    const answered = (await gate(preflight, env, "r1")) as Response;
    expect([answered instanceof Response, answered.status, answered.headers.get("Access-Control-Allow-Origin")]).toEqual([true, 204, "*"]);
  });
});

describe("read-only access", () => {
  it("lets a reader GET and refuses its PUT and POST with 403", async () => {
    const room = await createTestRoom();
    const read = { [ROLE_HEADER]: "read" };
    expect((await room.request("GET", "/store", undefined, read)).status).toBe(200);
    expect((await room.request("PUT", "/store", [{}, {}], read)).status).toBe(403);
    expect((await room.request("POST", "/events", { type: "a" }, read)).status).toBe(403);
    expect((await (await room.request("GET", "/events")).json()).head).toBe(0);
  });

  it("says in every answer which role the request had, so a client knows before it writes", async () => {
    const room = await createTestRoom();
    for (const role of ["read", "write"]) {
      for (const [method, path] of [["GET", "/stats"], ["GET", "/store"], ["PUT", "/store"]]) {
        const answer = await room.request(method, path, method === "PUT" ? [{}, {}] : undefined, { [ROLE_HEADER]: role });
        expect([method, path, role, answer.headers.get(ROLE_RESPONSE_HEADER)]).toEqual([method, path, role, role]);
      }
    }
    expect((await room.request("GET", "/stats")).headers.get("Access-Control-Expose-Headers")).toContain(ROLE_RESPONSE_HEADER);
  });

  it("refuses a read-only socket's changes and writes, and sends it the room's values", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{}, { n: 1 }]);
    const reader = room.connect("reader");
    room.room.handleConnect(reader, new Request("http://x", { headers: { [ROLE_HEADER]: "read" } }));
    await room.room.handleMessage(reader, "s" + JSON.stringify([{}, { n: 2 }, 1]));
    await room.room.handleMessage(reader, messageFrame({ t: "append", mid: "m", events: [{ type: "a" }] }));
    await room.room.handleMessage(reader, messageFrame({ t: "sub", sid: "s", credit: 10 }));
    expect(receivedErrors(reader)[0].error.code).toBe("forbidden");
    expect(receivedChanges(reader)).toEqual([[{}, { n: 1 }, 1]]);
    expect(receivedMessages(reader).find((m) => m.t === "nack")).toMatchObject({ error: { code: "forbidden" } });
    expect((await (await room.request("GET", "/events")).json()).head).toBe(1);
    expect(reader.closed).toBeUndefined();
  });
});

describe("limits", () => {
  it("closes a socket beyond the room's connection limit with 1013", async () => {
    const room = await createTestRoom({ config: { limits: { maxConnections: 2 } } });
    const sockets = ["a", "b", "c"].map((id) => room.connect(id));
    expect(sockets.map((socket) => socket.closed?.code)).toEqual([undefined, undefined, 1013]);
    expect(room.room.isFull()).toBe(true);
  });

  it("ignores what a socket sends after the room closed it, past the connection limit or after a frame over the size limit", async () => {
    const room = await createTestRoom({ config: { limits: { maxConnections: 1, maxFrameBytes: 200 } } });
    await room.request("PUT", "/store", [{}, {}]);
    const [admitted, refused] = ["a", "b"].map((id) => room.connect(id));
    expect([admitted.closed, refused.closed?.code]).toEqual([undefined, 1013]);
    // Frames the runtime still delivers while the close is on its way to the client.
    await room.room.handleMessage(refused, 's[{"t":{"r":{"c":"refused"}}},{},1]');
    await room.room.handleMessage(refused, messageFrame({ t: "append", mid: "m1", events: [{ type: "sneaked" }] }));
    await room.room.handleMessage(admitted, "s" + JSON.stringify([{ t: { r: { c: "x".repeat(300) } } }, {}, 1]));
    expect(admitted.closed?.code).toBe(1009);
    await room.room.handleMessage(admitted, 's[{"t":{"r":{"c":"after the close"}}},{},1]');
    expect([refused.sent, admitted.sent]).toEqual([[], []]);
    expect(room.room.core.log.head).toBe(1);
    expect(await (await room.request("GET", "/store")).json()).toEqual([{}, {}]);
  });

  it("refuses frames beyond the rate limit and applies the rest", async () => {
    let clock = 0;
    const room = await createTestRoom({ config: { limits: { maxMessagesPerSecond: 10, messageBurst: 5 } }, now: () => clock });
    await room.request("PUT", "/store", [{}, { n: 0 }]);
    const writer = room.connect("w");
    for (let i = 1; i <= 8; i++) await room.room.handleMessage(writer, "s" + JSON.stringify([{}, { n: i }, 1]));
    expect(receivedErrors(writer).map((m) => m.error.code)).toEqual(["rate_limited", "rate_limited", "rate_limited"]);
    expect((await (await room.request("GET", "/store")).json())[1]).toEqual({ n: 5 });
    clock += 1000;
    await room.room.handleMessage(writer, "s" + JSON.stringify([{}, { n: 9 }, 1]));
    expect((await (await room.request("GET", "/store")).json())[1]).toEqual({ n: 9 });
  });

  it("refuses a changeset with more cells than allowed, whole", async () => {
    const room = await createTestRoom({ config: { limits: { maxCellsPerChange: 3 } } });
    await room.request("PUT", "/store", [{}, {}]);
    const writer = room.connect("w");
    await room.room.handleMessage(writer, "s" + JSON.stringify([{ t: { r: { a: 1, b: 2, c: 3 } } }, { v: 1 }, 1]));
    expect(receivedErrors(writer)[0].error.code).toBe("too_large");
    expect(await (await room.request("GET", "/store")).json()).toEqual([{}, {}]);
  });
});
