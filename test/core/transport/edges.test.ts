// The room's edges in the core: socket identity owned by the room (never the client's `_pk`), a
// room and a gate that fail closed, origins, tokens, room names, start-up retried, and malformed
// variables answered as the server's fault.
import { describe, expect, it, vi } from "vitest";
import { createStarter } from "../../../party/adapters/starter.ts";
import { authorize, ROLE_HEADER, signToken } from "../../../party/core/room/auth.ts";
import { resolveConfig } from "../../../party/core/room/config.ts";
import { CONFIG_ERROR_MESSAGE, isRoomError } from "../../../party/core/common/errors.ts";
import { gate } from "../../../party/gate.ts";
import { canonicalRoomName, MAX_ROOM_NAME_CHARS, parseRoomPath, roomSegment } from "../../../party/protocol.ts";
import { subPath } from "../../../party/core/room/http.ts";
import { ADMITTED, changesFrame, createConnection, createTestRoom, messageFrame, receivedChanges, receivedMessages, settle, type TestRoom } from "../support/harness.ts";

/** A socket opened with `headers` (what the gate passed on), listed by the runtime as the room hears of it. */
const open = (room: TestRoom, id: string, headers: Record<string, string>) => {
  const connection = createConnection(id);
  room.connections.push(connection);
  room.room.handleConnect(connection, new Request("http://room.test/parties/main/test-room", { headers }));
  return connection;
};

const codeOf = async (run: () => Promise<unknown>) => {
  try {
    return await run();
  } catch (error) {
    return isRoomError(error) ? `${error.code}: ${error.message}` : error;
  }
};

describe("socket identity", () => {
  it("keeps a writer's broadcasts and subscriptions when a reader opens and closes with the writer's id", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{}, { n: 0 }]);
    const writer = room.connect("alice");
    await room.room.handleMessage(writer, messageFrame({ t: "sub", sid: "s", credit: 100 }));
    const reader = open(room, "alice", { [ROLE_HEADER]: "read" });
    const other = room.connect("bob");

    await room.room.handleMessage(other, changesFrame([{}, { n: 1 }, 1]));
    await settle();
    expect(receivedChanges(writer)).toEqual([[{}, { n: 1 }, 1]]);
    expect(receivedChanges(reader)).toEqual([[{}, { n: 1 }, 1]]);

    // The reader cannot write under the writer's id, and its close ends nothing of the writer's.
    await room.room.handleMessage(reader, changesFrame([{}, { n: 2 }, 1]));
    room.room.handleClose(reader);
    await room.room.handleMessage(other, changesFrame([{}, { n: 3 }, 1]));
    await settle();
    expect(receivedChanges(writer)).toEqual([[{}, { n: 1 }, 1], [{}, { n: 3 }, 1]]);
    const events = receivedMessages(writer).filter((message) => message.t === "ev").map((message) => message.e.data[1].n);
    expect(events).toEqual([0, 1, 3]);
    expect(receivedMessages(writer).some((message) => message.t === "end")).toBe(false);
  });

  it("counts every socket toward the connection limit, whatever id it chose", async () => {
    const room = await createTestRoom({ config: { limits: { maxConnections: 2 } } });
    const sockets = [1, 2, 3].map(() => room.connect("same"));
    expect(sockets.map((socket) => socket.closed?.code)).toEqual([undefined, undefined, 1013]);
    // The refused one cannot write either.
    await room.room.handleMessage(sockets[2], messageFrame({ t: "append", mid: "m", events: [{ type: "sneaked" }] }));
    expect((await (await room.request("GET", "/events")).json()).head).toBe(0);
  });
});

describe("failing closed", () => {
  it("refuses a request and a socket that no gate admitted", async () => {
    const room = await createTestRoom();
    const request = (method: string) =>
      room.room.handleRequest(new Request("http://room.test/parties/main/test-room/store", { method, body: method === "PUT" ? "[{},{}]" : undefined }));
    for (const method of ["GET", "PUT"]) {
      const response = await request(method);
      expect([response.status, (await response.json() as any).error.code]).toEqual([403, "forbidden"]);
    }
    const socket = open(room, "s", {});
    expect(socket.closed?.code).toBe(1008);
    await room.room.handleMessage(socket, changesFrame([{}, { n: 1 }, 1]));
    expect((await (await room.request("GET", "/events")).json()).head).toBe(0);
  });

  it("refuses requests and sockets from an origin the room does not allow", async () => {
    const room = await createTestRoom({ config: { allowedOrigins: ["https://app.example"] } });
    const foreign = { ...ADMITTED, Origin: "https://evil.example" };
    expect((await room.request("PUT", "/store", [{}, {}], foreign)).status).toBe(403);
    expect((await room.request("PUT", "/store", [{}, {}], { Origin: "https://app.example" })).status).toBe(201);
    expect(open(room, "s", foreign).closed?.code).toBe(1008);
    expect(open(room, "t", { ...ADMITTED, Origin: "https://app.example" }).closed).toBeUndefined();
  });

  it("closes a socket that sends a roomstore message that is not JSON with 1007", async () => {
    const room = await createTestRoom();
    const socket = room.connect("s");
    await room.room.handleMessage(socket, "x{not json");
    expect(socket.closed?.code).toBe(1007);
  });
});

describe("the gate", () => {
  const env = { AUTH_SECRET: "hmac-key" };
  const now = Date.now() / 1000;
  const url = "http://x/parties/main/r1/events";
  const bearer = (token: string, scheme = "Bearer") => new Request(url, { headers: { Authorization: `${scheme} ${token}` } });

  it.each([
    ["no exp", { room: "r1", role: "write" }, "unauthorized: This token has no expiry"],
    ["a string exp", { room: "r1", role: "write", exp: "tomorrow" }, "unauthorized: This token has no expiry"],
    ["an exp in the past", { room: "r1", role: "write", exp: 1 }, "unauthorized: This token expired"],
  ])("refuses a signed token with %s", async (_name, claims, expected) => {
    // Signed by hand: signToken itself refuses claims without a numeric exp.
    const token = await forge("hmac-key", claims);
    expect(String(await codeOf(() => authorize({ secret: "hmac-key" }, bearer(token), "r1", now)))).toContain(expected);
  });

  it("takes the Bearer scheme in any case, and a token in the query off the request it admits", async () => {
    const token = await signToken("hmac-key", { room: "r1", role: "read", exp: now + 60 });
    expect(await authorize({ secret: "hmac-key" }, bearer(token, "bEaReR"), "r1", now)).toBe("read");
    const admitted = (await gate(new Request(`${url}?token=${token}&stream=s`), env, "r1")) as Request;
    expect([new URL(admitted.url).search, admitted.headers.get(ROLE_HEADER)]).toEqual(["?stream=s", "read"]);
  });

  it("refuses a foreign origin, an unacceptable room name and a body declared too large, as JSON", async () => {
    const cases: [Request, Record<string, unknown>, string, number][] = [
      [new Request(url, { headers: { Origin: "https://evil.example" } }), { ALLOWED_ORIGINS: "https://app.example" }, "r1", 403],
      [new Request(url, { method: "OPTIONS", headers: { Origin: "https://evil.example" } }), { ALLOWED_ORIGINS: "https://app.example" }, "r1", 403],
      [new Request(url), {}, "a%ZZ", 400],
      [new Request(url, { method: "POST", body: "x".repeat(2_000), headers: { "Content-Length": "2000" } }), { MAX_BODY_BYTES: "1024" }, "r1", 413],
    ];
    for (const [request, variables, segment, status] of cases) {
      const answer = (await gate(request, variables, segment)) as Response;
      expect([answer.status, answer.headers.get("Content-Type")]).toEqual([status, "application/json; charset=utf-8"]);
    }
  });

  it("passes a request on at the canonical room URL", async () => {
    const admitted = (await gate(new Request("http://x/parties/main/caf%c3%a9/store"), {}, "caf%c3%a9")) as Request;
    expect([admitted.url, admitted.headers.get(ROLE_HEADER)]).toEqual(["http://x/parties/main/caf%C3%A9/store", "write"]);
  });
});

describe("room names", () => {
  it.each([
    ["caf%C3%A9", "café"],
    ["caf%c3%a9", "café"],
    ["cafe%CC%81", "café"],
    ["%41b", "Ab"],
    ["my%20room", "my room"],
    ["a%2Fb", "a/b"],
    ["..%2Fx", "../x"],
    ["...", "..."],
    ["x".repeat(MAX_ROOM_NAME_CHARS), "x".repeat(MAX_ROOM_NAME_CHARS)],
  ])("reads %s as %s", (segment, name) => expect(canonicalRoomName(segment)).toBe(name));

  it.each([["a%ZZ"], ["%C3"], [""], ["a%00b"], ["a%0Ab"], ["%C2%85"], ["x".repeat(MAX_ROOM_NAME_CHARS + 1)], ["."], [".."], ["%2E"], ["%2e%2E"]])(
    "refuses %j",
    (segment) => expect(canonicalRoomName(segment)).toBeUndefined(),
  );

  it.each(["a/b", "../x", "%2F", "a?b#c", "my room", "café", "日本語/ü", "100%", "a+b&c=d"])("encodes %j as one segment that reads back as it", (name) => {
    const segment = roomSegment(name);
    expect(segment).not.toMatch(/[/?# ]/);
    expect(new URL(`http://x/parties/main/${segment}/store`).pathname.split("/")).toHaveLength(5);
    expect(canonicalRoomName(segment)).toBe(name);
  });

  it.each(["", ".", "..", "a\u0000b", "x".repeat(MAX_ROOM_NAME_CHARS + 1)])("refuses to encode %j, which no room can have", (name) =>
    expect(() => roomSegment(name)).toThrow(RangeError));

  it.each([
    ["/parties/main/a%2Fb", { prefix: "/parties/main/", party: "main", segment: "a%2Fb", rest: "" }, "/"],
    ["/parties/live/r/events/history", { prefix: "/parties/live/", party: "live", segment: "r", rest: "/events/history" }, "/events/history"],
    ["/parties/main/r/", { prefix: "/parties/main/", party: "main", segment: "r", rest: "/" }, "/"],
    ["/party/r/sync", { prefix: "/party/", party: undefined, segment: "r", rest: "/sync" }, "/sync"],
    ["/parties/main//store", { prefix: "/parties/main/", party: "main", segment: "", rest: "/store" }, "/parties/main//store"],
    ["/parties/main", undefined, "/parties/main"],
    ["/store", undefined, "/store"],
  ])("reads the room path %s, and the room's own path in it", (pathname, path, sub) => {
    expect(parseRoomPath(pathname)).toEqual(path);
    if (path) expect(path.prefix + path.segment + path.rest).toBe(pathname);
    expect(subPath(pathname)).toBe(sub);
  });
});

describe("start-up", () => {
  it("is tried again after a failure, and answers unavailable meanwhile", async () => {
    let attempts = 0;
    const starter = createStarter(async () => {
      if (++attempts === 1) throw new Error("storage is down");
      return "room";
    }, () => undefined);
    expect(await codeOf(() => starter.ready())).toBe("unavailable: The room could not start; try again.");
    expect(starter.current).toBeUndefined();
    expect(await starter.ready()).toBe("room");
    expect([starter.current, attempts]).toEqual(["room", 2]);
  });

  it.each([
    ["WEBHOOK_URL", "not-a-url"],
    ["VALIDATE_TIMEOUT_MS", "soon"],
    ["MAX_FRAME_BYTES", "-1"],
    ["RESPONSE_HEADERS", "{not json"],
  ])("answers a malformed %s with 503 unavailable, logged by name, its value never shown", async (name, value) => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const answer = (await gate(new Request("http://x/parties/main/r1/store"), { [name]: value }, "r1")) as Response;
      const body = await answer.text();
      expect([answer.status, JSON.parse(body)]).toEqual([503, { error: { code: "unavailable", message: CONFIG_ERROR_MESSAGE } }]);
      expect(body).not.toContain(value);
      expect(String(logged.mock.calls.flat().find((thing) => thing instanceof Error))).toContain(name);
    } finally {
      logged.mockRestore();
    }
  });

  it("says the configuration is at fault when a room cannot start because of it", async () => {
    const starter = createStarter(async () => resolveConfig({ WEBHOOK_URL: "not-a-url" }), () => undefined);
    expect(await codeOf(() => starter.ready())).toBe(`unavailable: ${CONFIG_ERROR_MESSAGE}`);
  });
});

/** A token with any claims, signed as signToken signs: for claims signToken refuses to issue. */
const forge = async (secret: string, claims: unknown): Promise<string> => {
  const base64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const encoder = new TextEncoder();
  const payload = base64url(encoder.encode(JSON.stringify(claims)));
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return `${payload}.${base64url(new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(payload))))}`;
};
