// Server-Sent Events from real `wrangler dev` and `partykit dev` servers, read with the real
// `eventsource` package (v5) and, where EventSource hides what matters (the server ending the
// stream, exact request headers), with a plain fetch stream: history, the caught-up marker, live
// events, until=caught-up, Last-Event-ID, snapshot=1, readers racing a writer, and reader churn.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRoomHttp } from "../support/room-http.ts";
import { errorLines } from "../support/server-output.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { listen, openSseStream, type Listener, type SseStream } from "../support/sse.ts";
import { waitFor } from "../support/wait.ts";

const JSON_CELL = "\uFFFD";

/** The records a stream sent, as [id, event, parsed data]. */
const recordsOf = (stream: SseStream) => stream.records.map((record) => [record.id, record.type, JSON.parse(record.data)]);

describe.each(["wrangler", "partykit"] as const)("Server-Sent Events under %s dev", (kind) => {
  let server: RunningServer;
  const open: { close(): void }[] = [];
  const http = (room: string) => createRoomHttp(server.origin, room);
  const listenTo = (room: string, query: string, types: string[]): Listener => {
    const listener = listen(http(room).eventsUrl(query), types);
    open.push(listener);
    return listener;
  };
  const stream = async (room: string, query: string, headers: Record<string, string> = {}) => {
    const opened = await openSseStream(http(room).eventsUrl(query), headers);
    open.push(opened);
    return opened;
  };
  const openSocket = (room: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(`ws://${server.host}/parties/main/${room}`);
      socket.addEventListener("open", () => resolve(socket));
      socket.addEventListener("error", () => reject(new Error("socket failed")));
    });

  beforeAll(async () => {
    server = await startServer({ kind });
  });
  afterEach(() => {
    for (const thing of open.splice(0)) thing.close();
  });
  afterAll(async () => server?.stop());

  it("sends the selected history, then a caught-up marker, then live events as they are appended", async () => {
    const room = http("live");
    await room.appendOk([{ type: "a", stream: "s1", data: { n: 1 } }, { type: "b", stream: "s2", data: "line one\nline two\r\nline three" }]);
    const all = listenTo("live", "", ["a", "b", "$init", "$changes"]);
    const filtered = listenTo("live", "stream=s1&types=a", ["a", "b", "$changes"]);
    await waitFor(() => [all, filtered].every((reader) => reader.received.some((event) => event.type === "caught-up")), Boolean, { what: "both readers caught up" });
    const history = (await room.page()).body.events;
    // Each record is id: seq, event: type, data: the stored event, multi-line data intact.
    expect(all.received).toEqual([
      { id: "1", type: "a", data: history[0] },
      { id: "2", type: "b", data: history[1] },
      { id: "2", type: "caught-up", data: { seq: 2 } },
    ]);
    expect(all.received[1].data.data).toBe("line one\nline two\r\nline three");
    expect(filtered.received.map((event) => [event.type, event.data.seq])).toEqual([["a", 1], ["caught-up", 2]]);

    await room.appendOk([{ type: "b", stream: "s2" }, { type: "a", stream: "s1" }, { type: "a", stream: "s2" }]);
    await room.putStore([{ t: { r: { c: 1 } } }, {}]);
    const socket = await openSocket("live");
    socket.send("s" + JSON.stringify([{ t: { r: { c: 2 } } }, {}, 1]));
    await waitFor(all.seqs, (seqs) => seqs.length === 7, { what: "the live events" });
    socket.close();
    const log = (await room.page()).body.events;
    expect(all.received.slice(3)).toEqual(log.slice(2).map((event) => ({ id: String(event.seq), type: event.type, data: event })));
    await waitFor(filtered.seqs, (seqs) => seqs.length === 2, { what: "the live event on the filtered reader" });
    expect(filtered.seqs()).toEqual([1, 4]);
  });

  it("answers with an event stream that ends after the caught-up marker with until=caught-up", async () => {
    const room = http("until-caught-up");
    await room.appendOk([{ type: "a" }, { type: "b" }, { type: "a" }]);
    const reader = await stream("until-caught-up", "until=caught-up&types=a");
    expect(reader.response.status).toBe(200);
    expect(reader.response.headers.get("Content-Type")).toMatch(/^text\/event-stream/);
    expect(reader.response.headers.get("Cache-Control")).toMatch(/no-cache/);
    expect(await reader.ended).toBe(true);
    expect(reader.records.map((record) => [record.id, record.type])).toEqual([["1", "a"], ["3", "a"], ["", "caught-up"]]);
    expect(JSON.parse(reader.records[2].data)).toEqual({ seq: 3 });
    // A reconnect delay for EventSource, as the server's `retry:` field.
    expect(reader.retry.map(Number).every((ms) => ms > 0)).toBe(true);
    expect(reader.retry.length).toBeGreaterThan(0);
  });

  it("ends a stream whose to lies beyond the head once it has sent that seq live", async () => {
    const room = http("to-beyond");
    await room.appendOk({ type: "a" });
    const reader = await stream("to-beyond", "to=3");
    await waitFor(() => reader.records.length, (n) => n === 2, { what: "history and caught-up" });
    await room.appendOk([{ type: "a" }, { type: "a" }, { type: "a" }]);
    expect(await reader.ended).toBe(true);
    expect(reader.records.map((record) => [record.id, record.type])).toEqual([["1", "a"], ["", "caught-up"], ["2", "a"], ["3", "a"]]);
  });

  it("resumes after the Last-Event-ID header, instead of from or from the start", async () => {
    const room = http("resume-header");
    await room.appendOk([{ type: "a" }, { type: "a" }, { type: "a" }, { type: "a" }]);
    const reader = await stream("resume-header", "from=1&until=caught-up", { "Last-Event-ID": "2" });
    expect(await reader.ended).toBe(true);
    expect(recordsOf(reader).map(([id, type]) => [id, type])).toEqual([["3", "a"], ["4", "a"], ["", "caught-up"]]);
    const bad = await room.request("/events", { headers: { Accept: "text/event-stream", "Last-Event-ID": "two" } });
    expect([bad.status, bad.body?.error?.code]).toEqual([400, "invalid_selector"]);
  });

  it("resumes where it left off when EventSource reconnects with Last-Event-ID", async () => {
    const room = http("resume-reconnect");
    await room.appendOk([{ type: "a" }, { type: "a" }]);
    // With until=caught-up the server ends each stream after the marker, and EventSource
    // reconnects by itself, sending the last id it saw.
    const reader = listenTo("resume-reconnect", "until=caught-up", ["a"]);
    await waitFor(() => reader.received.length, (n) => n === 3, { what: "the first stream" });
    await room.appendOk([{ type: "a" }, { type: "a" }]);
    await waitFor(() => reader.received.filter((event) => event.type === "caught-up").length, (n) => n === 2, { what: "the stream after the reconnect" });
    reader.close();
    expect(reader.lastEventIds.slice(0, 2)).toEqual([undefined, "2"]);
    expect(reader.received.map((event) => [event.type, event.data.seq])).toEqual([
      ["a", 1],
      ["a", 2],
      ["caught-up", 2],
      ["a", 3],
      ["a", 4],
      ["caught-up", 4],
    ]);
  });

  it("starts with the store's snapshot for snapshot=1, then only the events after it", async () => {
    const room = http("snapshot");
    await room.putStore([{ t: { r: { c: 1, json: `${JSON_CELL}{"a":[1]}` } } }, { v: null }]);
    await room.appendOk({ type: "note", data: 2 });
    const socket = await openSocket("snapshot");
    socket.send("s" + JSON.stringify([{ t: { r: { c: 2 } } }, {}, 1]));
    await waitFor(() => room.head(), (head) => head === 3, { what: "the change" });
    await room.appendOk({ type: "note", data: 4 });

    const reader = listenTo("snapshot", "snapshot=1", ["note", "$init", "$changes"]);
    await waitFor(() => reader.received.length, (n) => n === 3, { what: "snapshot, event and marker" });
    const store = (await room.getStore()).body;
    expect(reader.received).toEqual([
      { id: "", type: "snapshot", data: { seq: 3, content: store } },
      { id: "4", type: "note", data: expect.objectContaining({ seq: 4, data: 4 }) },
      { id: "4", type: "caught-up", data: { seq: 4 } },
    ]);
    expect(store).toEqual([{ t: { r: { c: 2, json: `${JSON_CELL}{"a":[1]}` } } }, { v: null }]);

    socket.send("s" + JSON.stringify([{ t: { r: { c: 3 } } }, {}, 1]));
    await room.appendOk({ type: "note", data: 6 });
    await waitFor(reader.seqs, (seqs) => seqs.length === 3, { what: "the live events" });
    socket.close();
    expect(reader.received.slice(3).map((event) => [event.type, event.data.seq, event.data.data])).toEqual([
      ["$changes", 5, [{ t: { r: { c: 3 } } }, {}, 1]],
      ["note", 6, 6],
    ]);
    // A reader that resumes gets no snapshot, only what it missed.
    const resumed = await stream("snapshot", "snapshot=1&until=caught-up", { "Last-Event-ID": "5" });
    expect(await resumed.ended).toBe(true);
    expect(resumed.records.map((record) => [record.id, record.type])).toEqual([["6", "note"], ["", "caught-up"]]);
  });

  it("gives readers that connect while a writer appends every event once, in order, with no gap", async () => {
    const room = http("race");
    const total = 200;
    let issued = 0;
    const write = async () => {
      while (issued < total) {
        issued++;
        await room.appendOk({ type: "r" });
      }
    };
    // Four appends in flight at a time; readers join at different moments along the way.
    const writing = Promise.all([write(), write(), write(), write()]);
    const readers: Listener[] = [];
    for (const moment of [0, 20, 50, 80, 110, 140, 170, total]) {
      await waitFor(() => issued, (n) => n >= moment, { what: `append ${moment}` });
      readers.push(listenTo("race", "", ["r"]));
    }
    const latecomer = listenTo("race", "after=past-events", ["r"]);
    await writing;
    const last = await room.appendOk({ type: "r" });
    expect(last[0].seq).toBe(total + 1);

    for (const reader of [...readers, latecomer]) {
      await waitFor(reader.seqs, (seqs) => seqs.at(-1) === total + 1, { what: "the last event on every reader" });
    }
    for (const reader of readers) {
      expect(reader.seqs()).toEqual(Array.from({ length: total + 1 }, (_, i) => i + 1));
      // The marker sits exactly between history and live: its seq is the last one before it.
      const marker = reader.received.findIndex((event) => event.type === "caught-up");
      expect(reader.received[marker].data.seq).toBe(marker);
    }
    const [marker, ...rest] = latecomer.received;
    expect(marker.type).toBe("caught-up");
    expect(rest.map((event) => event.data.seq)).toEqual(Array.from({ length: total + 1 - marker.data.seq }, (_, i) => marker.data.seq + 1 + i));
  });

  /**
   * After readers of `name` went away: its `head` events of type "a" are all there to a new reader,
   * which then gets the next one live, and the room logged no error while they went. (`partykit
   * dev`'s own runtime may log each disconnect as "Network connection lost." whatever the room
   * does, see server-output.ts: those lines are not the room's.)
   */
  const expectServingAfterChurn = async (name: string, head: number, outputBefore: number) => {
    const room = http(name);
    expect((await room.page()).body.head).toBe(head);
    const history = await stream(name, "until=caught-up");
    expect(await history.ended).toBe(true);
    expect(history.records.map((record) => record.type)).toEqual([...Array(head).fill("a"), "caught-up"]);
    const live = listenTo(name, "after=past-events", ["a"]);
    await waitFor(() => live.received.length, (n) => n === 1, { what: "the new reader caught up" });
    await room.appendOk({ type: "a" });
    await waitFor(live.seqs, (seqs) => seqs.length === 1, { what: "a live event on the new reader" });
    expect(live.seqs()).toEqual([head + 1]);
    expect(errorLines(server.output().slice(outputBefore))).toEqual([]);
  };

  it("keeps appending and serving after 50 readers connect and go away, and a new reader works", async () => {
    const room = http("churn");
    await room.appendOk({ type: "a" });
    const outputBefore = server.output().length;
    const readers = Array.from({ length: 50 }, () => listenTo("churn", "", ["a"]));
    await waitFor(() => readers.filter((reader) => reader.received.length === 2).length, (n) => n === 50, { what: "50 readers caught up" });
    readers.forEach((reader) => reader.close());

    for (let i = 0; i < 10; i++) await room.appendOk({ type: "a" });
    await expectServingAfterChurn("churn", 11, outputBefore);
    // The readers that closed got nothing after they closed.
    expect(readers.every((reader) => reader.seqs().length === 1)).toBe(true);
  });

  it("keeps appending and serving when 50 readers go away before they caught up, while a writer appends", async () => {
    const room = http("churn-early");
    await room.appendOk(Array.from({ length: 20 }, () => ({ type: "a" })));
    const outputBefore = server.output().length;
    const writing = (async () => {
      for (let i = 0; i < 10; i++) await room.appendOk({ type: "a" });
    })();
    // Each reader goes as soon as its response starts, while its feed may still be reading history.
    const readers = await Promise.all(Array.from({ length: 50 }, () => stream("churn-early", "")));
    readers.forEach((reader) => reader.close());
    await writing;
    await expectServingAfterChurn("churn-early", 30, outputBefore);
  });

  it.each([
    ["limit=0", {}],
    ["snapshot=2", {}],
    ["colour=red", {}],
    ["", { "Last-Event-ID": "-1" }],
  ])("refuses ?%s with a JSON 400, not a stream", async (query, headers) => {
    const answer = await http("bad-sse").request("/events", { headers: { Accept: "text/event-stream", ...headers } }, query);
    expect([answer.status, answer.body?.error?.code]).toEqual([400, "invalid_selector"]);
    expect(answer.headers.get("Content-Type")).toMatch(/^application\/json/);
  });
});
