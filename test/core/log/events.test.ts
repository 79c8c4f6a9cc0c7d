import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createTestRoom } from "../support/harness.ts";

type Page = { events: any[]; next: number | null; head: number };
type TestRoom = Awaited<ReturnType<typeof createTestRoom>>;

const post = (room: TestRoom, body: unknown, headers?: Record<string, string>) => room.request("POST", "/events", body, headers);
const page = async (room: TestRoom, query: string): Promise<Page> => {
  const response = await room.request("GET", `/events?${query}`);
  expect(response.status).toBe(200);
  return response.json();
};

describe("appending events", () => {
  it("stores one event or an array with seq, id, stream, type, data, ts, tz and room", async () => {
    const room = await createTestRoom();
    const one = await post(room, { type: "joined", data: { who: "ada" }, tz: "Europe/Paris" });
    expect(one.status).toBe(201);
    expect((await one.json()).events).toEqual([
      { seq: 1, id: "id-1", stream: "default", type: "joined", data: { who: "ada" }, ts: "2026-01-01T00:00:00.000Z", tz: "Europe/Paris", room: "test-room" },
    ]);
    const many = await (await post(room, [{ type: "a", stream: "s1" }, { type: "b", stream: "s2", data: [1] }])).json();
    expect(many.events.map((event: any) => [event.seq, event.stream, event.type, event.data])).toEqual([
      [2, "s1", "a", null],
      [3, "s2", "b", [1]],
    ]);
  });

  it("makes an append with a producer id idempotent within its stream, across restarts", async () => {
    const room = await createTestRoom();
    const first = (await (await post(room, { type: "paid", id: "order-7", stream: "orders" })).json()).events[0];
    const again = (await (await post(room, { type: "paid", id: "order-7", stream: "orders" })).json()).events[0];
    expect(again).toEqual(first);
    const other = (await (await post(room, { type: "paid", id: "order-7", stream: "refunds" })).json()).events[0];
    expect(other.seq).toBe(2);
    const restarted = await room.restart();
    const afterRestart = (await (await post(restarted, [{ type: "paid", id: "order-7", stream: "orders" }, { type: "x" }])).json()).events;
    expect(afterRestart.map((event: any) => event.seq)).toEqual([1, 3]);
    expect((await page(restarted, "")).head).toBe(3);
  });

  it("appends only while the head is at If-Match, else 412", async () => {
    const room = await createTestRoom();
    await post(room, { type: "a" });
    expect((await post(room, { type: "b" }, { "If-Match": '"0"' })).status).toBe(412);
    expect((await post(room, { type: "b" }, { "If-Match": '"1"' })).status).toBe(201);
    expect((await page(room, "")).head).toBe(2);
  });

  it("answers a retried append with ids and If-Match as the first time, and still refuses a new one", async () => {
    const room = await createTestRoom();
    const batch = [{ type: "paid", id: "o-1" }, { type: "paid", id: "o-2" }];
    const first = await post(room, batch, { "If-Match": '"0"' });
    expect(first.status).toBe(201);
    const retry = await post(room, batch, { "If-Match": '"0"' });
    expect(retry.status).toBe(201);
    expect((await retry.json()).events).toEqual((await first.json()).events);
    expect((await post(room, [...batch, { type: "paid", id: "o-3" }], { "If-Match": '"0"' })).status).toBe(412);
    expect((await post(room, { type: "paid" }, { "If-Match": '"0"' })).status).toBe(412);
    expect((await page(room, "")).head).toBe(2);
  });

  it.each([
    ["a reserved type", { type: "$changes" }, 400, "reserved_name"],
    ["a reserved stream", { type: "a", stream: "$store" }, 400, "reserved_name"],
    ["no type", { data: 1 }, 400, "bad_request"],
    ["an unknown field", { type: "a", extra: 1 }, 400, "bad_request"],
    ["an empty array", [], 400, "bad_request"],
    ["malformed JSON", "{", 400, "invalid_json"],
    ["data over the limit", { type: "a", data: "x".repeat(300_000) }, 413, "too_large"],
    ["too many events", Array.from({ length: 101 }, () => ({ type: "a" })), 413, "too_large"],
    ["one bad event among good ones", [{ type: "a" }, { type: "$b" }], 400, "reserved_name"],
  ])("refuses %s and writes nothing", async (_name, body, status, code) => {
    const room = await createTestRoom();
    const response = await post(room, body);
    expect(response.status).toBe(status);
    expect((await response.json()).error.code).toBe(code);
    expect((await page(room, "")).head).toBe(0);
  });

  it("keeps an event larger than one storage value whole", async () => {
    const room = await createTestRoom();
    const data = "é".repeat(200_000);
    await post(room, [{ type: "small" }, { type: "big", data }, { type: "small" }]);
    const read = await page(room, "");
    expect(read.events.map((event) => event.type)).toEqual(["small", "big", "small"]);
    expect(read.events[1].data).toBe(data);
    expect((await page(room, "types=big")).events[0].data).toBe(data);
  });
});

describe("reading events", () => {
  it.each([
    ["from=0", "invalid_selector"],
    ["after=x", "invalid_selector"],
    ["from=1&after=2", "invalid_selector"],
    ["to=1&until=2", "invalid_selector"],
    ["from=5&to=2", "invalid_selector"],
    ["limit=0", "invalid_selector"],
    ["limit=1001", "invalid_selector"],
    ["colour=red", "invalid_selector"],
    ["types=", "invalid_selector"],
  ])("refuses %s with a clear error", async (query, code) => {
    const room = await createTestRoom();
    const response = await room.request("GET", `/events?${query}`);
    if (query === "from=0") {
      // from=0 is a valid seq below the first: the page simply starts at 1.
      expect(response.status).toBe(200);
      return;
    }
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe(code);
  });

  it("treats after=past-events as only what comes next, and until=caught-up as a closed range", async () => {
    const room = await createTestRoom();
    await post(room, [{ type: "a" }, { type: "b" }]);
    expect(await page(room, "after=past-events")).toEqual({ events: [], next: 2, head: 2 });
    // A range that ends beyond the head is not exhausted yet: next stays a cursor.
    expect((await page(room, "to=100")).next).toBe(2);
    expect((await page(room, "until=50&types=b")).next).toBe(2);
    const caughtUp = await page(room, "until=caught-up");
    expect([caughtUp.events.length, caughtUp.next]).toEqual([2, null]);
    const open = await page(room, "");
    expect([open.events.length, open.next]).toEqual([2, 2]);
  });

  it("pages a log exactly once each, with and without filters (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ type: fc.constantFrom("a", "b", "c"), stream: fc.constantFrom("s1", "s2"), store: fc.boolean() }),
          { minLength: 5, maxLength: 40 },
        ),
        fc.record({
          stream: fc.option(fc.constantFrom("s1", "s2", "$store"), { nil: undefined, freq: 2 }),
          types: fc.option(fc.subarray(["a", "b", "c", "$changes"], { minLength: 2 }), { nil: undefined, freq: 3 }),
          start: fc.option(fc.tuple(fc.constantFrom("from", "after"), fc.integer({ min: 0, max: 20 })), { nil: undefined, freq: 2 }),
          end: fc.option(fc.tuple(fc.constantFrom("to", "until"), fc.integer({ min: 20, max: 45 })), { nil: undefined, freq: 2 }),
          limit: fc.integer({ min: 1, max: 7 }),
        }),
        async (log, selection) => {
          const room = await createTestRoom();
          await room.request("PUT", "/store", [{}, { n: 0 }]);
          const all: { seq: number; stream: string; type: string }[] = [{ seq: 1, stream: "$store", type: "$init" }];
          for (const [i, entry] of log.entries()) {
            if (entry.store) {
              await room.room.handleMessage(room.connect(`c${i}`), "s" + JSON.stringify([{}, { n: i + 1 }, 1]));
              all.push({ seq: all.length + 1, stream: "$store", type: "$changes" });
            } else {
              await post(room, { type: entry.type, stream: entry.stream });
              all.push({ seq: all.length + 1, stream: entry.stream, type: entry.type });
            }
          }
          const { stream, types, start, end, limit } = selection;
          if (start?.[0] === "from" && end?.[0] === "to" && start[1] > end[1]) return;
          const lower = start === undefined ? 1 : start[0] === "from" ? start[1] : start[1] + 1;
          const upper = end === undefined ? Infinity : end[0] === "to" ? end[1] : end[1] - 1;
          const expected = all.filter(
            (event) =>
              event.seq >= lower &&
              event.seq <= upper &&
              (stream === undefined || event.stream === stream) &&
              (types === undefined || types.includes(event.type)),
          );
          const query = new URLSearchParams({ limit: String(limit) });
          if (stream !== undefined) query.set("stream", stream);
          if (types !== undefined) query.set("types", types.join(","));
          if (start !== undefined) query.set(start[0], String(start[1]));
          query.set(...((end === undefined ? ["until", "caught-up"] : [end[0], String(end[1])]) as [string, string]));
          const seen: number[] = [];
          for (let pages = 0; pages < 100; pages++) {
            const read = await page(room, query.toString());
            expect(read.events.length).toBeLessThanOrEqual(limit);
            seen.push(...read.events.map((event) => event.seq));
            if (read.next === null) break;
            query.delete("from");
            query.set("after", String(read.next));
          }
          expect(seen).toEqual(expected.map((event) => event.seq));
        },
      ),
      { numRuns: 80 },
    );
    // 80 runs take about 4 s alone, and more on a busy machine: vitest's 5 s default is too tight.
  }, 30_000);
});

describe("store history", () => {
  it("lists every value a cell, a row and a value had, deletions as null", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{ pets: { fido: { legs: 4, name: "Fido" } } }, { open: true }]);
    const send = (changes: unknown) => room.room.handleMessage(room.connect("a"), "s" + JSON.stringify(changes));
    await send([{ pets: { fido: { legs: 3 } } }, { open: null }, 1]);
    await post(room, { type: "unrelated" });
    await send([{ pets: "\uFFFC" }, { open: "\uFFFC" }, 1]);
    const history = async (query: string) => (await (await room.request("GET", `/events/history?${query}`)).json()).history;
    expect(await history("table=pets&row=fido&cell=legs")).toEqual([
      { seq: 1, value: 4 },
      { seq: 2, value: 3 },
      { seq: 4, value: null },
    ]);
    expect(await history("table=pets&row=fido")).toEqual([
      { seq: 1, cells: { legs: 4, name: "Fido" } },
      { seq: 2, cells: { legs: 3 } },
      { seq: 4, cells: { legs: null, name: null } },
    ]);
    expect(await history("value=open")).toEqual([
      { seq: 1, value: true },
      { seq: 2, value: "\uFFFDnull" },
      { seq: 4, value: null },
    ]);
    expect(await history("value=open&from=2&limit=1")).toEqual([{ seq: 2, value: "\uFFFDnull" }]);
    expect((await room.request("GET", "/events/history?table=pets")).status).toBe(400);
  });

  it("pages a cell's history through a busy row with a bounded read per page, missing nothing", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{ t: { r: { c25: 0 } } }, {}]);
    const send = (cells: Record<string, unknown>) => room.room.handleMessage(room.connect("a"), "s" + JSON.stringify([{ t: { r: cells } }, {}, 1]));
    // One change of 30 cells: more row entries in one seq than a page of 1 may read (10).
    await send(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`c${String(i).padStart(2, "0")}`, i])));
    for (let i = 0; i < 25; i++) await send({ [`c${String(i % 5).padStart(2, "0")}`]: -i });
    await send({ c25: "last" });
    const expected = [
      { seq: 1, value: 0 },
      { seq: 2, value: 25 },
      { seq: 28, value: "last" },
    ];
    const full = await (await room.request("GET", "/events/history?table=t&row=r&cell=c25")).json();
    expect(full.history).toEqual(expected);
    const paged: unknown[] = [];
    let after = 0;
    for (let reads = 0; reads < 50; reads++) {
      const page = await (await room.request("GET", `/events/history?table=t&row=r&cell=c25&limit=1&after=${after}`)).json();
      paged.push(...page.history);
      expect(page.history.length).toBeLessThanOrEqual(1);
      if (page.next === after) break;
      after = page.next;
    }
    expect(paged).toEqual(expected);
  });
});
