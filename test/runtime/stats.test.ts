// `GET {room}/stats` inside workerd: counts right after writes, connections, subscriptions and SSE
// readers; times kept across eviction; and a room that does not exist stays that way.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { waitFor } from "../support/wait.ts";
import { at, call, messageIn, openSocket, postEvents, putStore, roomUrl } from "./helpers.ts";

const statsOf = async (room: string) => {
  const answer = await call(roomUrl(room, "/stats"));
  expect(answer.status).toBe(200);
  expect(answer.headers.get("Cache-Control")).toBe("no-store");
  return answer.json();
};

const storedKeys = (room: string) =>
  runInDurableObject(env.Main.getByName(room), async (_instance: unknown, state: DurableObjectState) =>
    [...(await state.storage.list()).keys()],
  );

describe("room stats", () => {
  it("of a room that does not exist are zeros, and reading them writes nothing", async () => {
    expect(await statsOf("stats-unknown")).toEqual({
      room: "stats-unknown",
      head: 0,
      first: 1,
      events: 0,
      tables: 0,
      rows: 0,
      cells: 0,
      values: 0,
      connections: 0,
      subscriptions: 0,
      sseReaders: 0,
      created: null,
      lastWrite: null,
    });
    expect(await storedKeys("stats-unknown")).toEqual([]);
    expect((await call(roomUrl("stats-unknown", "/store"))).text).toBe("");
  });

  it("count tables, rows, cells, values and events right after each write", async () => {
    const where = at("stats-counts");
    const before = Date.now();
    expect((await putStore(where, [{ pets: { fido: { species: "dog", age: 3 }, felix: { species: "cat" } }, toys: { ball: { color: "red" } } }, { open: true }])).status).toBe(201);
    let stats = await statsOf(where.room);
    expect(stats).toMatchObject({ head: 1, first: 1, events: 1, tables: 2, rows: 3, cells: 4, values: 1 });
    expect(Date.parse(stats.created)).toBeGreaterThanOrEqual(before - 1_000);
    expect(stats.lastWrite).toBe(stats.created);

    const socket = await openSocket(where);
    socket.send("s" + JSON.stringify([{ pets: { fido: "\uFFFC" }, toys: "\uFFFC" }, { open: "\uFFFC", n: 1 }, 1]));
    await waitFor(() => statsOf(where.room), (stats) => stats.head === 2, { what: "the changeset's event" });
    expect(await statsOf(where.room)).toMatchObject({ head: 2, events: 2, tables: 1, rows: 1, cells: 1, values: 1, connections: 1 });

    expect((await postEvents(where, [{ type: "a" }, { type: "b" }])).status).toBe(201);
    stats = await statsOf(where.room);
    expect(stats).toMatchObject({ head: 4, events: 4, tables: 1, rows: 1, cells: 1 });
    expect(stats.created <= stats.lastWrite).toBe(true);
    socket.ws.close(1000);
  });

  it("count open connections, subscriptions and SSE readers as they come and go", async () => {
    const where = at("stats-readers");
    const [one, two] = [await openSocket(where), await openSocket(where)];
    one.send("x" + JSON.stringify({ t: "sub", sid: "a", credit: 10 }));
    one.send("x" + JSON.stringify({ t: "sub", sid: "b", credit: 10 }));
    await one.frame((frame) => messageIn(frame)?.t === "caught-up" && messageIn(frame).sid === "b");
    const sse = await exports.default.fetch(roomUrl(where.room, "/events"), { headers: { Accept: "text/event-stream" } });
    const reader = sse.body!.getReader();
    await reader.read();
    expect(await statsOf(where.room)).toMatchObject({ connections: 2, subscriptions: 2, sseReaders: 1 });

    await reader.cancel();
    two.ws.close(1000);
    one.send("x" + JSON.stringify({ t: "unsub", sid: "a" }));
    await waitFor(() => statsOf(where.room), (stats) => stats.connections === 1 && stats.subscriptions === 1 && stats.sseReaders === 0, { what: "readers gone" });
    one.ws.close(1000);
    await waitFor(() => statsOf(where.room), (stats) => stats.connections === 0, { what: "no connection" });
    expect((await statsOf(where.room)).subscriptions).toBe(0);
    // Reading created nothing: subscribing and streaming are reads.
    expect(await storedKeys(where.room)).toEqual([]);
  });

  it("keep the room's first and last write times across an eviction", async () => {
    const where = at("stats-evicted");
    await putStore(where, [{}, { a: 1 }]);
    await postEvents(where, { type: "later" });
    const before = await statsOf(where.room);
    await evictDurableObject(env.Main.getByName(where.room));
    const after = await statsOf(where.room);
    expect(after).toMatchObject({ head: 2, values: 1, created: before.created, lastWrite: before.lastWrite });
  });
});
