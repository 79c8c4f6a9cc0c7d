// TinyBase changeset frames over real WebSockets inside workerd: applied, persisted, logged and
// broadcast to every other socket; malformed frames change nothing and end only their own socket.
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_CELL_CHARS, MAX_FRAME_BYTES } from "../../party/protocol.ts";
import { foldStoreEvents } from "../support/fold.ts";
import { waitFor } from "../support/wait.ts";
import {
  at,
  barrier,
  changesFrame,
  changesIn,
  createClientModel,
  getStore,
  logOf,
  messageIn,
  openSocket,
  putStore,
  storeOf,
  withoutBarrier,
  withoutBarriers,
} from "./helpers.ts";

const DEL = "\uFFFC";

describe("a changeset frame", () => {
  it("is applied, persisted, logged as $changes and broadcast to the other sockets but not the sender", async () => {
    const room = at("frame-apply");
    await putStore(room, [{ pets: { fido: { legs: 4, name: "Fido" }, rex: { legs: 3 } } }, { open: true, count: 1 }]);
    const [alice, bob, carol] = [await openSocket(room), await openSocket(room), await openSocket(room)];
    const sent = [{ pets: { fido: { legs: DEL, name: "Fido II" }, rex: DEL, tom: { legs: 4, tags: '\uFFFD["a","b"]' } } }, { open: DEL, count: 2 }, 1];
    alice.send(changesFrame(sent));

    expect(changesIn(await bob.frame())).toEqual(sent);
    expect(changesIn(await carol.frame())).toEqual(sent);
    const expected = [{ pets: { fido: { name: "Fido II" }, tom: { legs: 4, tags: '\uFFFD["a","b"]' } } }, { count: 2 }];
    expect(await storeOf(room)).toEqual(expected);
    expect((await getStore(room)).headers.get("ETag")).toBe('"2"');

    const [, changed] = (await logOf(room)).events;
    expect(changed).toMatchObject({ seq: 2, stream: "$store", type: "$changes", room: "frame-apply" });
    expect(changed.data).toEqual([{ pets: { fido: { legs: null, name: "Fido II" }, rex: null, tom: { legs: 4, tags: '\uFFFD["a","b"]' } } }, { open: null, count: 2 }, 1]);

    const [aliceAt, bobAt] = await barrier(carol, [alice, bob]);
    expect(alice.frames.slice(0, aliceAt)).toEqual([]);
    expect(bob.frames.slice(0, bobAt)).toHaveLength(1);

    await evictDurableObject(env.Main.getByName("frame-apply"), { webSockets: "close" });
    expect(withoutBarrier(await storeOf(room))).toEqual(expected);
  });

  it("keeps a real null apart from a deletion, in the store, the log and the broadcast", async () => {
    const room = at("frame-null");
    await putStore(room, [{ t: { r: { a: 1, b: 2 } } }, { v: 1, w: 2 }]);
    const [alice, bob] = [await openSocket(room), await openSocket(room)];
    alice.send(changesFrame([{ t: { r: { a: null, b: DEL } } }, { v: "\uFFFDnull", w: DEL }, 1]));
    const received = changesIn(await bob.frame());
    expect(received[0].t.r).toEqual({ a: null, b: DEL });
    expect(received[1].w).toBe(DEL);
    expect([null, "\uFFFDnull"]).toContain(received[1].v);
    expect(await storeOf(room)).toEqual([{ t: { r: { a: null } } }, { v: null }]);
    const logged = (await logOf(room)).events[1].data;
    expect(logged).toEqual([{ t: { r: { a: "\uFFFDnull", b: null } } }, { v: "\uFFFDnull", w: null }, 1]);
  });

  it("from several sockets: one $changes event each, seqs strictly increasing, every socket converges", async () => {
    const room = at("frame-many");
    await putStore(room, [{}, { start: 0 }]);
    const [alice, bob, carol] = [await openSocket(room), await openSocket(room), await openSocket(room)];
    const watcher = createClientModel(carol, [{}, { start: 0 }]);
    for (let i = 1; i <= 10; i++) {
      alice.send(changesFrame([{ a: { [`r${i % 3}`]: { n: i } } }, { alice: i }, 1]));
      bob.send(changesFrame([{ b: { [`r${i % 4}`]: { n: i } } }, { bob: i }, 1]));
    }
    await waitFor(() => watcher.content()[1], (values) => values.alice === 10 && values.bob === 10, { timeoutMs: 4_000, what: "carol to see both writers' last change" });
    const store = await storeOf(room);
    expect(store[1]).toEqual({ start: 0, alice: 10, bob: 10 });
    expect(watcher.content()).toEqual(store);
    const events = (await logOf(room)).events;
    expect(events.map((event) => event.type)).toEqual(["$init", ...Array(20).fill("$changes")]);
    expect(events.map((event) => event.seq)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect(foldStoreEvents(events)).toEqual(store);
  });

  it("with a message id is acknowledged with its seq, and a resend is acknowledged without applying it again", async () => {
    const room = at("frame-acked");
    await putStore(room, [{}, {}]);
    const writer = await openSocket(room);
    const message = JSON.stringify({ t: "changes", mid: "m-1", changes: [{ t: { r: { c: 1 } } }, {}, 1] });
    writer.send("x" + message);
    expect(messageIn(await writer.frame((frame) => messageIn(frame)?.t === "ok"))).toEqual({ t: "ok", mid: "m-1", seq: 2 });
    writer.send("x" + message);
    await waitFor(() => writer.frames.filter((frame) => messageIn(frame)?.t === "ok").length, (count) => count === 2, { timeoutMs: 4_000 });
    expect(writer.frames.map(messageIn).filter((message) => message?.t === "ok")[1]).toEqual({ t: "ok", mid: "m-1", seq: 2 });
    expect((await logOf(room)).events.map((event) => [event.seq, event.id])).toEqual([[1, expect.any(String)], [2, "m-1"]]);
  });
});

describe("malformed frames", () => {
  it("close their socket with 1007 (bad data) or 1009 (too big), change nothing and reach no one", async () => {
    const room = at("frame-malformed");
    const content = [{ t: { r: { c: 1 } } }, { v: 1 }];
    await putStore(room, content);
    const [observer, writer] = [await openSocket(room), await openSocket(room)];
    const cases: [string, string | Uint8Array, number][] = [
      ["bad JSON", "s{not json", 1007],
      ["truncated JSON", changesFrame([{ t: { r: { c: 2 } } }, {}, 1]).slice(0, -2), 1007],
      ["not Changes", "s[1,2]", 1007],
      ["no trailing 1", 's[{"t":{"r":{"c":2}}},{}]', 1007],
      ["a table that is not an object", 's[{"t":7},{},1]', 1007],
      ["a binary frame", new Uint8Array([115, 91, 93]), 1007],
      ["a frame over the default limit", changesFrame([{ t: { r: { c: "x".repeat(MAX_FRAME_BYTES) } } }, {}, 1]), 1009],
    ];
    for (const [what, frame, code] of cases) {
      const socket = await openSocket(room);
      socket.send(frame);
      expect(await socket.closed(), what).toBe(code);
      expect(socket.frames, what).toEqual([]);
    }
    const [observerAt] = await barrier(writer, [observer]);
    expect(observer.frames.slice(0, observerAt)).toEqual([]);
    expect(withoutBarrier(await storeOf(room))).toEqual(content);
    expect((await logOf(room)).events.map((event) => event.type)).toEqual(["$init", "$changes"]);
  });

  it("over a room's configured frame limit close with 1009", async () => {
    const room = at("frame-limited", "limited");
    await putStore(room, [{}, { v: 1 }]);
    const socket = await openSocket(room);
    socket.send(changesFrame([{}, { v: "y".repeat(2_000) }, 1]));
    expect(await socket.closed()).toBe(1009);
    expect(await storeOf(room)).toEqual([{}, { v: 1 }]);
    expect((await logOf(room)).head).toBe(1);
  });

  it("beyond a room's connection limit is closed with 1013, and the others keep working", async () => {
    const room = at("frame-full", "limited");
    await putStore(room, [{}, {}]);
    const [alice, bob] = [await openSocket(room), await openSocket(room)];
    const extra = await openSocket(room);
    expect(await extra.closed()).toBe(1013);
    alice.send(changesFrame([{}, { v: 1 }, 1]));
    expect(changesIn(await bob.frame())).toEqual([{}, { v: 1 }, 1]);
    expect(extra.frames).toEqual([]);
  });

  it("of an unknown type get an error frame, and the socket stays open and usable", async () => {
    const room = at("frame-unknown");
    await putStore(room, [{}, { v: 1 }]);
    const [observer, writer] = [await openSocket(room), await openSocket(room)];
    for (const frame of ["zz", "y{}", "", "S[{},{},1]"]) writer.send(frame);
    await waitFor(() => writer.frames.length, (count) => count >= 4, { timeoutMs: 4_000, what: "four error frames" });
    for (const frame of writer.frames) {
      expect(frame.startsWith('x{"t":"error"')).toBe(true);
      expect(messageIn(frame)).toEqual({ t: "error", error: { code: "bad_request", message: expect.any(String) } });
    }
    writer.send(changesFrame([{}, { v: 2 }, 1]));
    expect(changesIn(await observer.frame())).toEqual([{}, { v: 2 }, 1]);
    expect(writer.closedWith).toBeUndefined();
    expect(await storeOf(room)).toEqual([{}, { v: 2 }]);
    expect((await logOf(room)).head).toBe(2);
  });

  it("with a cell larger than one storage value get an error frame and the room's values back, and the socket stays open", async () => {
    const room = at("frame-big-cell");
    await putStore(room, [{ t: { r: { c: "small" } } }, {}]);
    const [observer, writer] = [await openSocket(room), await openSocket(room)];
    writer.send(changesFrame([{ t: { r: { c: "z".repeat(MAX_CELL_CHARS + 1) } } }, {}, 1]));
    expect(messageIn(await writer.frame((frame) => frame.startsWith("x")))).toMatchObject({ t: "error", error: { code: "too_large" } });
    expect(changesIn(await writer.frame((frame) => frame.startsWith("s")))).toEqual([{ t: { r: { c: "small" } } }, {}, 1]);
    const [observerAt] = await barrier(writer, [observer]);
    expect(observer.frames.slice(0, observerAt)).toEqual([]);
    expect(writer.closedWith).toBeUndefined();
    expect(withoutBarrier(await storeOf(room))).toEqual([{ t: { r: { c: "small" } } }, {}]);
  });

  it("before the room has a store get an error frame, and create no store", async () => {
    const room = at("frame-no-store");
    const socket = await openSocket(room);
    socket.send(changesFrame([{ t: { r: { c: 1 } } }, {}, 1]));
    expect(messageIn(await socket.frame())).toMatchObject({ t: "error", error: { code: "conflict" } });
    expect(socket.closedWith).toBeUndefined();
    expect((await getStore(room)).text).toBe("");
    expect((await logOf(room)).head).toBe(0);
  });

  it("leave the room serving its other sockets", async () => {
    const room = at("frame-survive");
    await putStore(room, [{}, {}]);
    const [alice, bob] = [await openSocket(room), await openSocket(room)];
    const broken = await openSocket(room);
    broken.send("s{");
    expect(await broken.closed()).toBe(1007);
    alice.send(changesFrame([{}, { after: true }, 1]));
    expect(changesIn(await bob.frame())).toEqual([{}, { after: true }, 1]);
    expect(withoutBarriers(alice.frames)).toEqual([]);
  });
});
