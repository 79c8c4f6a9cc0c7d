// The room's HTTP surface inside workerd, through the worker's own fetch handler: TinyBase's
// persister protocol on the store, conditional requests, limits, CORS, routing errors and the
// event log's basics. Every answer is checked for stack traces by `call` (helpers.ts).
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_BODY_BYTES, MAX_EVENT_DATA_CHARS, MAX_EVENTS_PER_APPEND } from "../../party/protocol.ts";
import type { Room } from "../../party/worker.ts";
import { at, call, getEvents, getStore, logOf, postEvents, putStore, roomUrl, storeOf } from "./helpers.ts";

const CONTENT = [{ pets: { fido: { legs: 4, name: "Fido" } } }, { open: true }];

/** A JSON error body with that code, and nothing else in it. */
const expectError = (answer: { status: number; headers: Headers; json: () => any }, status: number, code: string) => {
  expect(answer.status).toBe(status);
  expect(answer.headers.get("Content-Type")).toMatch(/^application\/json/);
  const body = answer.json();
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
  expect(body.error.message.length).toBeGreaterThan(0);
};

describe("GET and PUT of the store", () => {
  it("answers a new room with 200 and an empty body, and creates nothing by reading", async () => {
    const room = at("store-new");
    const answer = await getStore(room);
    expect([answer.status, answer.text, answer.headers.get("ETag")]).toEqual([200, "", '"0"']);
    expect((await logOf(room)).head).toBe(0);
    const stub = env.Main.getByName("store-new");
    const keys = await runInDurableObject(stub, async (_room: Room, state) => [...(await state.storage.list()).keys()]);
    expect(keys.filter((key) => !key.startsWith("__ps"))).toEqual([]);
  });

  it("creates the store on the first PUT (201), then answers 205 and changes nothing", async () => {
    const room = at("store-put");
    const first = await putStore(room, CONTENT);
    expect([first.status, first.headers.get("ETag")]).toEqual([201, '"1"']);
    const again = await putStore(room, [{ other: { r: { c: 1 } } }, {}]);
    expect([again.status, again.text, again.headers.get("ETag")]).toEqual([205, "", '"1"']);
    expect(await storeOf(room)).toEqual(CONTENT);
    const log = await logOf(room);
    expect(log.events.map((event) => [event.seq, event.stream, event.type, event.data])).toEqual([[1, "$store", "$init", CONTENT]]);
  });

  it("refuses invalid content with 400 and a JSON error, and creates no store", async () => {
    const room = at("store-invalid");
    const cases: [string, string][] = [
      ["{", "invalid_json"],
      ["", "invalid_json"],
      ['{"a":1}', "invalid_content"],
      ["[{}]", "invalid_content"],
      ['[{"t":[1]},{}]', "invalid_content"],
      ['[{"t":{"r":{"c":"\\uFFFC"}}},{}]', "invalid_content"],
      ['[{},{"v":{"nested":[1]}},1]', "invalid_content"],
      ['[{"t":{"r":"x"}},{}]', "invalid_content"],
    ];
    for (const [body, code] of cases) expectError(await putStore(room, body), 400, code);
    expectError(await putStore(room, CONTENT, { "If-Match": "yesterday" }), 400, "bad_request");
    expect((await getStore(room)).text).toBe("");
    expect((await logOf(room)).head).toBe(0);
    expect((await putStore(room, CONTENT)).status).toBe(201);
  });

  it("refuses a body over the limit with 413, declared or streamed, and changes nothing", async () => {
    const limited = at("store-limit", "limited");
    const big = JSON.stringify([{ t: { r: { c: "x".repeat(2_000) } } }, {}]);
    expectError(await putStore(limited, big), 413, "too_large");
    const chunk = new TextEncoder().encode(big.slice(0, 600));
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
        controller.enqueue(chunk);
        controller.close();
      },
    });
    expectError(await call(roomUrl("store-limit", "/store", "limited"), { method: "PUT", body: streamed }), 413, "too_large");
    expectError(await postEvents(limited, { type: "big", data: "y".repeat(2_000) }), 413, "too_large");
    expect((await getStore(limited)).text).toBe("");
    expect((await logOf(limited)).head).toBe(0);
    expect((await putStore(limited, CONTENT)).status).toBe(201);
  });

  it("refuses a body one byte over the default limit with 413", async () => {
    const room = at("store-default-limit");
    const body = "[" + " ".repeat(MAX_BODY_BYTES - 6) + "{},{}]";
    expect(body.length).toBe(MAX_BODY_BYTES + 1);
    expectError(await putStore(room, body), 413, "too_large");
    expect((await getStore(room)).text).toBe("");
  });

  it("tags the store with the seq of its last $store event, and answers If-None-Match with 304", async () => {
    const room = at("store-etag");
    expect((await getStore(room, { "If-None-Match": '"0"' })).status).toBe(304);
    await putStore(room, CONTENT);
    const fresh = await getStore(room);
    expect([fresh.headers.get("ETag"), fresh.headers.get("Cache-Control")]).toEqual(['"1"', "no-store"]);
    const notModified = await getStore(room, { "If-None-Match": '"1"' });
    expect([notModified.status, notModified.text, notModified.headers.get("ETag")]).toEqual([304, "", '"1"']);
    expect((await getStore(room, { "If-None-Match": 'W/"1"' })).status).toBe(304);
    expect((await getStore(room, { "If-None-Match": '"0"' })).status).toBe(200);
    // Application events move the log head, not the store: the ETag stays.
    expect((await postEvents(room, [{ type: "a" }, { type: "b" }])).status).toBe(201);
    expect((await getStore(room, { "If-None-Match": '"1"' })).status).toBe(304);
    const replaced = await putStore(room, [{}, { open: false }], { "If-Match": '"1"' });
    expect([replaced.status, replaced.headers.get("ETag")]).toEqual([200, '"4"']);
    expect((await getStore(room, { "If-None-Match": '"1"' })).status).toBe(200);
    expect((await getStore(room)).headers.get("ETag")).toBe('"4"');
  });

  it("answers HEAD like GET, without a body", async () => {
    const room = at("store-head");
    await putStore(room, CONTENT);
    const answer = await call(roomUrl("store-head", "/store"), { method: "HEAD" });
    expect([answer.status, answer.text, answer.headers.get("ETag")]).toEqual([200, "", '"1"']);
  });

  it("replaces the whole store with If-Match (200), refuses a stale one with 412 and keeps the store", async () => {
    const room = at("store-replace");
    await putStore(room, CONTENT);
    const replacement = [{ toys: { ball: { color: "red" } } }, { open: false, size: null }];
    const replaced = await putStore(room, replacement, { "If-Match": '"1"' });
    expect([replaced.status, replaced.text, replaced.headers.get("ETag")]).toEqual([200, "", '"2"']);
    expect(await storeOf(room)).toEqual(replacement);
    expectError(await putStore(room, CONTENT, { "If-Match": '"1"' }), 412, "precondition_failed");
    expect(await storeOf(room)).toEqual(replacement);
    const log = await logOf(room);
    expect(log.events.map((event) => [event.seq, event.type, event.data])).toEqual([
      [1, "$init", CONTENT],
      [2, "$replace", replacement],
    ]);
  });

  it('creates a new room with If-Match: "0" (201) and refuses any other seq there with 412', async () => {
    const room = at("store-replace-new");
    expectError(await putStore(room, CONTENT, { "If-Match": '"3"' }), 412, "precondition_failed");
    expect((await getStore(room)).text).toBe("");
    expect((await putStore(room, CONTENT, { "If-Match": '"0"' })).status).toBe(201);
    expect(await storeOf(room)).toEqual(CONTENT);
  });
});

describe("CORS", () => {
  it("answers a preflight as a preflight, without the store", async () => {
    const room = at("cors");
    await putStore(room, CONTENT);
    const answer = await call(roomUrl("cors", "/store"), {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "if-match, content-type" },
    });
    expect(answer.status).toBe(204);
    expect(answer.text).toBe("");
    expect(answer.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(answer.headers.get("Access-Control-Allow-Methods")).toMatch(/\bPUT\b/);
    expect(answer.headers.get("Access-Control-Allow-Headers")).toBe("if-match, content-type");
    expect(Number(answer.headers.get("Access-Control-Max-Age"))).toBeGreaterThan(0);
    const events = await call(roomUrl("cors", "/events"), { method: "OPTIONS", headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST" } });
    expect([events.status, events.text, events.headers.get("Access-Control-Allow-Methods")]).toEqual([204, "", expect.stringMatching(/\bPOST\b/)]);
  });

  it("lets a browser read the store, its ETag and error bodies", async () => {
    const room = at("cors-read");
    const answer = await getStore(room, { Origin: "https://app.example" });
    expect(answer.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(answer.headers.get("Access-Control-Expose-Headers")).toMatch(/\bETag\b/);
    const failed = await putStore(room, "{", { Origin: "https://app.example" });
    expect([failed.status, failed.headers.get("Access-Control-Allow-Origin")]).toEqual([400, "*"]);
  });
});

describe("routing errors", () => {
  it("answers a path the room does not have with 404 and a JSON error", async () => {
    for (const path of ["/nope", "/store/extra", "/events/nope"]) expectError(await call(roomUrl("routes", path)), 404, "not_found");
  });

  it("answers a path outside /parties/main/:room with 404 and a JSON error", async () => {
    // (`/parties/main` itself lists the party's rooms: test/runtime/directory.test.ts.)
    for (const url of ["http://example.com/", "http://example.com/store", "http://example.com/parties/nope", "http://example.com/parties"]) {
      expectError(await call(url), 404, "not_found");
    }
  });

  it("answers a party that does not exist with 404 and a JSON error", async () => {
    expectError(await call("http://example.com/parties/nope/r1/store"), 404, "not_found");
  });

  it("answers a method the resource does not take with 405, a JSON error and an Allow header", async () => {
    for (const [method, path] of [["DELETE", "/store"], ["POST", "/store"], ["PATCH", "/events"], ["PUT", "/events"], ["POST", "/events/history"]]) {
      const answer = await call(roomUrl("methods", path), { method, body: method === "DELETE" ? undefined : "{}" });
      expectError(answer, 405, "method_not_allowed");
      expect(answer.headers.get("Allow") ?? "(no Allow header)", `${method} ${path}`).toMatch(/\bGET\b/);
    }
    // The room itself takes only DELETE (the whole room's erase).
    const root = await call(roomUrl("methods", "/"));
    expectError(root, 405, "method_not_allowed");
    expect(root.headers.get("Allow")).toBe("OPTIONS, DELETE");
    expect((await getStore(at("methods"))).text).toBe("");
    expect((await logOf(at("methods"))).head).toBe(0);
  });
});

describe("the event log over HTTP", () => {
  it("appends one event with 201 and gives it seq, id, stream, ts, tz and room", async () => {
    const room = at("events-one");
    const answer = await postEvents(room, { type: "note", data: { text: "hi", n: [1, 2] }, tz: "Europe/Paris" });
    expect(answer.status).toBe(201);
    expect(answer.headers.get("ETag")).toBe('"1"');
    const [event] = answer.json().events;
    expect(event).toEqual({ seq: 1, id: expect.any(String), stream: "default", type: "note", data: { text: "hi", n: [1, 2] }, ts: expect.any(String), tz: "Europe/Paris", room: "events-one" });
    expect(new Date(event.ts).toISOString()).toBe(event.ts);
    expect((await logOf(room)).events).toEqual([event]);
  });

  it("names the room in its events as it was named, not as its URL segment is encoded", async () => {
    const answer = await postEvents(at(encodeURIComponent("café au lait")), { type: "note" });
    expect(answer.json().events[0].room).toBe("café au lait");
  });

  it("appends an array all or nothing, in order", async () => {
    const room = at("events-many");
    const appended = await postEvents(room, [{ type: "a", stream: "s1" }, { type: "b", stream: "s2", data: 2 }, { type: "a", stream: "s1", data: null }]);
    expect(appended.status).toBe(201);
    expect(appended.json().events.map((event: any) => [event.seq, event.stream, event.type, event.data])).toEqual([
      [1, "s1", "a", null],
      [2, "s2", "b", 2],
      [3, "s1", "a", null],
    ]);
    const refused = [
      [{ type: "c" }, { type: "$changes" }],
      [{ type: "c" }, { type: "c", stream: "$store" }],
      [{ type: "c" }, { type: "" }],
      [{ type: "c" }, { type: "c", extra: 1 }],
      [{ type: "c" }, "not an event"],
      [],
    ];
    for (const body of refused) expect((await postEvents(room, body)).status, JSON.stringify(body)).toBe(400);
    expectError(await postEvents(room, { type: "$init" }), 400, "reserved_name");
    expectError(await postEvents(room, "[{"), 400, "invalid_json");
    expect((await logOf(room)).head).toBe(3);
  });

  it("refuses event data and appends over their limits with 413, appending nothing", async () => {
    const room = at("events-limits");
    expectError(await postEvents(room, { type: "big", data: "d".repeat(MAX_EVENT_DATA_CHARS) }), 413, "too_large");
    expectError(await postEvents(room, Array.from({ length: MAX_EVENTS_PER_APPEND + 1 }, () => ({ type: "many" }))), 413, "too_large");
    expect((await logOf(room)).head).toBe(0);
    expect((await postEvents(room, Array.from({ length: MAX_EVENTS_PER_APPEND }, () => ({ type: "many" })))).status).toBe(201);
  });

  it("keeps an event larger than one storage value whole, even split inside a character, across eviction", async () => {
    const room = at("events-large");
    // Emoji are two UTF-16 code units: with and without a one-unit shift, a split at a fixed
    // code-unit offset falls inside one of them.
    const data = ["\u{1F600}é".repeat(40_000), "x" + "\u{1F600}".repeat(50_000)];
    const appended = await postEvents(room, data.map((text) => ({ type: "large", data: { text } })));
    expect(appended.status).toBe(201);
    const read = async () => (await logOf(room)).events.map((event) => event.data.text);
    expect(await read()).toEqual(data);
    await evictDurableObject(env.Main.getByName("events-large"));
    expect(await read()).toEqual(data);
    expect((await getEvents(room, "?types=large&limit=1")).json().events[0].data.text).toBe(data[0]);
  });

  it("makes an append with a producer id idempotent within its stream", async () => {
    const room = at("events-idempotent");
    const first = (await postEvents(room, { type: "paid", id: "order-7", data: 1 })).json().events[0];
    const again = await postEvents(room, { type: "paid", id: "order-7", data: 2 });
    expect(again.status).toBe(201);
    expect(again.json().events[0]).toEqual(first);
    const otherStream = (await postEvents(room, { type: "paid", id: "order-7", stream: "refunds" })).json().events[0];
    expect(otherStream.seq).toBe(2);
    expect((await logOf(room)).events.map((event) => event.seq)).toEqual([1, 2]);
  });

  it("appends under If-Match only while the head is that seq (412 otherwise)", async () => {
    const room = at("events-if-match");
    expect((await postEvents(room, { type: "a" }, { "If-Match": '"0"' })).status).toBe(201);
    expectError(await postEvents(room, { type: "b" }, { "If-Match": '"0"' }), 412, "precondition_failed");
    expectError(await postEvents(room, { type: "b" }, { "If-Match": "soon" }), 400, "bad_request");
    expect((await postEvents(room, { type: "b" }, { "If-Match": '"1"' })).status).toBe(201);
    expect((await logOf(room)).events.map((event) => event.type)).toEqual(["a", "b"]);
  });

  it("reads pages by selectors, with next and head", async () => {
    const room = at("events-read");
    await putStore(room, CONTENT);
    await postEvents(room, [{ type: "a", stream: "x" }, { type: "b", stream: "x" }, { type: "a", stream: "y" }, { type: "c", stream: "y" }]);
    const seqs = async (query: string) => {
      const answer = await getEvents(room, query);
      expect(answer.status, query).toBe(200);
      const page = answer.json();
      return [page.events.map((event: any) => event.seq), page.next, page.head];
    };
    expect(await seqs("")).toEqual([[1, 2, 3, 4, 5], 5, 5]);
    expect(await seqs("?stream=x")).toEqual([[2, 3], 5, 5]);
    expect(await seqs("?types=a,c")).toEqual([[2, 4, 5], 5, 5]);
    expect(await seqs("?stream=y&types=a")).toEqual([[4], 5, 5]);
    expect(await seqs("?stream=%24store")).toEqual([[1], 5, 5]);
    expect(await seqs("?from=2&to=3")).toEqual([[2, 3], null, 5]);
    expect(await seqs("?after=2&until=5")).toEqual([[3, 4], null, 5]);
    expect(await seqs("?limit=2")).toEqual([[1, 2], 2, 5]);
    expect(await seqs("?after=2&limit=2")).toEqual([[3, 4], 4, 5]);
    expect(await seqs("?after=past-events")).toEqual([[], 5, 5]);
    expect(await seqs("?until=caught-up")).toEqual([[1, 2, 3, 4, 5], null, 5]);
    for (const query of ["?limit=0", "?limit=1001", "?from=x", "?from=1&after=1", "?colour=red", "?from=3&to=2"]) {
      expectError(await getEvents(room, query), 400, "invalid_selector");
    }
  });
});

describe("errors never show internals", () => {
  it("answers a room that cannot start with a JSON 503 and no stack trace, and tries again on the next request", async () => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const answer = await call(roomUrl("broken", "/store", "misconfigured"));
      expect(answer.status).toBe(503);
      expect(() => answer.json()).not.toThrow();
      expect(answer.json().error.code).toBe("unavailable");
    }
  });
});
