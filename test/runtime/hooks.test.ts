// Permission hooks inside workerd, on GuardedRoom (worker.ts, /parties/guarded/:room): what they
// refuse is neither applied, logged nor broadcast, the whole-changeset hook rejects and rewrites,
// and a sender whose change was not taken as sent ends with the room's values (it reconverges).
// Convergence is checked with a model of a TinyBase client: what it loaded, what it sent (applied
// locally at once) and every changeset frame it received, in order.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { foldStoreEvents } from "../support/fold.ts";
import { waitFor } from "../support/wait.ts";
import { at, barrier, changesFrame, changesIn, createClientModel, getStore, logOf, messageIn, openSocket, putStore, storeOf, withoutBarrier } from "./helpers.ts";
import type { GuardedRoom, HookCall } from "./worker.ts";

const DEL = "\uFFFC";
const guarded = (room: string) => at(room, "guarded");

/** The hook calls the room recorded since the last look. */
const takeCalls = (room: string): Promise<HookCall[]> =>
  runInDurableObject(env.Guarded.getByName(room), (instance: GuardedRoom) => instance.calls.splice(0));

const readCalls = (room: string) => (): Promise<HookCall[]> =>
  runInDurableObject(env.Guarded.getByName(room), (instance: GuardedRoom) => [...instance.calls]);

/** Two sockets with client models, on a room created with `content`. */
const setUp = async (room: string, content: any) => {
  expect((await putStore(guarded(room), content)).status).toBe(201);
  const [aliceSocket, bobSocket, carolSocket] = [await openSocket(guarded(room)), await openSocket(guarded(room)), await openSocket(guarded(room))];
  return {
    alice: createClientModel(aliceSocket, content),
    bob: createClientModel(bobSocket, content),
    aliceSocket,
    bobSocket,
    /** Carol only writes barrier markers. */
    carolSocket,
  };
};

describe("per-item hooks on a changeset frame", () => {
  it("keep refused cells out of the store, the log and the broadcast, and send the sender the room's values", async () => {
    const room = "cells-refused";
    const content = [{ pets: { fido: { locked: "yes", name: "Fido" } } }, { readonly: 1, n: 0 }];
    const { alice, bob, aliceSocket, bobSocket, carolSocket } = await setUp(room, content);
    alice.send([{ pets: { fido: { locked: "no", name: "Rex" }, felix: { locked: "x" } } }, { readonly: 2, n: 1 }, 1]);

    expect(changesIn(await bobSocket.frame())).toEqual([{ pets: { fido: { name: "Rex" } } }, { n: 1 }, 1]);
    const correction = changesIn(await aliceSocket.frame());
    expect(correction).toEqual([{ pets: { fido: { locked: "yes", name: "Rex" }, felix: DEL } }, { readonly: 1, n: 1 }, 1]);
    const expected = [{ pets: { fido: { locked: "yes", name: "Rex" } } }, { readonly: 1, n: 1 }];
    expect(await storeOf(guarded(room))).toEqual(expected);
    expect((await logOf(guarded(room))).events[1].data).toEqual([{ pets: { fido: { name: "Rex" } } }, { n: 1 }, 1]);

    await barrier(carolSocket, [aliceSocket, bobSocket]);
    const store = withoutBarrier(await storeOf(guarded(room)));
    expect(withoutBarrier(alice.content())).toEqual(store);
    expect(withoutBarrier(bob.content())).toEqual(store);
  });

  it("keep a row whose deletion is refused, and send it back whole to the sender", async () => {
    const room = "row-refused";
    const { alice, bob, aliceSocket, bobSocket, carolSocket } = await setUp(room, [{ pets: { keep: { a: 1, b: 2 }, drop: { a: 3 } } }, {}]);
    alice.send([{ pets: { keep: DEL, drop: DEL } }, {}, 1]);
    expect(changesIn(await bobSocket.frame())).toEqual([{ pets: { drop: DEL } }, {}, 1]);
    expect(changesIn(await aliceSocket.frame())).toEqual([{ pets: { keep: { a: 1, b: 2 }, drop: DEL } }, {}, 1]);
    expect(await storeOf(guarded(room))).toEqual([{ pets: { keep: { a: 1, b: 2 } } }, {}]);
    await barrier(carolSocket, [aliceSocket, bobSocket]);
    const store = withoutBarrier(await storeOf(guarded(room)));
    expect(withoutBarrier(alice.content())).toEqual(store);
    expect(withoutBarrier(bob.content())).toEqual(store);
  });

  it("that throw fail the frame with an internal error frame, no detail, and change nothing", async () => {
    const room = "cells-throw";
    const { alice, aliceSocket, bobSocket, carolSocket } = await setUp(room, [{ t: { r: { a: 1 } } }, {}]);
    alice.send([{ t: { r: { a: 2, boom: 1 } } }, {}, 1]);
    const error = messageIn(await aliceSocket.frame((frame) => frame.startsWith("x")));
    expect(error).toEqual({ t: "error", error: { code: "internal", message: expect.any(String) } });
    expect(JSON.stringify(error)).not.toMatch(/srv|exploded|\.ts:/);
    const [bobAt] = await barrier(carolSocket, [bobSocket]);
    expect(bobSocket.frames.slice(0, bobAt)).toEqual([]);
    expect(withoutBarrier(await storeOf(guarded(room)))).toEqual([{ t: { r: { a: 1 } } }, {}]);
    expect(aliceSocket.closedWith).toBeUndefined();
  });
});

describe("the sender of a changeset a hook failed on", () => {
  it("gets the room's values back, as for a refusal", async () => {
    const room = "cells-throw-converge";
    const { alice, aliceSocket, carolSocket } = await setUp(room, [{ t: { r: { a: 1 } } }, {}]);
    alice.send([{ t: { r: { a: 2, boom: 1 } } }, {}, 1]);
    await aliceSocket.frame((frame) => frame.startsWith("x"));
    await barrier(carolSocket, [aliceSocket]);
    const store = withoutBarrier(await storeOf(guarded(room)));
    expect(store).toEqual([{ t: { r: { a: 1 } } }, {}]);
    expect(withoutBarrier(alice.content()), `alice received ${JSON.stringify(aliceSocket.frames)}`).toEqual(store);
  });
});

describe("the whole-changeset hook", () => {
  it("can reject a changeset: nothing is applied, logged or broadcast, and the sender gets the room's values", async () => {
    const room = "changeset-vetoed";
    const { alice, bob, aliceSocket, bobSocket, carolSocket } = await setUp(room, [{ pets: { fido: { legs: 4 } } }, { n: 0 }]);
    alice.send([{ pets: { fido: { legs: 3 }, rex: { legs: 4 } } }, { veto: true, n: 1 }, 1]);
    expect(changesIn(await aliceSocket.frame())).toEqual([{ pets: { fido: { legs: 4 }, rex: DEL } }, { veto: DEL, n: 0 }, 1]);
    const [bobAt] = await barrier(carolSocket, [bobSocket]);
    expect(bobSocket.frames.slice(0, bobAt)).toEqual([]);
    const store = withoutBarrier(await storeOf(guarded(room)));
    expect(store).toEqual([{ pets: { fido: { legs: 4 } } }, { n: 0 }]);
    expect((await logOf(guarded(room))).events.map((event) => event.type)).toEqual(["$init", "$changes"]);
    await barrier(carolSocket, [aliceSocket]);
    expect(withoutBarrier(alice.content())).toEqual(store);
    expect(withoutBarrier(bob.content())).toEqual(store);
  });

  it("can rewrite a changeset: the rewrite is applied, logged and broadcast, and the sender converges to it", async () => {
    const room = "changeset-rewritten";
    const { alice, bob, aliceSocket, bobSocket, carolSocket } = await setUp(room, [{}, { clamp: 0 }]);
    alice.send([{}, { clamp: 150 }, 1]);
    expect(changesIn(await bobSocket.frame())).toEqual([{}, { clamp: 100 }, 1]);
    expect(await storeOf(guarded(room))).toEqual([{}, { clamp: 100 }]);
    expect((await logOf(guarded(room))).events[1].data).toEqual([{}, { clamp: 100 }, 1]);
    await barrier(carolSocket, [aliceSocket, bobSocket]);
    const store = withoutBarrier(await storeOf(guarded(room)));
    expect(withoutBarrier(bob.content())).toEqual(store);
    expect(withoutBarrier(alice.content()), "the sender's store after the rewrite").toEqual(store);
  });

  it("refusing a first PUT answers 403 with a JSON error and creates no store", async () => {
    const room = guarded("put-vetoed");
    const refused = await putStore(room, [{ t: { r: { c: 1 } } }, { veto: true }]);
    expect([refused.status, refused.json().error.code]).toEqual([403, "forbidden"]);
    expect((await getStore(room)).text).toBe("");
    expect((await logOf(room)).head).toBe(0);
    expect((await putStore(room, [{ t: { r: { c: 1 } } }, {}])).status).toBe(201);
  });

  it("rewriting a first PUT with a deletion logs an $init that is the store", async () => {
    const room = guarded("put-rewritten");
    expect((await putStore(room, [{ t: { r: { c: 1 } } }, { scrub: 1, keep: 2 }])).status).toBe(201);
    const store = await storeOf(room);
    expect(store).toEqual([{ t: { r: { c: 1 } } }, { scrub: 1, keep: 2 }]);
    const [init] = (await logOf(room)).events;
    expect(init.type).toBe("$init");
    expect(init.data).toEqual(store);
    expect(foldStoreEvents([init])).toEqual(store);
  });
});

describe("initialSave and the origin", () => {
  it("are true and the Request on the first PUT, false and the connection on frames, false and the Request on a replace", async () => {
    const room = "initial-save";
    expect((await putStore(guarded(room), [{ t: { r: { c: 1 } } }, { v: 1 }])).status).toBe(201);
    const onPut = await takeCalls(room);
    expect(onPut).toContainEqual({ hook: "canApplyChanges", args: [[{ t: { r: { c: 1 } } }, { v: 1 }, 1]], initialSave: true, origin: "request" });
    expect(onPut).toContainEqual({ hook: "canSetCell", args: ["t", "r", "c", 1, undefined], initialSave: true, origin: "request" });
    expect(onPut).toContainEqual({ hook: "canSetValue", args: ["v", 1, undefined], initialSave: true, origin: "request" });
    expect(onPut).toHaveLength(3);

    const socket = await openSocket(guarded(room));
    const watcher = await openSocket(guarded(room));
    socket.send(changesFrame([{ t: { r: { c: 2 } } }, {}, 1]));
    await watcher.frame();
    expect(await takeCalls(room)).toEqual([
      { hook: "canApplyChanges", args: [[{ t: { r: { c: 2 } } }, {}, 1]], initialSave: false, origin: "connection" },
      { hook: "canSetCell", args: ["t", "r", "c", 2, 1], initialSave: false, origin: "connection" },
    ]);

    expect((await putStore(guarded(room), [{ t: { r: { c: 3 } } }, { v: 1 }], { "If-Match": '"2"' })).status).toBe(200);
    const onReplace = await takeCalls(room);
    expect(onReplace.length).toBeGreaterThan(0);
    for (const call of onReplace) expect([call.hook, call.initialSave ?? false, call.origin]).toEqual([call.hook, false, "request"]);
    expect(onReplace).toContainEqual({ hook: "canSetCell", args: ["t", "r", "c", 3, 2], initialSave: false, origin: "request" });
  });

  it("let the first PUT set what later frames may not, and drop only what a hook refuses then", async () => {
    const room = guarded("initial-partial");
    expect((await putStore(room, [{ t: { r: { locked: 1, slow: "no", ok: 1 } } }, { readonly: 1 }])).status).toBe(201);
    const store = await storeOf(room);
    expect(store).toEqual([{ t: { r: { locked: 1, ok: 1 } } }, { readonly: 1 }]);
    expect(foldStoreEvents((await logOf(room)).events)).toEqual(store);
  });

  it("a throwing hook on a PUT answers a generic 500 JSON error and creates no store", async () => {
    const room = guarded("put-throws");
    const failed = await putStore(room, [{ t: { r: { boom: 1 } } }, {}]);
    expect([failed.status, failed.json().error.code]).toEqual([500, "internal"]);
    expect(failed.text).not.toMatch(/exploded|srv/);
    expect((await getStore(room)).text).toBe("");
    expect((await putStore(room, [{ t: { r: { fine: 1 } } }, {}])).status).toBe(201);
  });
});

describe("the sender's correction", () => {
  it("does not undo the sender's own later write to the same cell", async () => {
    const room = "correction-race";
    const { alice, bob, aliceSocket, bobSocket, carolSocket } = await setUp(room, [{ t: { r: { slow: "start" } } }, {}]);
    // The second frame is sent once the hook is deciding the first, which it does only after the
    // room has received another frame: the two are committed in two groups, in order.
    alice.send([{ t: { r: { slow: "no" } } }, {}, 1]);
    await waitFor(readCalls(room), (calls) => calls.some((call) => call.hook === "canSetCell" && call.args[3] === "no"), { timeoutMs: 4_000 });
    alice.send([{ t: { r: { slow: "yes" } } }, {}, 1]);
    expect(changesIn(await bobSocket.frame())).toEqual([{ t: { r: { slow: "yes" } } }, {}, 1]);
    await barrier(carolSocket, [aliceSocket, bobSocket]);
    const store = withoutBarrier(await storeOf(guarded(room)));
    expect(store).toEqual([{ t: { r: { slow: "yes" } } }, {}]);
    expect(withoutBarrier(bob.content())).toEqual(store);
    expect(withoutBarrier(alice.content()), `alice received ${JSON.stringify(aliceSocket.frames)}`).toEqual(store);
  });
});
