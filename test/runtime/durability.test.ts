// Durability inside workerd, on real SQLite-backed Durable Object storage: the store and its log are
// written together (the store is always the fold of its `$store` events), state and seqs survive
// eviction, aborts and hibernation, every acknowledged write survives an abort, and retention trims
// only the oldest events, in the alarm.
import { abortAllDurableObjects, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Room } from "../../party/worker.ts";
import { foldStoreEvents } from "../support/fold.ts";
import { waitFor } from "../support/wait.ts";
import {
  at,
  barrier,
  changesFrame,
  changesIn,
  createClientModel,
  getEvents,
  getStore,
  logOf,
  messageIn,
  openSocket,
  postEvents,
  putStore,
  storeOf,
  withoutBarrier,
  type Party,
} from "./helpers.ts";

const DEL = "\uFFFC";

/** A small deterministic random source (mulberry32), so that a failure can be replayed. */
const createRandom = (seed: number) => {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  return { next, pick };
};

const LEAVES = [0, 1, 42, -7.5, "", "text", true, false, null, "\uFFFDnull", '\uFFFD{"k":1}', "\uFFFD[1,2]", [1, "a"], DEL] as const;

/** A random valid changeset over a few ids, deletions and nulls at every level. */
const randomChanges = (random: ReturnType<typeof createRandom>) => {
  const tables: Record<string, any> = {};
  for (let i = Math.floor(random.next() * 3); i > 0; i--) {
    const tableId = random.pick(["t", "u"]);
    if (random.next() < 0.08) {
      tables[tableId] = DEL;
      continue;
    }
    const table = (tables[tableId] = typeof tables[tableId] === "object" ? tables[tableId] : {});
    for (let j = 1 + Math.floor(random.next() * 2); j > 0; j--) {
      const rowId = random.pick(["r0", "r1", "r2", "r3"]);
      if (random.next() < 0.1) {
        table[rowId] = DEL;
        continue;
      }
      const row = (table[rowId] = typeof table[rowId] === "object" ? table[rowId] : {});
      for (let k = 1 + Math.floor(random.next() * 3); k > 0; k--) row[random.pick(["a", "b", "c"])] = random.pick(LEAVES);
    }
  }
  const values: Record<string, unknown> = {};
  for (let i = Math.floor(random.next() * 2); i > 0; i--) values[random.pick(["v", "w", "x"])] = random.pick(LEAVES);
  return [tables, values, 1] as [Record<string, any>, Record<string, unknown>, 1];
};

/** Random valid content (no deletions, no empty rows or tables). */
const randomContent = (random: ReturnType<typeof createRandom>) => {
  const tables: Record<string, any> = {};
  for (const tableId of ["t", "u"]) {
    if (random.next() < 0.3) continue;
    tables[tableId] = { r0: { a: random.pick(LEAVES.filter((leaf) => leaf !== DEL)) }, r2: { b: 2, c: "c" } };
  }
  return [tables, { v: random.next() < 0.5 ? null : 1 }];
};

/** The `$store` stream, every page of it. */
const storeEvents = async (where: Party) => {
  const events: any[] = [];
  for (let after = 0; ; ) {
    const answer = await getEvents(where, `?stream=%24store&limit=1000&after=${after}`);
    expect(answer.status).toBe(200);
    const page = answer.json();
    events.push(...page.events);
    if (page.events.length < 1000) return events;
    after = page.next;
  }
};

/** The store, the fold of its log, and the ETag: the three must agree. */
const expectStoreIsItsLog = async (where: Party) => {
  const answer = await getStore(where);
  const store = answer.text === "" ? undefined : answer.json();
  const events = await storeEvents(where);
  expect(foldStoreEvents(events), "the fold of the $store events").toEqual(store);
  expect(answer.headers.get("ETag")).toBe(`"${events.at(-1)?.seq ?? 0}"`);
  return store;
};

describe("store and log are written together", () => {
  it("keeps the store equal to the fold of its $store events after any number of writes, and every socket converges", async () => {
    const room = at("fold-random");
    const random = createRandom(20261125);
    const initial = [{ t: { r0: { a: 1 } } }, { v: 1 }];
    await putStore(room, initial);
    const [alice, bob, carol] = [await openSocket(room), await openSocket(room), await openSocket(room)];
    const models = [createClientModel(alice, initial as any), createClientModel(bob, initial as any)];
    const watcher = createClientModel(carol, initial as any);
    for (let step = 1; step <= 150; step++) {
      const roll = random.next();
      if (roll < 0.8) {
        models[step % 2].send(randomChanges(random));
      } else if (roll < 0.9) {
        expect((await postEvents(room, { type: "app", data: { step } })).status).toBe(201);
      } else {
        const etag = (await getStore(room)).headers.get("ETag")!;
        const content = randomContent(random);
        expect([200, 412]).toContain((await putStore(room, content, { "If-Match": etag })).status);
      }
      if (step % 50 === 0) {
        await barrier(carol, [alice, bob]);
        await barrier(alice, [carol]);
        const store = withoutBarrier(await expectStoreIsItsLog(room));
        expect(withoutBarrier(watcher.content()), `a socket that only listens, at step ${step}`).toEqual(store);
        models.forEach((model, i) => expect(withoutBarrier(model.content()), `writer ${i}, at step ${step}`).toEqual(store));
      }
    }
    expect((await logOf(room)).head).toBeLessThan(1_000);
  });

  it("logs a replace that the store is, even with an empty table or row in the body", async () => {
    const room = at("fold-replace-empty");
    await putStore(room, [{ t: { r: { c: 1 } } }, {}]);
    expect((await putStore(room, [{ t: {}, u: { r: {} }, w: { r: { c: 2 } } }, { v: 1 }], { "If-Match": '"1"' })).status).toBe(200);
    expect(await storeOf(room)).toEqual([{ w: { r: { c: 2 } } }, { v: 1 }]);
    await expectStoreIsItsLog(room);
  });
});

describe("state and seq across restarts", () => {
  it("survive eviction and abort: the store, the log as it was, and seqs that continue", async () => {
    const room = at("restart");
    await putStore(room, [{ t: { r: { a: 1 } } }, { v: 1 }]);
    const socket = await openSocket(room);
    const watcher = await openSocket(room);
    socket.send(changesFrame([{ t: { r: { a: DEL, b: null }, s: { x: '\uFFFD{"deep":[1]}' } } }, { v: DEL, w: "w" }, 1]));
    await watcher.frame();
    await postEvents(room, [{ type: "a", id: "once" }, { type: "b" }]);
    const store = await expectStoreIsItsLog(room);
    const log = await logOf(room);
    expect(log.head).toBe(4);

    await evictDurableObject(env.Main.getByName("restart"), { webSockets: "close" });
    expect(await storeOf(room)).toEqual(store);
    expect(await logOf(room)).toEqual(log);
    expect((await postEvents(room, { type: "c" })).json().events[0].seq).toBe(5);

    await abortAllDurableObjects();
    expect(await storeOf(room)).toEqual(store);
    expect((await logOf(room)).events.slice(0, 4)).toEqual(log.events);
    const again = await postEvents(room, { type: "a", id: "once" });
    expect(again.json().events[0]).toEqual(log.events[2]);
    expect((await postEvents(room, { type: "d" })).json().events[0].seq).toBe(6);
    const writer = await openSocket(room);
    const listener = await openSocket(room);
    writer.send(changesFrame([{}, { after: "abort" }, 1]));
    await listener.frame();
    expect((await logOf(room)).events.map((event) => [event.seq, event.type])).toEqual([
      [1, "$init"],
      [2, "$changes"],
      [3, "a"],
      [4, "b"],
      [5, "c"],
      [6, "d"],
      [7, "$changes"],
    ]);
    await expectStoreIsItsLog(room);
  });

  it("a room woken after a snapshot loads it and the events since, and has the same store", async () => {
    const room = at("snapshot-wake");
    const stub = env.Main.getByName("snapshot-wake");
    await putStore(room, [{ t: { r0: { a: 1 }, r1: { a: 2 } } }, { v: 1 }]);
    await postEvents(room, { type: "app" });
    await evictDurableObject(stub);
    // The first wake-up finds no snapshot and writes one, off the request path.
    expect((await storeOf(room))[1]).toEqual({ v: 1 });
    const header = await waitFor(
      () => runInDurableObject(stub, (_room: Room, state) => state.storage.get<{ seq: number; chunks: number }>("k")),
      (found) => found !== undefined,
      { timeoutMs: 4_000, what: "a snapshot" },
    );
    expect(header!.seq).toBe(1);
    const writer = await openSocket(room);
    const listener = await openSocket(room);
    writer.send(changesFrame([{ t: { r0: DEL, r1: { a: null, b: "\uFFFD[3]" } } }, { v: DEL, w: 2 }, 1]));
    await listener.frame();
    expect((await putStore(room, [{ u: { r: { c: 1 } } }, { w: 3 }], { "If-Match": '"3"' })).status).toBe(200);
    writer.send(changesFrame([{ u: { r: { d: 4 } }, t: { r9: { z: 0 } } }, { x: null }, 1]));
    await listener.frame((frame) => changesIn(frame)?.[1]?.x === null);
    const store = await expectStoreIsItsLog(room);
    expect(store).toEqual([{ u: { r: { c: 1, d: 4 } }, t: { r9: { z: 0 } } }, { w: 3, x: null }]);

    await evictDurableObject(stub, { webSockets: "close" });
    expect(await storeOf(room)).toEqual(store);
    await expectStoreIsItsLog(room);
  });
});

describe("values larger than one storage value", () => {
  it("a changeset and a snapshot split across storage values, inside characters, load back the same", async () => {
    const room = at("large-values");
    const stub = env.Main.getByName("large-values");
    await putStore(room, [{}, { v: 0 }]);
    const cell = (shift: string) => shift + "\u{1F600}".repeat(29_000);
    const writer = await openSocket(room);
    const listener = await openSocket(room);
    writer.send(changesFrame([{ big: { r0: { a: cell(""), b: cell("x") }, r1: { a: cell("yy"), b: cell("z") } } }, { v: 1 }, 1]));
    await listener.frame();
    const store = await expectStoreIsItsLog(room);
    expect(store[0].big.r1.a).toBe(cell("yy"));
    // Wake up once to get a snapshot of it, change it, then wake up from the snapshot.
    await evictDurableObject(stub, { webSockets: "close" });
    expect(await storeOf(room)).toEqual(store);
    await waitFor(
      () => runInDurableObject(stub, (_room: Room, state) => state.storage.get<{ seq: number; chunks: number }>("k")),
      (header) => (header?.chunks ?? 0) > 1,
      { timeoutMs: 4_000, what: "a snapshot in several chunks" },
    );
    const again = await openSocket(room);
    const listening = await openSocket(room);
    again.send(changesFrame([{ big: { r0: { a: DEL }, r2: { c: cell("w") } } }, { v: 2 }, 1]));
    await listening.frame();
    const changed = await expectStoreIsItsLog(room);
    await evictDurableObject(stub, { webSockets: "close" });
    expect(await storeOf(room)).toEqual(changed);
    expect(changed[0].big.r2.c).toBe(cell("w"));
  });
});

describe("hibernation", () => {
  it("a frame wakes the room: it is applied, broadcast to the other hibernated socket, and seqs continue", async () => {
    const room = at("hibernate");
    const stub = env.Main.getByName("hibernate");
    await putStore(room, [{}, { n: 0 }]);
    const [alice, bob, carol] = [await openSocket(room), await openSocket(room), await openSocket(room)];
    await runInDurableObject(stub, (instance: Room) => void Object.assign(instance, { marked: true }));
    await evictDurableObject(stub);

    alice.send(changesFrame([{ t: { r: { c: "woken" } } }, { n: 1 }, 1]));
    expect(changesIn(await bob.frame())).toEqual([{ t: { r: { c: "woken" } } }, { n: 1 }, 1]);
    expect(changesIn(await carol.frame())).toEqual([{ t: { r: { c: "woken" } } }, { n: 1 }, 1]);
    const awake = await runInDurableObject(stub, (instance: Room, state) => ({ marked: "marked" in instance, sockets: state.getWebSockets().length }));
    expect(awake).toEqual({ marked: false, sockets: 3 });
    expect(await storeOf(room)).toEqual([{ t: { r: { c: "woken" } } }, { n: 1 }]);
    expect((await logOf(room)).events.map((event) => [event.seq, event.type])).toEqual([[1, "$init"], [2, "$changes"]]);

    bob.send(changesFrame([{}, { n: 2 }, 1]));
    expect(changesIn(await alice.frame())).toEqual([{}, { n: 2 }, 1]);
    const [aliceAt] = await barrier(carol, [alice, bob]);
    expect(alice.frames.slice(0, aliceAt).map(changesIn)).toEqual([[{}, { n: 2 }, 1]]);

    // Hibernate again; an HTTP write wakes it and reaches every socket.
    await evictDurableObject(stub);
    expect((await putStore(room, [{}, { n: 9 }], { "If-Match": '"4"' })).status).toBe(200);
    for (const socket of [alice, bob, carol]) expect(changesIn(await socket.frame((frame) => changesIn(frame)?.[1]?.n === 9))[1]).toMatchObject({ n: 9 });
    expect((await logOf(room)).head).toBe(5);
    await expectStoreIsItsLog(room);
  });

  it("a subscriber on a socket that slept is told its subscription ended with reason reset", async () => {
    const room = at("hibernate-subscriber");
    const reader = await openSocket(room);
    reader.send('x{"t":"sub","sid":"s1","credit":10}');
    await reader.frame((frame) => messageIn(frame)?.t === "caught-up");
    await evictDurableObject(env.Main.getByName("hibernate-subscriber"));
    expect((await postEvents(room, { type: "wake" })).status).toBe(201);
    expect(messageIn(await reader.frame((frame) => messageIn(frame)?.t === "end"))).toEqual({ t: "end", sid: "s1", reason: "reset" });
    expect(reader.closedWith).toBeUndefined();
  });

  it("sockets closed by an eviction are closed for the client, and new ones work", async () => {
    const room = at("evict-close");
    await putStore(room, [{}, {}]);
    const old = await openSocket(room);
    await evictDurableObject(env.Main.getByName("evict-close"), { webSockets: "close" });
    expect(typeof (await old.closed())).toBe("number");
    const [alice, bob] = [await openSocket(room), await openSocket(room)];
    alice.send(changesFrame([{}, { v: 1 }, 1]));
    expect(changesIn(await bob.frame())).toEqual([{}, { v: 1 }, 1]);
  });
});

describe("writes in flight when the object is aborted", () => {
  it("every write whose response, acknowledgement or broadcast arrived is there afterwards, and none is half-applied", async () => {
    const room = at("abort-burst");
    await putStore(room, [{}, {}]);
    const [writer, listener, acker] = [await openSocket(room), await openSocket(room), await openSocket(room)];
    // Writes go on over many turns, and the object is aborted in the middle of them.
    const posts: Promise<Awaited<ReturnType<typeof postEvents>>>[] = [];
    let answeredBeforeAbort = 0;
    let aborting = false;
    const produce = async () => {
      for (let i = 0; i < 400 && !aborting; i++) {
        try {
          writer.send(changesFrame([{ rows: { [`r${i}`]: { a: i, b: i, c: i } } }, {}, 1]));
          acker.send("x" + JSON.stringify({ t: "changes", mid: `m${i}`, changes: [{ acked: { [`r${i}`]: { a: i, b: i } } }, {}, 1] }));
        } catch {
          break; // the socket went with the object
        }
        const post = postEvents(room, { type: "burst", id: `e${i}`, data: i });
        posts.push(post);
        post.then(() => void (aborting || answeredBeforeAbort++), () => undefined);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    };
    const producing = produce();
    await waitFor(() => answeredBeforeAbort, (count) => count >= 10, { timeoutMs: 4_000, what: "ten answered appends" });
    aborting = true;
    await abortAllDurableObjects();
    await producing;
    const settled = await Promise.allSettled(posts);

    const events = (await logOf(room)).events;
    expect(events.map((event) => event.seq)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
    const byId = new Map(events.map((event) => [event.id, event]));
    let answered = 0;
    for (const result of settled) {
      if (result.status !== "fulfilled" || result.value.status !== 201) continue;
      answered++;
      const [event] = result.value.json().events;
      expect(byId.get(event.id), `acknowledged event ${event.id}`).toEqual(event);
    }
    expect(answered).toBeGreaterThan(0);
    const store = await expectStoreIsItsLog(room);
    const broadcastRows = listener.frames.flatMap((frame) => Object.keys(changesIn(frame)?.[0]?.rows ?? {}));
    for (const rowId of broadcastRows) expect(store[0].rows?.[rowId], `broadcast row ${rowId}`).toBeDefined();
    const acked = acker.frames.map(messageIn).filter((message) => message?.t === "ok");
    for (const { mid, seq } of acked) expect(byId.get(mid)?.seq, `acknowledged changeset ${mid}`).toBe(seq);
    for (const row of Object.values<Record<string, number>>(store[0].rows ?? {})) expect(Object.keys(row)).toEqual(["a", "b", "c"]);
    for (const row of Object.values<Record<string, number>>(store[0].acked ?? {})) expect(Object.keys(row)).toEqual(["a", "b"]);
    expect((await postEvents(room, { type: "after" })).json().events[0].seq).toBe(events.length + 1);
  });
});

describe("retention", () => {
  it("trims only the oldest events, in the alarm; the store and later seqs are untouched", async () => {
    const room = at("retain", "retaining");
    const stub = env.Retaining.getByName("retain");
    await putStore(room, [{ t: { r: { c: 0 } } }, { v: 0 }]);
    const writer = await openSocket(room);
    const listener = await openSocket(room);
    for (let i = 1; i <= 3; i++) {
      writer.send(changesFrame([{ t: { r: { c: i } } }, {}, 1]));
      await listener.frame((frame) => changesIn(frame)?.[0]?.t?.r?.c === i);
    }
    await postEvents(room, Array.from({ length: 6 }, (_, i) => ({ type: "app", id: `a${i}` })));
    const before = await logOf(room);
    expect(before.head).toBe(10);
    const store = await storeOf(room);

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await logOf(room);
    expect(after.events).toEqual(before.events.slice(5));
    expect(after.head).toBe(10);
    expect(await storeOf(room)).toEqual(store);

    expect((await postEvents(room, { type: "app" })).json().events[0].seq).toBe(11);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await logOf(room)).events.map((event) => event.seq)).toEqual([7, 8, 9, 10, 11]);

    await evictDurableObject(stub, { webSockets: "close" });
    expect(await storeOf(room)).toEqual(store);
    expect((await postEvents(room, { type: "app" })).json().events[0].seq).toBe(12);
    expect((await logOf(room)).events[0].seq).toBe(7);
  });

  it("a room whose snapshot is older than what retention kept still wakes with its store", async () => {
    const room = at("retain-snapshot", "retaining");
    const stub = env.Retaining.getByName("retain-snapshot");
    await putStore(room, [{ t: { r: { c: 0 } } }, {}]);
    await evictDurableObject(stub);
    expect(await storeOf(room)).toEqual([{ t: { r: { c: 0 } } }, {}]);
    await waitFor(() => runInDurableObject(stub, (_room: Room, state) => state.storage.get("k")), (header) => header !== undefined, { timeoutMs: 4_000, what: "a snapshot" });
    const writer = await openSocket(room);
    const listener = await openSocket(room);
    for (let i = 1; i <= 7; i++) {
      writer.send(changesFrame([{ t: { r: { c: i }, [`r${i}`]: { d: i } } }, {}, 1]));
      await listener.frame((frame) => changesIn(frame)?.[0]?.t?.r?.c === i);
    }
    const store = await expectStoreIsItsLog(room);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await logOf(room)).events.map((event) => event.seq)).toEqual([4, 5, 6, 7, 8]);
    await evictDurableObject(stub, { webSockets: "close" });
    expect(await storeOf(room)).toEqual(store);
    expect((await getStore(room)).headers.get("ETag")).toBe('"8"');
  });
});
