import { describe, expect, it, vi } from "vitest";
import type { RoomHooks } from "../../party/core/index.ts";
import { changesFrame, createTestRoom, receivedChanges, receivedErrors, settle } from "./support/harness.ts";

const content = [{ pets: { fido: { species: "dog", legs: 4 }, felix: { species: "cat" } } }, { open: true }];

const events = async (room: Awaited<ReturnType<typeof createTestRoom>>, query = "") =>
  (await (await room.request("GET", `/events${query}`)).json()) as { events: any[]; next: number | null; head: number };

describe("the store over HTTP", () => {
  it("answers a new room with 200 and an empty body, then creates the store once", async () => {
    const room = await createTestRoom();
    const empty = await room.request("GET", "/store");
    expect([empty.status, await empty.text()]).toEqual([200, ""]);
    expect((await room.request("PUT", "/store", content)).status).toBe(201);
    expect((await room.request("PUT", "/store", [{ other: { r: { c: 1 } } }, {}])).status).toBe(205);
    const stored = await room.request("GET", "/store");
    expect(await stored.json()).toEqual(content);
    expect(stored.headers.get("ETag")).toBe('"1"');
  });

  it("answers 304 to If-None-Match with the current seq", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", content);
    expect((await room.request("GET", "/store", undefined, { "If-None-Match": '"1"' })).status).toBe(304);
    expect((await room.request("GET", "/store", undefined, { "If-None-Match": '"0"' })).status).toBe(200);
  });

  it("replaces the store atomically with If-Match, and refuses a stale seq with 412", async () => {
    const room = await createTestRoom();
    const watcher = room.connect("watcher");
    await room.request("PUT", "/store", content);
    const replaced = await room.request("PUT", "/store", [{ pets: { rex: { species: "dog" } } }, {}], { "If-Match": '"1"' });
    expect([replaced.status, replaced.headers.get("ETag")]).toEqual([200, '"2"']);
    expect(await (await room.request("GET", "/store")).json()).toEqual([{ pets: { rex: { species: "dog" } } }, {}]);
    const stale = await room.request("PUT", "/store", [{}, {}], { "If-Match": '"1"' });
    expect(stale.status).toBe(412);
    expect((await stale.json()).error.code).toBe("precondition_failed");
    // Connected clients get the difference, so they converge on the replacement.
    expect(receivedChanges(watcher).at(-1)).toEqual([
      { pets: { fido: { species: "\uFFFC", legs: "\uFFFC" }, felix: { species: "\uFFFC" }, rex: { species: "dog" } } },
      { open: "\uFFFC" },
      1,
    ]);
    const log = await events(room);
    expect(log.events.map((event) => event.type)).toEqual(["$init", "$replace"]);
  });

  it.each([
    ["invalid JSON", "{", 400, "invalid_json"],
    ["a wrong shape", '{"a":1}', 400, "invalid_content"],
    ["a deletion marker", '[{"t":{"r":{"c":"\\uFFFC"}}},{}]', 400, "invalid_content"],
  ])("refuses %s with a JSON error and changes nothing", async (_name, body, status, code) => {
    const room = await createTestRoom();
    const response = await room.request("PUT", "/store", body);
    expect(response.status).toBe(status);
    expect((await response.json()).error.code).toBe(code);
    expect(await (await room.request("GET", "/store")).text()).toBe("");
    expect((await events(room)).head).toBe(0);
  });

  it("refuses a body over the size limit with 413", async () => {
    const room = await createTestRoom({ config: { limits: { maxBodyBytes: 100 } } });
    const response = await room.request("PUT", "/store", [{ t: { r: { c: "x".repeat(200) } } }, {}]);
    expect(response.status).toBe(413);
    expect(await (await room.request("GET", "/store")).text()).toBe("");
  });

  it("answers a CORS preflight as a preflight, not with the store", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", content);
    const response = await room.request("OPTIONS", "/store", undefined, {
      Origin: "https://app.example",
      "Access-Control-Request-Method": "PUT",
      "Access-Control-Request-Headers": "content-type",
    });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(response.headers.get("Access-Control-Allow-Headers")).toBe("content-type");
  });

  it("allows only configured origins when a list is set", async () => {
    const room = await createTestRoom({ config: { allowedOrigins: ["https://good.example"] } });
    const good = await room.request("GET", "/store", undefined, { Origin: "https://good.example" });
    const bad = await room.request("GET", "/store", undefined, { Origin: "https://bad.example" });
    expect(good.headers.get("Access-Control-Allow-Origin")).toBe("https://good.example");
    expect(bad.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("serves the store and events under configured paths", async () => {
    const room = await createTestRoom({ config: { storePath: "/data", eventsPath: "/log" } });
    expect((await room.request("PUT", "/data", content)).status).toBe(201);
    expect((await room.request("GET", "/store")).status).toBe(404);
    expect((await (await room.request("GET", "/log")).json()).head).toBe(1);
  });

  it("answers unknown methods with 405", async () => {
    const room = await createTestRoom();
    const response = await room.request("DELETE", "/store");
    expect(response.status).toBe(405);
    expect((await response.json()).error.code).toBe("method_not_allowed");
  });

  it.each([
    ["PUT", "/store", [{ t: { r: { c: 1 } } }, {}]],
    ["PATCH", "/store", [{ t: { r: { c: 1 } } }, {}]],
    ["POST", "/events", { type: "a" }],
  ])("refuses a malformed If-Match on %s %s with bad_request and writes nothing", async (method, path, body) => {
    const room = await createTestRoom();
    const response = await room.request(method, path, body, { "If-Match": "two" });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toEqual({ code: "bad_request", message: 'If-Match must be a seq as the ETag gives it, e.g. "12".' });
    expect(room.room.core.log.head).toBe(0);
  });

  it.each([
    ["a 405", "/events/history", {}],
    ["a 404", "/nowhere", {}],
    ["a bad If-Match", "/events", { "If-Match": "two" }],
  ])("reads the body of a request it refuses unread (%s), so that the connection stays usable", async (_case, path, headers) => {
    const room = await createTestRoom();
    const request = new Request(`http://room.test/parties/main/test-room${path}`, { method: "POST", body: '{"type":"a"}', headers });
    expect((await room.room.handleRequest(request)).status).toBeGreaterThanOrEqual(400);
    expect(request.bodyUsed).toBe(true);
  });
});

describe("changesets over WebSocket", () => {
  it("applies, logs and broadcasts a changeset to every other connection", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", content);
    const [alice, bob, carol] = ["alice", "bob", "carol"].map((id) => room.connect(id));
    const changes = [{ pets: { fido: { legs: "\uFFFC" }, rex: { species: "dog" } } }, { open: null }, 1];
    await room.room.handleMessage(alice, changesFrame(changes));
    expect(receivedChanges(alice)).toEqual([]);
    expect(receivedChanges(bob)).toEqual([changes]);
    expect(receivedChanges(carol)).toEqual([changes]);
    expect(await (await room.request("GET", "/store")).json()).toEqual([
      { pets: { fido: { species: "dog" }, felix: { species: "cat" }, rex: { species: "dog" } } },
      { open: null },
    ]);
    const log = await events(room);
    expect(log.events[1]).toMatchObject({ seq: 2, stream: "$store", type: "$changes", room: "test-room" });
    expect(log.events[1].data).toEqual([{ pets: { fido: { legs: null }, rex: { species: "dog" } } }, { open: "\uFFFDnull" }, 1]);
  });

  it("drops rows and tables left empty, as TinyBase does", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", content);
    await room.room.handleMessage(room.connect("a"), changesFrame([{ pets: { felix: { species: "\uFFFC" }, fido: "\uFFFC" } }, {}, 1]));
    expect(await (await room.request("GET", "/store")).json()).toEqual([{}, { open: true }]);
  });

  it("ignores changesets before a store exists and says why", async () => {
    const room = await createTestRoom();
    const alice = room.connect("alice");
    await room.room.handleMessage(alice, changesFrame([{ t: { r: { c: 1 } } }, {}, 1]));
    expect(receivedErrors(alice)[0].error.code).toBe("conflict");
    expect(await (await room.request("GET", "/store")).text()).toBe("");
  });

  it.each([
    ["bad JSON", "s{", 1007],
    ["a wrong shape", 's[{"t":5},{},1]', 1007],
    ["a frame over the limit", "s" + JSON.stringify([{ t: { r: { c: "x".repeat(5000) } } }, {}, 1]), 1009],
  ])("closes the socket on %s and changes nothing", async (_name, frame, code) => {
    const room = await createTestRoom({ config: { limits: { maxFrameBytes: 4096 } } });
    await room.request("PUT", "/store", content);
    const alice = room.connect("alice");
    await room.room.handleMessage(alice, frame);
    expect(alice.closed?.code).toBe(code);
    expect(await (await room.request("GET", "/store")).json()).toEqual(content);
    expect((await events(room)).head).toBe(1);
  });

  it("answers an unknown frame type with an error frame and keeps the socket", async () => {
    const room = await createTestRoom();
    const alice = room.connect("alice");
    await room.room.handleMessage(alice, "q[]");
    expect(alice.closed).toBeUndefined();
    expect(receivedErrors(alice)[0]).toMatchObject({ t: "error", error: { code: "bad_request" } });
  });

  it("honours the message prefix", async () => {
    const room = await createTestRoom({ config: { messagePrefix: "tb:" } });
    await room.request("PUT", "/store", content);
    const [alice, bob] = [room.connect("alice"), room.connect("bob")];
    await room.room.handleMessage(alice, "tb:" + changesFrame([{}, { open: false }, 1]));
    expect(bob.sent).toEqual(["tb:" + changesFrame([{}, { open: false }, 1])]);
  });
});

describe("permission hooks", () => {
  const hooks: RoomHooks = {
    canSetCell: (_t, _r, cellId, cell) => cellId !== "legs" || (typeof cell === "number" && cell >= 0),
    canDelRow: async (_t, rowId) => rowId !== "fido",
    canSetValue: (valueId) => valueId !== "locked",
  };

  it("applies only what the hooks allow and sends the sender the authoritative values", async () => {
    const room = await createTestRoom({ hooks });
    await room.request("PUT", "/store", content);
    const [alice, bob] = [room.connect("alice"), room.connect("bob")];
    await room.room.handleMessage(alice, changesFrame([{ pets: { fido: "\uFFFC", felix: { legs: -1, name: "Felix" } } }, { locked: 1 }, 1]));
    expect(receivedChanges(bob)).toEqual([[{ pets: { felix: { name: "Felix" } } }, {}, 1]]);
    expect(receivedChanges(alice)).toEqual([
      [{ pets: { fido: { species: "dog", legs: 4 }, felix: { legs: "\uFFFC", name: "Felix" } } }, { locked: "\uFFFC" }, 1],
    ]);
  });

  it("lets the whole-changeset hook rewrite a changeset", async () => {
    const room = await createTestRoom({
      hooks: { canApplyChanges: ([tables, values]) => [tables, { ...values, stamped: true }, 1] },
    });
    await room.request("PUT", "/store", content);
    await room.room.handleMessage(room.connect("a"), changesFrame([{}, { open: false }, 1]));
    expect((await (await room.request("GET", "/store")).json())[1]).toEqual({ open: false, stamped: true });
  });

  it("lets the whole-changeset hook reject everything", async () => {
    const room = await createTestRoom({ hooks: { canApplyChanges: (_changes, initialSave) => initialSave } });
    await room.request("PUT", "/store", [{}, {}]);
    const alice = room.connect("alice");
    await room.room.handleMessage(alice, changesFrame([{}, { open: false }, 1]));
    expect(receivedChanges(alice)).toEqual([[{}, { open: "\uFFFC" }, 1]]);
    expect((await events(room)).head).toBe(1);
  });

  it("passes TinyBase's arguments, with initialSave true on the first PUT", async () => {
    const calls: unknown[][] = [];
    const room = await createTestRoom({
      hooks: { canSetCell: (...args) => (calls.push(args.slice(0, 5).concat([args[6]])), true) },
    });
    await room.request("PUT", "/store", [{ t: { r: { c: 1 } } }, {}]);
    await room.room.handleMessage(room.connect("a"), changesFrame([{ t: { r: { c: 2 } } }, {}, 1]));
    expect(calls).toEqual([
      ["t", "r", "c", 1, true, undefined],
      ["t", "r", "c", 2, false, 1],
    ]);
  });

  it("refuses a first PUT the hooks reject entirely with 403", async () => {
    const room = await createTestRoom({ hooks: { canSetTable: () => false } });
    const response = await room.request("PUT", "/store", [content[0], {}]);
    expect(response.status).toBe(403);
    expect(await (await room.request("GET", "/store")).text()).toBe("");
  });
});

describe("durability", () => {
  it("answers GET {storePath} with what is stored, never a write still being stored that then fails", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", content);
    const before = await room.request("GET", "/store");
    // A changeset whose storage write fails 20 ms after it starts; the GET comes while it is pending.
    vi.spyOn(room.storage, "write").mockImplementationOnce(() => new Promise((_, reject) => setTimeout(() => reject(new Error("disk full")), 20)));
    const written = room.room.handleMessage(room.connect("a"), changesFrame([{ pets: { rex: { species: "dog" } } }, {}, 1]));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const during = await room.request("GET", "/store");
    await written;
    expect(during.headers.get("ETag")).toBe(before.headers.get("ETag"));
    expect(await during.json()).toEqual(content);
  });

  it("keeps store and seq across a restart on the same storage", async () => {
    const first = await createTestRoom();
    await first.request("PUT", "/store", content);
    await first.room.handleMessage(first.connect("a"), changesFrame([{ pets: { rex: { species: "dog" } } }, {}, 1]));
    const second = await first.restart();
    expect(await (await second.request("GET", "/store")).json()).toEqual([
      { pets: { fido: { species: "dog", legs: 4 }, felix: { species: "cat" }, rex: { species: "dog" } } },
      { open: true },
    ]);
    await second.room.handleMessage(second.connect("b"), changesFrame([{}, { open: false }, 1]));
    expect((await events(second)).events.map((event) => event.seq)).toEqual([1, 2, 3]);
  });

  it("commits the store update and its event together, or neither", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", content);
    const write = room.storage.write;
    room.storage.write = async () => {
      throw new Error("disk full");
    };
    const bob = room.connect("bob");
    await room.room.handleMessage(room.connect("alice"), changesFrame([{}, { open: false }, 1]));
    room.storage.write = write;
    expect(receivedChanges(bob)).toEqual([]);
    expect(await (await room.request("GET", "/store")).json()).toEqual(content);
    expect((await events(room)).head).toBe(1);
    await room.room.handleMessage(room.connect("carol"), changesFrame([{}, { open: 0 }, 1]));
    expect((await events(room)).events.map((event) => event.seq)).toEqual([1, 2]);
  });

  it("commits changesets that arrive together in one storage write, in order", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{}, { n: 0 }]);
    let writes = 0;
    const write = room.storage.write;
    room.storage.write = (puts, deletes) => (writes++, write(puts, deletes));
    const alice = room.connect("alice");
    await Promise.all(Array.from({ length: 20 }, (_, i) => room.room.handleMessage(alice, changesFrame([{}, { n: i + 1 }, 1]))));
    await settle();
    expect(writes).toBeLessThan(20);
    expect((await (await room.request("GET", "/store")).json())[1]).toEqual({ n: 20 });
    expect((await events(room, "?limit=1000")).events.map((event) => event.data[1].n)).toEqual([
      0,
      ...Array.from({ length: 20 }, (_, i) => i + 1),
    ]);
  });
});
