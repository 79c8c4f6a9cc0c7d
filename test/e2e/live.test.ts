// Live delivery against real servers: Server-Sent Events read by the `eventsource` package, and
// roomstore's WebSocket subscriptions and acknowledged writes over raw sockets.
import { EventSource } from "eventsource";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

interface Received {
  id: string;
  type: string;
  data: any;
}

/** An EventSource that records every event it receives, caught-up and snapshot included. */
const listen = (url: string, types: string[] = []) => {
  const source = new EventSource(url);
  const received: Received[] = [];
  for (const type of ["caught-up", "snapshot", ...types]) {
    source.addEventListener(type, (event) => received.push({ id: event.lastEventId, type, data: JSON.parse(event.data) }));
  }
  return { source, received, seqs: () => received.filter((event) => !["caught-up", "snapshot"].includes(event.type)).map((event) => event.data.seq) };
};

describe.each(["wrangler", "partykit"] as const)("Server-Sent Events under %s dev", (kind) => {
  let server: RunningServer;
  const at = (room: string, path: string) => `${server.origin}/parties/main/${room}${path}`;
  const append = async (room: string, events: unknown[]) => {
    const response = await fetch(at(room, "/events"), { method: "POST", body: JSON.stringify(events) });
    expect(response.status).toBe(201);
    return ((await response.json()) as any).events as { seq: number }[];
  };

  beforeAll(async () => {
    server = await startServer({ kind });
  });
  afterAll(async () => server?.stop());

  it("sends history, then caught-up, then live events", async () => {
    await append("sse-live", [{ type: "a" }, { type: "b" }]);
    const { source, received, seqs } = listen(at("sse-live", "/events"), ["a", "b", "c"]);
    await waitFor(() => received.length, (n) => n === 3, { what: "history and the marker" });
    expect(received.map((event) => event.type)).toEqual(["a", "b", "caught-up"]);
    expect(received[2].data).toEqual({ seq: 2 });
    await append("sse-live", [{ type: "c", data: "line one\nline two" }]);
    await waitFor(seqs, (list) => list.length === 3, { what: "the live event" });
    expect(received[3]).toMatchObject({ id: "3", type: "c", data: { seq: 3, data: "line one\nline two" } });
    source.close();
  });

  it("resumes after Last-Event-ID when the stream drops", async () => {
    await append("sse-resume", [{ type: "a" }, { type: "a" }]);
    const response = await fetch(at("sse-resume", "/events?until=caught-up"), { headers: { Accept: "text/event-stream", "Last-Event-ID": "1" } });
    const text = await response.text();
    expect(text).toContain("id: 2\nevent: a\n");
    expect(text).not.toContain("id: 1\n");
    expect(text).toContain("event: caught-up\n");
  });

  it("starts from the store with snapshot=1, then only later events", async () => {
    await fetch(at("sse-snapshot", "/store"), { method: "PUT", body: JSON.stringify([{ t: { r: { c: 1 } } }, {}]) });
    await append("sse-snapshot", [{ type: "a" }]);
    const { source, received } = listen(at("sse-snapshot", "/events?snapshot=1"), ["a", "$init"]);
    await waitFor(() => received.length, (n) => n === 3, { what: "snapshot, event and marker" });
    expect(received.map((event) => event.type)).toEqual(["snapshot", "a", "caught-up"]);
    expect(received[0].data).toEqual({ seq: 1, content: [{ t: { r: { c: 1 } } }, {}] });
    source.close();
  });

  it("gives every reader every event once, in order, while appends race the switch to live", async () => {
    const readers: ReturnType<typeof listen>[] = [];
    let appended = 0;
    for (let round = 0; round < 40; round++) {
      appended += (await append("sse-race", Array.from({ length: 5 }, () => ({ type: "r" })))).length;
      if (round % 8 === 0) readers.push(listen(at("sse-race", "/events"), ["r"]));
    }
    for (const reader of readers) {
      const seqs = await waitFor(reader.seqs, (list) => list.length >= appended, { what: "every event on every reader" });
      expect(seqs).toEqual(Array.from({ length: appended }, (_, i) => i + 1));
      reader.source.close();
    }
  });

  it("keeps serving after many readers come and go", async () => {
    const readers = Array.from({ length: 50 }, () => listen(at("sse-churn", "/events"), ["a"]));
    await waitFor(() => readers.every((reader) => reader.received.length > 0), Boolean, { what: "50 readers caught up" });
    readers.forEach((reader) => reader.source.close());
    const [event] = await append("sse-churn", [{ type: "a" }]);
    const late = listen(at("sse-churn", "/events?until=caught-up"), ["a"]);
    await waitFor(late.seqs, (list) => list.includes(event.seq), { what: "a new reader" });
    late.source.close();
  });
});

describe("WebSocket subscriptions and acknowledged writes under wrangler dev", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ kind: "wrangler" });
  });
  afterAll(async () => server?.stop());

  const connect = async (room: string) => {
    const ws = new WebSocket(`ws://${server.host}/parties/main/${room}`);
    const messages: any[] = [];
    ws.addEventListener("message", (event) => {
      const frame = String(event.data);
      if (frame.startsWith("x")) messages.push(JSON.parse(frame.slice(1)));
    });
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    return { ws, messages, send: (message: unknown) => ws.send("x" + JSON.stringify(message)) };
  };

  it("never sends more than the credit, and more after each ack", async () => {
    const writer = await connect("subs");
    writer.send({ t: "append", mid: "w1", events: Array.from({ length: 20 }, () => ({ type: "a" })) });
    await waitFor(() => writer.messages, (list) => list.some((m) => m.t === "ok"), { what: "the append's ack" });
    const reader = await connect("subs");
    reader.send({ t: "sub", sid: "s", credit: 5, selectors: { types: ["a"] } });
    const events = () => reader.messages.filter((m) => m.t === "ev").map((m) => m.e.seq);
    await waitFor(events, (list) => list.length === 5, { what: "five events" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(events()).toEqual([1, 2, 3, 4, 5]);
    reader.send({ t: "ack", sid: "s", credit: 100 });
    await waitFor(() => reader.messages, (list) => list.some((m) => m.t === "caught-up"), { what: "caught-up" });
    expect(events()).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    writer.send({ t: "append", mid: "w2", events: [{ type: "a" }] });
    await waitFor(events, (list) => list.length === 21, { what: "the live event" });
    writer.ws.close();
    reader.ws.close();
  });

  it("applies a resent write once, across a reconnect and a server restart", async () => {
    await fetch(`${server.origin}/parties/main/resend/store`, { method: "PUT", body: "[{},{}]" });
    const first = await connect("resend");
    const write = { t: "changes", mid: "m-1", changes: [{ t: { r: { n: 1 } } }, {}, 1] };
    const append = { t: "append", mid: "m-2", events: [{ type: "paid" }] };
    first.send(write);
    first.send(append);
    await waitFor(() => first.messages.filter((m) => m.t === "ok").length, (n) => n === 2, { what: "two acks" });
    const acks = first.messages.filter((m) => m.t === "ok");
    first.ws.close();
    await server.restart();
    const second = await connect("resend");
    second.send(write);
    second.send(append);
    await waitFor(() => second.messages.filter((m) => m.t === "ok").length, (n) => n === 2, { what: "two acks again" });
    expect(second.messages.filter((m) => m.t === "ok")).toEqual(acks);
    const log = (await (await fetch(`${server.origin}/parties/main/resend/events`)).json()) as any;
    expect(log.events.map((event: any) => event.type)).toEqual(["$init", "$changes", "paid"]);
    second.ws.close();
  });
});
