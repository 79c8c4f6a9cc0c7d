// Live delivery against a real `wrangler dev`: roomstore's WebSocket subscriptions and acknowledged
// writes over raw sockets. (Server-Sent Events are in sse.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

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
