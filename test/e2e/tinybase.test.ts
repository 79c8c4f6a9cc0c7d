// Real, unmodified TinyBase 10 clients (createPartyKitPersister over PartySocket, autoPersisting)
// syncing through real `wrangler dev` and `partykit dev` servers: first save and load, changes and
// deletions both ways, object/array cells and null, late joiners, concurrent bursts, a replacing
// PUT, and a server restart on the same storage.
import type { Content, Store } from "tinybase";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { foldStoreEvents } from "../support/fold.ts";
import { createRoomHttp } from "../support/room-http.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { connectTinyBase, decodedContent, serverContent, type TinyBaseClient } from "../support/tinybase-client.ts";
import { waitFor } from "../support/wait.ts";

const JSON_CELL = "\uFFFD";

describe.each(["wrangler", "partykit"] as const)("unmodified TinyBase clients through %s dev", (kind) => {
  let server: RunningServer;
  const clients: TinyBaseClient[] = [];
  const connect = async (room: string, setup?: (store: Store) => void) => {
    const client = await connectTinyBase(server.host, room, { setup });
    clients.push(client);
    return client;
  };
  const http = (room: string) => createRoomHttp(server.origin, room);
  const fromServer = async (room: string) => decodedContent(await serverContent(server.origin, room));

  /** Waits until every client holds exactly the server's store (as the client decodes it); returns it. */
  const converged = async (room: string, group: TinyBaseClient[], what = "clients and server to converge", timeoutMs = 10_000) => {
    const [content] = await waitFor(
      async () => [await fromServer(room), ...group.map((client) => decodedContent(client.store.getContent()))],
      ([server, ...others]) => server !== undefined && others.every((content) => sameJson(content, server)),
      { what, timeoutMs },
    );
    return content as Content;
  };

  beforeAll(async () => {
    server = await startServer({ kind });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server?.stop();
  });

  it("creates the store with the first client's save, logs it as $init, and a second client loads it", async () => {
    const room = http("first-save");
    const empty = await room.getStore();
    expect([empty.status, empty.text]).toEqual([200, ""]);

    const content: Content = [{ pets: { fido: { species: "dog", legs: 4 } } }, { open: true }];
    await connect("first-save", (store) => store.setContent(content));
    expect((await room.getStore()).body).toEqual(content);

    const bob = await connect("first-save");
    expect(bob.store.getContent()).toEqual(content);
    // Bob's own first save found a store (205) and changed nothing: one $init, nothing else.
    const log = await room.allEvents();
    expect(log.map((event) => [event.stream, event.type, event.data])).toEqual([["$store", "$init", [content[0], content[1]]]]);
  });

  it("carries cell, row, table and value changes and deletions from each client to the other", async () => {
    const alice = await connect("both-ways", (store) => store.setTables({ pets: { fido: { species: "dog" } } }));
    const bob = await connect("both-ways");
    const steps: [string, TinyBaseClient, (store: Store) => void, Content][] = [
      ["alice sets a cell", alice, (s) => s.setCell("pets", "fido", "legs", 4), [{ pets: { fido: { species: "dog", legs: 4 } } }, {}]],
      ["bob sets a row", bob, (s) => s.setRow("pets", "felix", { species: "cat" }), [{ pets: { fido: { species: "dog", legs: 4 }, felix: { species: "cat" } } }, {}]],
      ["alice sets a table", alice, (s) => s.setTable("toys", { ball: { colour: "red" } }), [{ pets: { fido: { species: "dog", legs: 4 }, felix: { species: "cat" } }, toys: { ball: { colour: "red" } } }, {}]],
      ["bob sets a value", bob, (s) => s.setValue("open", true), [{ pets: { fido: { species: "dog", legs: 4 }, felix: { species: "cat" } }, toys: { ball: { colour: "red" } } }, { open: true }]],
      ["bob deletes a cell", bob, (s) => s.delCell("pets", "fido", "legs"), [{ pets: { fido: { species: "dog" }, felix: { species: "cat" } }, toys: { ball: { colour: "red" } } }, { open: true }]],
      ["alice deletes a row", alice, (s) => s.delRow("pets", "felix"), [{ pets: { fido: { species: "dog" } }, toys: { ball: { colour: "red" } } }, { open: true }]],
      ["bob deletes a table", bob, (s) => s.delTable("toys"), [{ pets: { fido: { species: "dog" } } }, { open: true }]],
      ["alice deletes a value", alice, (s) => s.delValue("open"), [{ pets: { fido: { species: "dog" } } }, {}]],
      ["alice deletes the last cell of the last row", alice, (s) => s.delCell("pets", "fido", "species"), [{}, {}]],
    ];
    for (const [what, actor, act, expected] of steps) {
      act(actor.store);
      const other = actor === alice ? bob : alice;
      await waitFor(() => other.store.getContent(), (content) => sameJson(content, expected), { what: `${what}: the other client` });
      expect(await fromServer("both-ways"), what).toEqual(expected);
    }
  });

  it("keeps object and array cells and values intact, on the other client and in the server's GET", async () => {
    const alice = await connect("json-cells", (store) => store.setTables({ docs: { a: { title: "A" } } }));
    const bob = await connect("json-cells");
    const cells = { object: { a: [1] }, nested: { tags: ["x", "y"], deep: { n: 1, none: null } }, array: [1, "two", { three: 3 }], emptyObject: {}, emptyArray: [] };
    for (const [cellId, cell] of Object.entries(cells)) alice.store.setCell("docs", "a", cellId, cell as never);
    alice.store.setValue("settings", { theme: "dark", sizes: [1, 2] } as never);
    await converged("json-cells", [alice, bob]);
    for (const [cellId, cell] of Object.entries(cells)) expect(bob.store.getCell("docs", "a", cellId), cellId).toEqual(cell);
    expect(bob.store.getValue("settings")).toEqual({ theme: "dark", sizes: [1, 2] });

    // The room keeps them as TinyBase sent them: "\uFFFD" + JSON.
    const raw = (await http("json-cells").getStore()).body as Content;
    for (const [cellId, cell] of Object.entries(cells)) expect(raw[0].docs.a[cellId]).toBe(JSON_CELL + JSON.stringify(cell));
    expect(raw[1].settings).toBe(JSON_CELL + JSON.stringify({ theme: "dark", sizes: [1, 2] }));

    // And back the other way, replacing an array by an object.
    bob.store.setCell("docs", "a", "array", { now: "an object" } as never);
    await waitFor(() => alice.store.getCell("docs", "a", "array"), (cell) => sameJson(cell, { now: "an object" }), { what: "bob's object cell on alice" });
    await converged("json-cells", [alice, bob]);
  });

  it("carries null as a real value, distinct from a deletion", async () => {
    const alice = await connect("nulls", (store) => store.setTables({ t: { r: { c: 1, keep: 1 } } }));
    const bob = await connect("nulls");
    // One transaction each, so one changeset (one frame, one $changes event) each.
    alice.store.transaction(() => alice.store.setCell("t", "r", "c", null as never).setValue("v", null as never));
    await waitFor(() => bob.store.hasValue("v"), Boolean, { what: "the null value on bob" });
    expect([bob.store.hasCell("t", "r", "c"), bob.store.getCell("t", "r", "c")]).toEqual([true, null]);
    expect(bob.store.getValue("v")).toBeNull();
    expect((await http("nulls").getStore()).body).toEqual([{ t: { r: { c: null, keep: 1 } } }, { v: null }]);

    bob.store.transaction(() => bob.store.delCell("t", "r", "c").delValue("v"));
    await waitFor(() => alice.store.hasValue("v"), (has) => !has, { what: "the deletion on alice" });
    expect(alice.store.getContent()).toEqual([{ t: { r: { keep: 1 } } }, {}]);
    expect((await http("nulls").getStore()).body).toEqual([{ t: { r: { keep: 1 } } }, {}]);
    // The log tells the two apart: "\uFFFDnull" for a real null, null for a deletion.
    const changes = (await http("nulls").allEvents("types=$changes")).map((event) => event.data);
    expect(changes).toEqual([
      [{ t: { r: { c: `${JSON_CELL}null` } } }, { v: `${JSON_CELL}null` }, 1],
      [{ t: { r: { c: null } } }, { v: null }, 1],
    ]);
  });

  it("gives a late joiner the latest state at once", async () => {
    const alice = await connect("late", (store) => store.setTables({ t: { gone: { x: 1 } } }).setValues({ n: 0 }));
    for (let n = 1; n <= 30; n++) alice.store.setValue("n", n).setCell("t", `r${n % 5}`, "last", n);
    alice.store.delRow("t", "gone").setCell("t", "doc", "json", { n: 30 } as never);
    await waitFor(() => fromServer("late"), (content: any) => content?.[1].n === 30 && content[0].t.doc !== undefined, { what: "the last change on the server" });
    const late = await connect("late");
    expect(decodedContent(late.store.getContent())).toEqual(await fromServer("late"));
    expect(late.store.getValues()).toEqual({ n: 30 });
    expect(late.store.getRowIds("t").sort()).toEqual(["doc", "r0", "r1", "r2", "r3", "r4"]);
    expect(late.store.getCell("t", "doc", "json")).toEqual({ n: 30 });
  });

  it("brings connected clients to a store that a PUT with If-Match replaced", async () => {
    const alice = await connect("replaced", (store) => store.setTables({ old: { r: { c: 1 } }, kept: { r: { c: 1 } } }).setValues({ old: true }));
    const bob = await connect("replaced");
    const room = http("replaced");
    const etag = (await room.getStore()).headers.get("ETag")!;
    const replacement: Content = [{ kept: { r: { c: 2 } }, fresh: { r: { c: "new" } } }, { fresh: 1 }];
    expect((await room.putStore(replacement, { "If-Match": etag })).status).toBe(200);
    await converged("replaced", [alice, bob], "clients to follow the replace");
    expect(alice.store.getContent()).toEqual(replacement);
    // The clients go on syncing on top of the replaced store.
    bob.store.setCell("fresh", "r", "c", "newer");
    await waitFor(() => alice.store.getCell("fresh", "r", "c"), (cell) => cell === "newer", { what: "bob's change after the replace" });
  });

  it("converges three clients writing interleaved bursts on exactly the server's store, which the log folds to", async () => {
    const first = await connect("bursts", (store) => store.setTables({ shared: { row: { hits: 0 } } }));
    const group = [first, await connect("bursts"), await connect("bursts")];
    for (let n = 0; n < 50; n++) {
      group.forEach((client, i) => {
        const store = client.store;
        switch (n % 5) {
          case 0:
          case 1:
            store.setCell("own", `client${i}`, `c${n}`, n);
            break;
          case 2:
            store.setCell("shared", "row", "hits", i * 100 + n);
            break;
          case 3:
            store.setValue("last", `client${i}-${n}`).setValue(`mine${i}`, { n } as never);
            break;
          case 4:
            store.delCell("own", `client${i}`, `c${n - 4}`).setCell("shared", `row${n % 3}`, `by${i}`, n);
            break;
        }
      });
    }
    const content = await converged("bursts", group);
    for (let i = 0; i < 3; i++) {
      // Twenty cells written, ten of them deleted again.
      expect(Object.keys(content[0].own[`client${i}`]).sort()).toEqual(Array.from({ length: 10 }, (_, k) => `c${k * 5 + 1}`).sort());
      expect(content[1][`mine${i}`]).toEqual({ n: 48 });
    }
    expect(foldStoreEvents(await http("bursts").allEvents())).toEqual((await http("bursts").getStore()).body);
  });

  it.each([
    ["a row", (store: Store) => store.delRow("t", "r")],
    ["a table", (store: Store) => store.delTable("t")],
  ])("reconverges a client whose new cell lands in %s that another client deleted while the cell was on its way", async (what, deleteIt) => {
    const name = `deleted-under-${what.replace(/\W/g, "")}`;
    const alice = await connect(name, (store) => store.setTables({ t: { r: { a: 1 } } }));
    const bob = await connect(name);
    // Bob's frames are held in transit (network latency), so that Alice's deletion is committed and
    // reaches Bob before Bob's change reaches the room.
    const held: string[] = [];
    const send = bob.socket.send.bind(bob.socket);
    bob.socket.send = (frame) => {
      held.push(String(frame));
      return true;
    };
    bob.store.setCell("t", "r", "b", 2);
    deleteIt(alice.store);
    await waitFor(() => fromServer(name), (content) => sameJson(content, [{}, {}]), { what: "the deletion on the server" });
    await waitFor(() => bob.store.hasTable("t"), (has) => !has, { what: "the deletion on bob" });
    expect(held).toHaveLength(1);
    bob.socket.send = send;
    held.forEach(send);
    await waitFor(() => fromServer(name), (content) => !sameJson(content, [{}, {}]), { what: "bob's change on the server" });
    // The room applied Bob's cell after the deletion; everyone must end with what the room has.
    // Reconverging takes one frame once the room has applied the cell: 3 s is plenty.
    const content = await converged(name, [alice, bob], "bob to reconverge with the room", 3_000);
    expect(content).toEqual([{ t: { r: { b: 2 } } }, {}]);
  });

  it("loses nothing across a server restart, and clients reconnect and keep syncing after it", async () => {
    const alice = await connect("restart", (store) => store.setTables({ t: { r: { n: 1 } } }));
    const bob = await connect("restart");
    alice.store.setCell("t", "r", "json", { list: [1, 2] } as never).setValue("nothing", null as never);
    // One after the other: deleting what it sees as a row's last cell, TinyBase sends a row deletion.
    await converged("restart", [alice, bob]);
    bob.store.setRow("t", "s", { m: 2 }).delCell("t", "r", "n");
    await converged("restart", [alice, bob]);
    const room = http("restart");
    const before = await room.getStore();
    const logBefore = await room.allEvents();
    const opens = [alice, bob].map((client) => countOpens(client));

    await server.restart();

    const after = await room.getStore();
    expect(after.text).toBe(before.text);
    expect(after.headers.get("ETag")).toBe(before.headers.get("ETag"));
    expect(await room.allEvents()).toEqual(logBefore);
    expect(foldStoreEvents(logBefore)).toEqual(after.body);

    // PartySocket reconnects by itself; changes made after that flow both ways again.
    await waitFor(() => opens.map((count) => count()), (counts) => counts.every((count) => count >= 1), { what: "both sockets to reconnect" });
    bob.store.setCell("t", "r", "after", "bob");
    await waitFor(() => alice.store.getCell("t", "r", "after"), (cell) => cell === "bob", { what: "bob's change on alice" });
    alice.store.delRow("t", "s").setValue("again", true);
    await waitFor(() => bob.store.hasRow("t", "s"), (has) => !has, { what: "alice's deletion on bob" });
    const content = await converged("restart", [alice, bob]);
    expect(content).toEqual([{ t: { r: { json: { list: [1, 2] }, after: "bob" } } }, { nothing: null, again: true }]);
    // The log goes on after the same seqs; seqs are never reused.
    const logAfter = await room.allEvents();
    expect(logAfter.slice(0, logBefore.length)).toEqual(logBefore);
    expect(logAfter.map((event) => event.seq)).toEqual(Array.from({ length: logAfter.length }, (_, i) => i + 1));
    expect(logAfter.length).toBeGreaterThan(logBefore.length);
  });

  it("applies a change made while the server was down once the client has reconnected", async () => {
    const alice = await connect("offline", (store) => store.setTables({ t: { r: { n: 1 } } }));
    const opens = countOpens(alice);
    const closed = new Promise((resolve) => alice.socket.addEventListener("close", resolve, { once: true }));
    const restarted = server.restart();
    await closed;
    // PartySocket queues what is sent while it is closed and sends it once it has reconnected.
    alice.store.setCell("t", "r", "n", 2);
    await restarted;
    await waitFor(opens, (count) => count >= 1, { what: "the socket to reconnect" });
    await waitFor(() => fromServer("offline"), (content) => sameJson(content, [{ t: { r: { n: 2 } } }, {}]), { what: "the offline change on the server" });
    expect((await http("offline").allEvents()).map((event) => event.type)).toEqual(["$init", "$changes"]);
  });
});

const sameJson = (a: unknown, b: unknown) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
const sortKeys = (thing: unknown): unknown =>
  Array.isArray(thing)
    ? thing.map(sortKeys)
    : thing !== null && typeof thing === "object"
      ? Object.fromEntries(Object.keys(thing).sort().map((key) => [key, sortKeys((thing as Record<string, unknown>)[key])]))
      : thing;

/** Counts the socket's opens from now on (reconnects). */
const countOpens = (client: TinyBaseClient) => {
  let opens = 0;
  client.socket.addEventListener("open", () => opens++);
  return () => opens;
};
