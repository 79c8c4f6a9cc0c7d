// Unmodified TinyBase 10 clients (createPartyKitPersister + PartySocket) syncing through real
// `wrangler dev` and `partykit dev` servers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../support/servers.ts";
import type { Store } from "tinybase";
import { connectTinyBase, serverContent, type TinyBaseClient } from "../support/tinybase-client.ts";
import { waitFor } from "../support/wait.ts";

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

describe.each(["wrangler", "partykit"] as const)("TinyBase clients through %s dev", (kind) => {
  let server: RunningServer;
  const clients: TinyBaseClient[] = [];
  const connect = async (room: string, setup?: (store: Store) => void) => {
    const client = await connectTinyBase(server.host, room, { setup });
    clients.push(client);
    return client;
  };
  /** Waits until every client's content equals the server's GET. */
  const converged = (room: string, group: TinyBaseClient[]) =>
    waitFor(
      async () => [await serverContent(server.origin, room), ...group.map((client) => client.store.getContent())],
      ([fromServer, ...fromClients]) => fromClients.every((content) => sameJson(sortContent(content), sortContent(fromServer))),
      { what: "clients and server to converge" },
    );

  beforeAll(async () => {
    server = await startServer({ kind });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server?.stop();
  });

  it("creates the store with the first client's save, and a second client loads it", async () => {
    const alice = await connect("first-save", (store) =>
      store.setTables({ pets: { fido: { species: "dog", legs: 4 } } }).setValues({ open: true }),
    );
    expect(await serverContent(server.origin, "first-save")).toEqual(alice.store.getContent());
    const bob = await connect("first-save");
    expect(bob.store.getContent()).toEqual([{ pets: { fido: { species: "dog", legs: 4 } } }, { open: true }]);
  });

  it("carries cell, row, table and value changes and deletions both ways", async () => {
    const alice = await connect("both-ways", (store) => store.setTables({ pets: { fido: { species: "dog" } }, toys: { ball: { colour: "red" } } }));
    const bob = await connect("both-ways");
    alice.store.setCell("pets", "fido", "legs", 4);
    bob.store.setRow("pets", "felix", { species: "cat", legs: 4 });
    bob.store.setValue("open", true);
    await converged("both-ways", [alice, bob]);
    alice.store.delCell("pets", "fido", "legs");
    bob.store.delRow("pets", "felix");
    alice.store.delTable("toys");
    bob.store.delValue("open");
    alice.store.setTable("people", { ada: { born: 1815 } });
    const [fromServer] = await converged("both-ways", [alice, bob]);
    expect(fromServer).toEqual([{ pets: { fido: { species: "dog" } }, people: { ada: { born: 1815 } } }, {}]);
  });

  it("keeps object and array cells and null values intact", async () => {
    const alice = await connect("json-cells", (store) => store.setTables({ docs: { a: { title: "A" } } }));
    const bob = await connect("json-cells");
    alice.store.setCell("docs", "a", "meta", { tags: ["x", "y"], nested: { n: 1 } } as never);
    alice.store.setCell("docs", "a", "list", [1, "two", { three: 3 }] as never);
    alice.store.setValue("nothing", null as never);
    await waitFor(() => bob.store.getCell("docs", "a", "list"), (list) => list !== undefined, { what: "the list cell on bob" });
    await converged("json-cells", [alice, bob]);
    expect(bob.store.getCell("docs", "a", "meta")).toEqual({ tags: ["x", "y"], nested: { n: 1 } });
    expect(bob.store.getCell("docs", "a", "list")).toEqual([1, "two", { three: 3 }]);
    expect(bob.store.hasValue("nothing")).toBe(true);
    expect(bob.store.getValue("nothing")).toBeNull();
  });

  it("gives a late joiner the latest state", async () => {
    const alice = await connect("late", (store) => store.setValues({ n: 0 }));
    for (let n = 1; n <= 20; n++) alice.store.setValue("n", n);
    await waitFor(() => serverContent(server.origin, "late"), (content) => content?.[1].n === 20, { what: "n = 20 on the server" });
    const late = await connect("late");
    expect(late.store.getValues()).toEqual({ n: 20 });
  });

  it("converges three clients writing bursts at once, on exactly the server's store", async () => {
    const first = await connect("bursts", (store) => store.setTables({ shared: { row: { hits: 0 } } }));
    const group = [first, await connect("bursts"), await connect("bursts")];
    group.forEach((client, i) => {
      for (let n = 0; n < 50; n++) {
        client.store.setCell("own", `client${i}`, `c${n}`, n);
        client.store.setCell("shared", "row", "hits", i * 100 + n);
        if (n % 10 === 9) client.store.delCell("own", `client${i}`, `c${n - 5}`);
      }
    });
    const [fromServer] = await converged("bursts", group);
    for (let i = 0; i < 3; i++) expect(Object.keys(fromServer![0].own[`client${i}`])).toHaveLength(45);
  });

  it("loses nothing across a server restart, and clients keep syncing after it", async () => {
    const alice = await connect("restart", (store) => store.setTables({ t: { r: { n: 1 } } }));
    const bob = await connect("restart");
    alice.store.setCell("t", "r", "m", 2);
    await converged("restart", [alice, bob]);
    const before = await serverContent(server.origin, "restart");
    const head = (await (await fetch(`${server.origin}/parties/main/restart/events`)).json() as { head: number }).head;
    await server.restart();
    expect(await serverContent(server.origin, "restart")).toEqual(before);
    expect((await (await fetch(`${server.origin}/parties/main/restart/events`)).json() as { head: number }).head).toBe(head);
    // PartySocket reconnects by itself; a change made after that reaches the other client.
    await waitFor(() => alice.socket.readyState === WebSocket.OPEN && bob.socket.readyState === WebSocket.OPEN, Boolean, { what: "sockets to reconnect" });
    bob.store.setCell("t", "r", "after", true);
    await waitFor(() => alice.store.getCell("t", "r", "after"), (value) => value === true, { what: "alice to see bob's change" });
    await converged("restart", [alice, bob]);
  });
});

/**
 * Content with keys sorted at every level, so that equal stores compare equal; object and array
 * cells, which the server keeps as TinyBase encodes them ("\uFFFD" + JSON), decoded as a client does.
 */
const sortContent = (content: unknown): unknown => {
  if (typeof content === "string" && content.startsWith("\uFFFD")) return sortContent(JSON.parse(content.slice(1)));
  if (Array.isArray(content)) return content.map(sortContent);
  if (content && typeof content === "object") {
    return Object.fromEntries(Object.keys(content).sort().map((key) => [key, sortContent((content as Record<string, unknown>)[key])]));
  }
  return content;
};
