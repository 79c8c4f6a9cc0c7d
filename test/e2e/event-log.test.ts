// The event log over plain HTTP against real `wrangler dev` and `partykit dev`: appends, selectors,
// paging, idempotency, optimistic concurrency, history, errors, config from vars.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../support/servers.ts";

describe.each(["wrangler", "partykit"] as const)("the event log under %s dev", (kind) => {
  let server: RunningServer;
  const at = (room: string, path: string) => `${server.origin}/parties/main/${room}${path}`;
  const post = async (room: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(at(room, "/events"), { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers });
    return { status: response.status, body: (await response.json()) as any };
  };
  const page = async (room: string, query: string) => (await (await fetch(at(room, `/events?${query}`))).json()) as any;

  beforeAll(async () => {
    server = await startServer({ kind });
  });
  afterAll(async () => server?.stop());

  it("appends one event or many, all or nothing, with their seqs", async () => {
    const one = await post("append", { type: "joined", data: { who: "ada" }, tz: "Europe/Paris" });
    expect(one.status).toBe(201);
    expect(one.body.events[0]).toMatchObject({ seq: 1, stream: "default", type: "joined", data: { who: "ada" }, tz: "Europe/Paris", room: "append" });
    expect(Date.parse(one.body.events[0].ts)).toBeGreaterThan(0);
    const many = await post("append", [{ type: "a", stream: "s" }, { type: "b", stream: "s" }]);
    expect(many.body.events.map((event: any) => event.seq)).toEqual([2, 3]);
    const refused = await post("append", [{ type: "c" }, { type: "$bad" }]);
    expect([refused.status, refused.body.error.code]).toEqual([400, "reserved_name"]);
    expect((await page("append", "")).head).toBe(3);
  });

  it("makes producer ids idempotent, also after a restart, and honours If-Match", async () => {
    const first = await post("idempotent", { type: "paid", id: "order-1", stream: "orders" });
    await server.restart();
    const again = await post("idempotent", { type: "paid", id: "order-1", stream: "orders" });
    expect(again.body.events[0]).toEqual(first.body.events[0]);
    expect((await post("idempotent", { type: "x" }, { "If-Match": '"0"' })).status).toBe(412);
    expect((await post("idempotent", { type: "x" }, { "If-Match": '"1"' })).status).toBe(201);
  });

  it.each([
    ["bad JSON", "{", 400, "invalid_json"],
    ["no type", { data: 1 }, 400, "bad_request"],
    ["data over the limit", { type: "a", data: "x".repeat(300_000) }, 413, "too_large"],
  ])("refuses %s with a JSON error", async (_name, body, status, code) => {
    const refused = await post("errors", body);
    expect([refused.status, refused.body.error.code]).toEqual([status, code]);
  });

  it("selects by stream, types and range, and pages through next exactly once each", async () => {
    for (let i = 0; i < 4; i++) await post("select", [{ type: "a", stream: "s1" }, { type: "b", stream: "s2" }, { type: "c", stream: "s1" }]);
    expect((await page("select", "stream=s1&types=c")).events.map((event: any) => event.seq)).toEqual([3, 6, 9, 12]);
    expect((await page("select", "from=4&to=6")).events.map((event: any) => event.seq)).toEqual([4, 5, 6]);
    expect((await page("select", "after=10&until=12")).events.map((event: any) => event.seq)).toEqual([11]);
    expect(await page("select", "after=past-events")).toEqual({ events: [], next: 12, head: 12 });
    const seen: number[] = [];
    let query = "types=a,b&limit=3&until=caught-up";
    for (;;) {
      const read = await page("select", query);
      seen.push(...read.events.map((event: any) => event.seq));
      if (read.next === null) break;
      query = `types=a,b&limit=3&until=caught-up&after=${read.next}`;
    }
    expect(seen).toEqual([1, 2, 4, 5, 7, 8, 10, 11]);
    const bad = await fetch(at("select", "/events?from=9&to=2"));
    expect([bad.status, ((await bad.json()) as any).error.code]).toEqual([400, "invalid_selector"]);
  });

  it("logs store changes as $store events and serves a cell's history", async () => {
    await fetch(at("store-log", "/store"), { method: "PUT", body: JSON.stringify([{ t: { r: { c: 1 } } }, {}]) });
    const ws = new WebSocket(`ws://${server.host}/parties/main/store-log`);
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    ws.send("s" + JSON.stringify([{ t: { r: { c: 2 } } }, {}, 1]));
    ws.send("s" + JSON.stringify([{ t: { r: "\uFFFC" } }, {}, 1]));
    let log: any;
    for (let i = 0; i < 100 && (log = await page("store-log", "stream=$store")).events.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    ws.close();
    expect(log.events.map((event: any) => [event.type, event.data])).toEqual([
      ["$init", [{ t: { r: { c: 1 } } }, {}]],
      ["$changes", [{ t: { r: { c: 2 } } }, {}, 1]],
      ["$changes", [{ t: { r: null } }, {}, 1]],
    ]);
    const history = (await (await fetch(at("store-log", "/events/history?table=t&row=r&cell=c"))).json()) as any;
    expect(history.history).toEqual([
      { seq: 1, value: 1 },
      { seq: 2, value: 2 },
      { seq: 3, value: null },
    ]);
  });

  it("answers a CORS preflight with no body", async () => {
    const response = await fetch(at("cors", "/events"), {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST" },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(await response.text()).toBe("");
  });
});

describe("config from variables", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ kind: "wrangler", vars: { STORE_PATH: "/data", EVENTS_PATH: "/log" } });
  });
  afterAll(async () => server?.stop());

  it("moves the store and the log to the configured paths", async () => {
    const put = await fetch(`${server.origin}/parties/main/vars/data`, { method: "PUT", body: "[{},{}]" });
    expect(put.status).toBe(201);
    expect((await fetch(`${server.origin}/parties/main/vars/store`)).status).toBe(404);
    expect(((await (await fetch(`${server.origin}/parties/main/vars/log`)).json()) as any).head).toBe(1);
  });
});
