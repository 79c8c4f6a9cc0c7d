// The event log over plain `fetch`, against real `wrangler dev` and `partykit dev`: appends
// (idempotent, optimistic), errors and limits, selectors and paging, the `$store` events, and
// history. (The store's own HTTP surface is in http.test.ts.)
import type { RoomEvent } from "../../party/protocol.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { foldStoreEvents } from "../support/fold.ts";
import { createRoomHttp, expectError, openSocket } from "../support/room-http.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

const DELETED = "\uFFFC";
const JSON_CELL = "\uFFFD";

const seqsOf = (events: RoomEvent[]) => events.map((event) => event.seq);

describe.each(["wrangler", "partykit"] as const)("the event log over HTTP under %s dev", (kind) => {
  let server: RunningServer;
  const http = (room: string) => createRoomHttp(server.origin, room);

  beforeAll(async () => {
    server = await startServer({ kind });
  });
  afterAll(async () => server?.stop());

  it("appends one event or an array, all or nothing, and answers 201 with the stored events", async () => {
    const room = http("append");
    const one = await room.append({ type: "joined", data: { who: "ada" }, tz: "Europe/Paris" });
    expect(one.status).toBe(201);
    expect(one.headers.get("ETag")).toBe('"1"');
    const [joined] = one.body.events;
    expect(joined).toEqual({ seq: 1, id: joined.id, stream: "default", type: "joined", data: { who: "ada" }, ts: joined.ts, tz: "Europe/Paris", room: "append" });
    expect(joined.id).toMatch(/^\S+$/);
    expect(new Date(joined.ts).toISOString()).toBe(joined.ts); // UTC ISO time

    const many = await room.append([{ type: "a", stream: "s" }, { type: "b", stream: "s", data: [1, "two"] }, { type: "c", id: "mine" }]);
    expect(many.status).toBe(201);
    expect(many.body.events.map((event) => [event.seq, event.stream, event.type, event.data, event.id])).toEqual([
      [2, "s", "a", null, many.body.events[0].id],
      [3, "s", "b", [1, "two"], many.body.events[1].id],
      [4, "default", "c", null, "mine"],
    ]);
    expect(new Set([joined.id, ...many.body.events.map((event) => event.id)]).size).toBe(4);

    // One bad event refuses the whole array.
    expectError(await room.append([{ type: "d" }, { type: "$e" }, { type: "f" }]), 400, "reserved_name");
    const page = await room.page();
    expect(page.body.head).toBe(4);
    // The log serves exactly what the appends answered.
    expect(page.body.events).toEqual([joined, ...many.body.events]);
  });

  it("makes an append with a producer id idempotent: the first event's seq again, nothing appended, also after a restart", async () => {
    const room = http("idempotent");
    const [paid] = await room.appendOk({ type: "paid", id: "order-1", stream: "orders", data: { total: 40 } });
    const again = await room.append({ type: "paid", id: "order-1", stream: "orders", data: { total: 40 } });
    expect([again.status, again.body.events]).toEqual([201, [paid]]);
    // The id decides, not the content.
    expect(await room.appendOk({ type: "changed", id: "order-1", stream: "orders", data: "else" })).toEqual([paid]);
    // Ids are unique per stream: the same id elsewhere is another event.
    const [refund] = await room.appendOk({ type: "refunded", id: "order-1", stream: "refunds" });
    expect(refund.seq).toBe(2);
    // In one array: a known id, a new one given twice, and one without an id.
    const mixed = await room.appendOk([
      { type: "paid", id: "order-1", stream: "orders" },
      { type: "paid", id: "order-2", stream: "orders" },
      { type: "paid", id: "order-2", stream: "orders" },
      { type: "note" },
    ]);
    expect(seqsOf(mixed)).toEqual([1, 3, 3, 4]);
    expect(await room.head()).toBe(4);

    await server.restart();

    expect(await room.appendOk([{ type: "paid", id: "order-2", stream: "orders" }, { type: "paid", id: "order-1", stream: "orders" }])).toEqual([mixed[1], paid]);
    expect(await room.head()).toBe(4);
    expect(seqsOf(await room.appendOk({ type: "after" }))).toEqual([5]);
  });

  it("appends only while the log head is the If-Match seq, else 412 and nothing appended", async () => {
    const room = http("if-match");
    await room.appendOk([{ type: "a" }, { type: "b" }]);
    expectError(await room.append({ type: "late" }, { "If-Match": '"1"' }), 412, "precondition_failed");
    expectError(await room.append({ type: "early" }, { "If-Match": '"3"' }), 412, "precondition_failed");
    expect(await room.head()).toBe(2);
    const ok = await room.append({ type: "c" }, { "If-Match": '"2"' });
    expect([ok.status, seqsOf(ok.body.events), ok.headers.get("ETag")]).toEqual([201, [3], '"3"']);
    // A store change moves the head as well.
    expect((await room.putStore([{}, { n: 1 }])).status).toBe(201);
    expectError(await room.append({ type: "d" }, { "If-Match": '"3"' }), 412, "precondition_failed");
    // Two writers racing from the same head: exactly one wins.
    const race = await Promise.all([1, 2, 3].map((n) => room.append({ type: `racer${n}` }, { "If-Match": '"4"' })));
    expect(race.map((answer) => answer.status).sort()).toEqual([201, 412, 412]);
    expect(await room.head()).toBe(5);
  });

  it.each([
    ["malformed JSON", "{", 400, "invalid_json"],
    ["JSON that is not an event", "42", 400, "bad_request"],
    ["no type", { data: 1 }, 400, "bad_request"],
    ["an empty type", { type: "" }, 400, "bad_request"],
    ["a type with a line break", { type: "a\nb" }, 400, "bad_request"],
    ["an unknown field", { type: "a", extra: 1 }, 400, "bad_request"],
    ["a stream that is not a string", { type: "a", stream: 7 }, 400, "bad_request"],
    ["a reserved type", { type: "$changes" }, 400, "reserved_name"],
    ["a reserved stream", { type: "a", stream: "$store" }, 400, "reserved_name"],
    ["a reserved name in an array", [{ type: "a" }, { type: "b", stream: "$mine" }], 400, "reserved_name"],
    ["an empty array", [], 400, "bad_request"],
    ["data over the limit", { type: "a", data: "x".repeat(256 * 1024 + 1) }, 413, "too_large"],
    ["more events than one append may hold", Array.from({ length: 101 }, () => ({ type: "a" })), 413, "too_large"],
  ])("refuses %s with a JSON error and appends nothing", async (_case, body, status, code) => {
    const room = http("refused");
    expectError(await room.append(body), status, code);
    expect(await room.head()).toBe(0);
  });

  it("keeps an event larger than one storage value whole, in pages, filtered pages and after a resend", async () => {
    const room = http("big-event");
    const data = { text: "é€😀".repeat(50_000), list: Array.from({ length: 1_000 }, (_, i) => i) };
    const [small, big, after] = await room.appendOk([{ type: "small" }, { type: "big", data, id: "big-1" }, { type: "small" }]);
    expect(big.data).toEqual(data);
    expect((await room.page()).body.events).toEqual([small, big, after]);
    expect((await room.page("types=big")).body.events).toEqual([big]);
    expect((await room.page("from=2&limit=1")).body).toEqual({ events: [big], next: 2, head: 3 });
    expect(await room.appendOk({ type: "big", data, id: "big-1" })).toEqual([big]);
  });

  describe("selectors", () => {
    // 12 events: seq 1, 4, 7, 10 are a/s1; 2, 5, 8, 11 are b/s2; 3, 6, 9, 12 are c/s1.
    beforeAll(async () => {
      for (let i = 0; i < 4; i++) await http("select").appendOk([{ type: "a", stream: "s1" }, { type: "b", stream: "s2" }, { type: "c", stream: "s1" }]);
    });

    it.each([
      ["", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 12],
      ["stream=s1", [1, 3, 4, 6, 7, 9, 10, 12], 12],
      ["types=b", [2, 5, 8, 11], 12],
      ["types=a,b", [1, 2, 4, 5, 7, 8, 10, 11], 12],
      ["stream=s1&types=c", [3, 6, 9, 12], 12],
      ["stream=s1&types=b", [], 12],
      ["stream=nowhere", [], 12],
      ["from=4&to=6", [4, 5, 6], null],
      ["after=10", [11, 12], 12],
      ["until=3", [1, 2], null],
      ["after=2&until=5", [3, 4], null],
      ["from=11&until=caught-up", [11, 12], null],
      ["stream=s2&to=5", [2, 5], null],
      ["types=a&until=caught-up", [1, 4, 7, 10], null],
      ["after=past-events", [], 12],
      ["limit=5", [1, 2, 3, 4, 5], 5],
      ["from=5&limit=2", [5, 6], 6],
      ["types=c&limit=2&until=caught-up", [3, 6], 6],
      ["types=a,c&after=6&limit=3", [7, 9, 10], 10],
    ])("GET ?%s selects the right events and next", async (query, seqs, next) => {
      const page = await http("select").page(query);
      expect(page.status).toBe(200);
      expect([seqsOf(page.body.events), page.body.next, page.body.head]).toEqual([seqs, next, 12]);
    });

    it("keeps next as a cursor while a to or until beyond the head leaves part of the range to come", async () => {
      // [1, 100] is not exhausted at head 12: events 13 to 100 are still to come, as SSE with the
      // same selectors shows by going live until seq 100.
      const page = await http("select").page("to=100");
      expect(seqsOf(page.body.events)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      expect(page.body.next).toBe(12);
      expect((await http("select").page("until=50&types=b")).body.next).toBe(12);
    });

    it.each([
      ["from=1&after=2"],
      ["to=5&until=6"],
      ["from=9&to=2"],
      ["from=x"],
      ["after=-1"],
      ["until=soon"],
      ["limit=0"],
      ["limit=1001"],
      ["types="],
      ["colour=red"],
      ["stream=a&stream=b"],
    ])("refuses GET ?%s with invalid_selector", async (query) => {
      expectError(await http("select").page(query), 400, "invalid_selector");
    });
  });

  it("pages through next exactly once each, with a default page of 100 and at most 1000", async () => {
    const room = http("paging");
    const types = ["x", "y", "z"];
    for (let batch = 0; batch < 3; batch++) {
      await room.appendOk(Array.from({ length: 100 }, (_, i) => ({ type: types[(batch * 100 + i) % 3], stream: i % 2 ? "odd" : "even" })));
    }
    const all = await room.allEvents();
    expect(seqsOf(all)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    const first = await room.page();
    expect([first.body.events.length, first.body.next]).toEqual([100, 100]);
    expect((await room.page("limit=1000")).body.events).toHaveLength(300);

    // A closed range: page until next is null; every matching event exactly once, in order.
    const expected = seqsOf(all.filter((event) => event.stream === "odd" && event.type !== "y"));
    const seen: number[] = [];
    let query = "stream=odd&types=x,z&limit=7&until=caught-up";
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(100);
      const page = (await room.page(query)).body;
      expect(page.events.length).toBeLessThanOrEqual(7);
      seen.push(...seqsOf(page.events));
      if (page.next === null) break;
      query = `stream=odd&types=x,z&limit=7&until=caught-up&after=${page.next}`;
    }
    expect(seen).toEqual(expected);

    // An open range: next is a cursor that later picks up exactly the new events.
    let cursor = 0;
    const polled: number[] = [];
    for (let pages = 0; pages < 100; pages++) {
      const page = (await room.page(`types=z&limit=40&after=${cursor}`)).body;
      if (page.events.length === 0) break;
      polled.push(...seqsOf(page.events));
      cursor = page.next!;
    }
    expect(polled).toEqual(seqsOf(all.filter((event) => event.type === "z")));
    expect(cursor).toBe(300);
    await room.appendOk([{ type: "z" }, { type: "x" }, { type: "z" }]);
    const fresh = (await room.page(`types=z&after=${cursor}`)).body;
    expect([seqsOf(fresh.events), fresh.next, fresh.head]).toEqual([[301, 303], 303, 303]);
  });

  it("logs a first PUT as $init, a WebSocket change as $changes and a replacing PUT as $replace, in stream $store", async () => {
    const room = http("store-log");
    expect((await room.putStore([{ pets: { fido: { legs: 4, name: "Fido" } } }, { open: true }])).status).toBe(201);
    await room.appendOk({ type: "between" });
    const socket = await openSocket(server.host, "store-log");
    socket.send("s" + JSON.stringify([{ pets: { fido: { legs: 3 }, felix: { json: `${JSON_CELL}{"a":[1]}` } } }, { open: null }, 1]));
    socket.send("s" + JSON.stringify([{ pets: { fido: DELETED } }, { open: DELETED }, 1]));
    await waitFor(() => room.head(), (head) => head === 4, { what: "both changes in the log" });
    socket.close();
    const etag = (await room.getStore()).headers.get("ETag")!;
    expect(etag).toBe('"4"');
    expect((await room.putStore([{ fresh: { r: { c: 1 } } }, {}], { "If-Match": etag })).status).toBe(200);

    const log = await room.allEvents();
    expect(log.map((event) => [event.seq, event.stream, event.type, event.data])).toEqual([
      [1, "$store", "$init", [{ pets: { fido: { legs: 4, name: "Fido" } } }, { open: true }]],
      [2, "default", "between", null],
      [3, "$store", "$changes", [{ pets: { fido: { legs: 3 }, felix: { json: `${JSON_CELL}{"a":[1]}` } } }, { open: `${JSON_CELL}null` }, 1]],
      [4, "$store", "$changes", [{ pets: { fido: null } }, { open: null }, 1]],
      [5, "$store", "$replace", [{ fresh: { r: { c: 1 } } }, {}]],
    ]);
    expect(log.every((event) => event.room === "store-log")).toBe(true);
    expect(seqsOf((await room.page("stream=$store")).body.events)).toEqual([1, 3, 4, 5]);
    expect(seqsOf((await room.page("types=$changes")).body.events)).toEqual([3, 4]);
    expect((await room.getStore()).body).toEqual([{ fresh: { r: { c: 1 } } }, {}]);
  });

  it("logs a replacing PUT as the store it leaves, so that the $store events fold to exactly the store", async () => {
    const room = http("replace-fold");
    await room.putStore([{ t: { r: { c: 1 } }, emptyRowAtInit: { r: {} } }, {}]);
    // Empty tables and rows are no part of a TinyBase store: the room keeps none.
    const replacement = [{ t: { r: {}, s: { c: 2 } }, emptyTable: {} }, { v: 1 }];
    expect((await room.putStore(replacement, { "If-Match": '"1"' })).status).toBe(200);
    const store = (await room.getStore()).body;
    expect(store).toEqual([{ t: { s: { c: 2 } } }, { v: 1 }]);
    expect(foldStoreEvents(await room.allEvents())).toEqual(store);
  });

  it("serves the history of a cell, a row and a value, paged by the same selectors", async () => {
    const room = http("history");
    await room.putStore([{ pets: { fido: { legs: 4, name: "Fido" } } }, { open: true }]);
    const socket = await openSocket(server.host, "history");
    socket.send("s" + JSON.stringify([{ pets: { fido: { legs: 3 } } }, { open: null }, 1]));
    await waitFor(() => room.head(), (head) => head === 2, { what: "the first change" });
    await room.appendOk({ type: "unrelated" });
    socket.send("s" + JSON.stringify([{ pets: { fido: { legs: null, toy: `${JSON_CELL}["ball"]` } } }, {}, 1]));
    socket.send("s" + JSON.stringify([{ pets: DELETED }, { open: DELETED }, 1]));
    await waitFor(() => room.head(), (head) => head === 5, { what: "the last changes" });
    socket.close();

    const history = async (query: string) => {
      const answer = await room.history(query);
      expect(answer.status, answer.text).toBe(200);
      return answer.body;
    };
    expect(await history("table=pets&row=fido&cell=legs")).toEqual({
      history: [
        { seq: 1, value: 4 },
        { seq: 2, value: 3 },
        { seq: 4, value: `${JSON_CELL}null` },
        { seq: 5, value: null },
      ],
      next: 5,
      head: 5,
    });
    expect((await history("table=pets&row=fido")).history).toEqual([
      { seq: 1, cells: { legs: 4, name: "Fido" } },
      { seq: 2, cells: { legs: 3 } },
      { seq: 4, cells: { legs: `${JSON_CELL}null`, toy: `${JSON_CELL}["ball"]` } },
      { seq: 5, cells: { legs: null, name: null, toy: null } },
    ]);
    expect((await history("value=open")).history).toEqual([
      { seq: 1, value: true },
      { seq: 2, value: `${JSON_CELL}null` },
      { seq: 5, value: null },
    ]);
    expect((await history("table=pets&row=nobody&cell=legs")).history).toEqual([]);

    // Paged: limit=1 through next, exactly once each.
    const seen: number[] = [];
    let query = "table=pets&row=fido&limit=1&until=caught-up";
    for (let pages = 0; pages < 10; pages++) {
      const page = await history(query);
      seen.push(...page.history.map((entry: { seq: number }) => entry.seq));
      if (page.next === null) break;
      query = `table=pets&row=fido&limit=1&until=caught-up&after=${page.next}`;
    }
    expect(seen).toEqual([1, 2, 4, 5]);
    expect((await history("value=open&from=2&to=4")).history).toEqual([{ seq: 2, value: `${JSON_CELL}null` }]);

    for (const bad of ["table=pets", "table=pets&cell=legs", "value=open&table=pets", "", "table=pets&row=fido&stream=s", "value=open&limit=0"]) {
      expectError(await room.history(bad), 400, "invalid_selector");
    }
  });
});
