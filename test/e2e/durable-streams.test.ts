// Durable Streams with the official client (@durable-streams/client 0.2.7) against a room under a
// real `wrangler dev`: a stream created, appended to by an IdempotentProducer and followed live
// over SSE and long-poll; the room's `$store` stream and an application stream followed live as
// read-only JSON streams of their events; a stream's events in the room's log; streams read on in
// a room imported from an export (by the command line).
import { DurableStream, IdempotentProducer, stream } from "@durable-streams/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../support/cli-run.ts";
import { createRoomHttp } from "../support/room-http.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

interface LoggedEvent {
  seq: number;
  stream: string;
  type: string;
  data: any;
}

describe("Durable Streams under wrangler dev, with the official client", () => {
  let server: RunningServer;
  const roomUrl = (room: string) => `${server.origin}/parties/main/${room}`;
  const streamUrl = (room: string, name: string) => `${roomUrl(room)}/v1/stream/${encodeURIComponent(name)}`;
  const stops: (() => void)[] = [];

  /** Follows a stream live, collecting its JSON items. */
  const follow = async <T>(url: string, live: "sse" | "long-poll", offset?: string) => {
    const items: T[] = [];
    const response = await stream<T>({ url, live, offset });
    stops.push(() => response.cancel());
    response.subscribeJson(async (batch) => {
      items.push(...batch.items);
    });
    return items;
  };

  beforeAll(async () => {
    server = await startServer({ kind: "wrangler", vars: { LONG_POLL_TIMEOUT_MS: "2000" } });
  });
  afterAll(async () => {
    for (const stop of stops) stop();
    await server?.stop();
  });

  it.each(["sse", "long-poll"] as const)("follows a stream live over %s while an idempotent producer appends to it", async (live) => {
    const room = `ds-client-${live}-${Date.now()}`;
    const url = streamUrl(room, "chat");
    const handle = await DurableStream.create({ url, contentType: "application/json" });
    await handle.append(JSON.stringify({ text: "before" }));
    const items = await follow<{ text: string }>(url, live, "-1");
    await waitFor(() => items.length, (count) => count >= 1, { what: "items" });

    const producer = new IdempotentProducer(handle, "writer-1", { autoClaim: true });
    for (const text of ["one", "two", "three"]) producer.append(JSON.stringify({ text }));
    await producer.flush();
    await producer.close();
    await waitFor(() => items.length, (count) => count >= 4, { what: "items" });
    expect(items.map((item) => item.text)).toEqual(["before", "one", "two", "three"]);

    // The same appends are events of the room's log, in the stream's own log stream; the
    // producer's close closed the stream.
    const page = await createRoomHttp(server.origin, room).request<{ events: LoggedEvent[] }>("/events", {}, "stream=%24ds%2Fchat");
    expect(page.body.events.map((event) => event.type)).toEqual(["$create", "$append", "$append", "$close"]);
    expect(page.body.events[2]!.data).toEqual({ json: [{ text: "one" }, { text: "two" }, { text: "three" }] });
    expect((await fetch(url, { method: "HEAD" })).headers.get("Stream-Closed")).toBe("true");
  });

  it("follows the room's $store stream live: each store change is one JSON item, its event", async () => {
    const room = `ds-store-${Date.now()}`;
    const http = createRoomHttp(server.origin, room);
    const put = await http.request("/store", { method: "PUT", body: JSON.stringify([{ t: { r: { c: 1 } } }, {}]) });
    expect(put.status).toBe(201);
    const items = await follow<LoggedEvent>(streamUrl(room, "$store"), "sse", "-1");
    await waitFor(() => items.length, (count) => count >= 1, { what: "items" });
    const etag = put.headers.get("ETag")!;
    const replace = await http.request("/store", { method: "PUT", headers: { "If-Match": etag }, body: JSON.stringify([{ t: { r: { c: 2 } } }, {}]) });
    expect(replace.status).toBe(200);
    await waitFor(() => items.length, (count) => count >= 2, { what: "items" });
    expect(items.map((item) => [item.stream, item.type])).toEqual([["$store", "$init"], ["$store", "$replace"]]);
    expect(items[1]!.data).toEqual([{ t: { r: { c: 2 } } }, {}]);
  });

  it("follows an application stream live over long-poll, and refuses writes to it", async () => {
    const room = `ds-app-${Date.now()}`;
    const http = createRoomHttp(server.origin, room);
    const append = (text: string) => http.request("/events", { method: "POST", body: JSON.stringify({ type: "said", stream: "lobby", data: text }) });
    expect((await append("hello")).status).toBe(201);
    const items = await follow<LoggedEvent>(streamUrl(room, "lobby"), "long-poll", "-1");
    await waitFor(() => items.length, (count) => count >= 1, { what: "items" });
    expect((await append("again")).status).toBe(201);
    await waitFor(() => items.length, (count) => count >= 2, { what: "items" });
    expect(items.map((item) => item.data)).toEqual(["hello", "again"]);

    const head = await fetch(streamUrl(room, "lobby"), { method: "HEAD" });
    expect([head.status, head.headers.get("Content-Type")]).toEqual([200, "application/json"]);
    const post = await fetch(streamUrl(room, "lobby"), { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect([post.status, post.headers.get("Allow")]).toEqual([405, "GET, HEAD, OPTIONS"]);
    const put = await fetch(streamUrl(room, "lobby"), { method: "PUT", headers: { "Content-Type": "application/json" } });
    expect(put.status).toBe(409);
    expect((await fetch(streamUrl(room, "nobody"))).status).toBe(404);
  });

  it("gives a stream deleted and created again fresh offsets: an old offset reads only the new stream", async () => {
    const room = `ds-recreate-${Date.now()}`;
    const url = streamUrl(room, "log");
    const create = (body: string) => fetch(url, { method: "PUT", headers: { "Content-Type": "text/plain" }, body });
    const first = await create("old");
    const oldOffset = first.headers.get("Stream-Next-Offset")!;
    expect(oldOffset).toMatch(/^\d{16}_\d{16}$/);
    expect((await fetch(url, { method: "DELETE" })).status).toBe(204);
    expect((await fetch(url, { method: "HEAD" })).status).toBe(404);
    const second = await create("new");
    expect(second.status).toBe(201);
    expect(second.headers.get("Stream-Next-Offset")! > oldOffset).toBe(true);
    const read = await fetch(`${url}?offset=${oldOffset}`);
    expect(await read.text()).toBe("new");
  });

  it("reads on in a room imported from an export through the command line: the same items, producers idempotent", async () => {
    const room = `ds-export-${Date.now()}`;
    const json = { "Content-Type": "application/json" };
    const produce = (at: string, seq: number, body: string) =>
      fetch(streamUrl(at, "chat"), { method: "POST", headers: { ...json, "Producer-Id": "writer-1", "Producer-Epoch": "0", "Producer-Seq": String(seq) }, body });
    await DurableStream.create({ url: streamUrl(room, "chat"), contentType: "application/json" });
    for (const [seq, text] of ["one", "two"].entries()) expect((await produce(room, seq, JSON.stringify({ text }))).status).toBe(200);
    const fork = await fetch(streamUrl(room, "chat-b"), { method: "PUT", headers: { "Stream-Forked-From": "/v1/stream/chat" } });
    expect(fork.status).toBe(201);
    await new DurableStream({ url: streamUrl(room, "chat-b"), contentType: "application/json" }).append(JSON.stringify({ text: "b" }));

    const exported = await cli(["export", roomUrl(room)]);
    expect([exported.code, exported.stderr]).toEqual([0, ""]);
    const copy = `${room}-copy`;
    const imported = await cli(["import", roomUrl(copy)], { input: exported.stdout });
    expect([imported.code, imported.stderr]).toEqual([0, ""]);
    const items = (at: string, name: string) => stream<{ text: string }>({ url: streamUrl(at, name), offset: "-1", live: false }).then((response) => response.json());
    expect(await items(copy, "chat")).toEqual([{ text: "one" }, { text: "two" }]);
    expect(await items(copy, "chat-b")).toEqual(await items(room, "chat-b"));
    // The producer's retry of its last append is a duplicate; its next seq appends, after the imported head.
    expect((await produce(copy, 1, JSON.stringify({ text: "two" }))).status).toBe(204);
    const followed = await follow<{ text: string }>(streamUrl(copy, "chat"), "sse", "-1");
    expect((await produce(copy, 2, JSON.stringify({ text: "three" }))).status).toBe(200);
    await waitFor(() => followed.length, (count) => count >= 3, { what: "items" });
    expect(followed.map((item) => item.text)).toEqual(["one", "two", "three"]);
  });
});

describe("Durable Streams under partykit dev", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ kind: "partykit", vars: { LONG_POLL_TIMEOUT_MS: "2000" } });
  });
  afterAll(() => server?.stop());

  it("creates, appends, follows live with the official client, and closes a stream", async () => {
    const url = `${server.origin}/parties/main/ds-partykit-${Date.now()}/v1/stream/chat`;
    const handle = await DurableStream.create({ url, contentType: "application/json" });
    await handle.append(JSON.stringify({ n: 1 }));
    const items: { n: number }[] = [];
    const response = await stream<{ n: number }>({ url, offset: "-1", live: "long-poll" });
    response.subscribeJson(async (batch) => {
      items.push(...batch.items);
    });
    await waitFor(() => items.length, (count) => count >= 1, { what: "items" });
    const close = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "Stream-Closed": "true" }, body: '{"n":2}' });
    expect([close.status, close.headers.get("Stream-Closed")]).toEqual([204, "true"]);
    await waitFor(() => items.length, (count) => count >= 2, { what: "items" });
    expect(items).toEqual([{ n: 1 }, { n: 2 }]);
    response.cancel();
    const sse = await (await fetch(`${url}?offset=-1&live=sse`)).text();
    expect(sse).toContain('"streamClosed":true');
    expect(sse).toContain('data:[{"n":1},{"n":2}]');
  });
});
