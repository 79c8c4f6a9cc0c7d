import { describe, expect, it } from "vitest";
import { DELETED } from "../../../party/protocol.ts";
import { changesFrame, createTestRoom, receivedChanges, type TestRoom } from "../support/harness.ts";

/** Applies received TinyBase frames to a plain copy of content, as a client would: no empty row or table is kept. */
const apply = (content: [any, any], changes: any[]) => {
  const [tables, values] = content;
  for (const [tableId, table] of Object.entries<any>(changes[0])) {
    if (table === "\uFFFC") delete tables[tableId];
    else
      for (const [rowId, row] of Object.entries<any>(table)) {
        if (row === "\uFFFC") delete tables[tableId]?.[rowId];
        else
          for (const [cellId, cell] of Object.entries<any>(row)) {
            if (cell === "\uFFFC") delete tables[tableId]?.[rowId]?.[cellId];
            else ((tables[tableId] ??= {})[rowId] ??= {})[cellId] = cell;
          }
        if (tables[tableId]?.[rowId] && Object.keys(tables[tableId][rowId]).length === 0) delete tables[tableId][rowId];
      }
    if (tables[tableId] && Object.keys(tables[tableId]).length === 0) delete tables[tableId];
  }
  for (const [valueId, value] of Object.entries<any>(changes[1])) {
    if (value === "\uFFFC") delete values[valueId];
    else values[valueId] = value;
  }
};

describe("broadcast", () => {
  it("merges the changesets of one commit group into one frame per connection", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{}, {}]);
    const [alice, bob] = [room.connect("alice"), room.connect("bob")];
    await Promise.all(Array.from({ length: 20 }, (_, i) => room.room.handleMessage(alice, changesFrame([{ t: { r: { [`c${i % 5}`]: i } } }, {}, 1]))));
    expect(receivedChanges(alice)).toEqual([]);
    const frames = receivedChanges(bob);
    expect(frames.length).toBeLessThan(20);
    const seen: [any, any] = [{}, {}];
    for (const frame of frames) apply(seen, frame);
    expect(seen).toEqual(await (await room.request("GET", "/store")).json());
  });

  it("keeps a deletion followed by a set as two frames, in order", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{ t: { a: { x: 1 }, b: { x: 2 } } }, {}]);
    const [alice, bob] = [room.connect("alice"), room.connect("bob")];
    await Promise.all([
      room.room.handleMessage(alice, changesFrame([{ t: "\uFFFC" }, {}, 1])),
      room.room.handleMessage(alice, changesFrame([{ t: { c: { x: 3 } } }, {}, 1])),
    ]);
    const seen: [any, any] = [{ t: { a: { x: 1 }, b: { x: 2 } } }, {}];
    for (const frame of receivedChanges(bob)) apply(seen, frame);
    expect(seen).toEqual([{ t: { c: { x: 3 } } }, {}]);
  });

  it("makes two clients writing the same cell at once converge on the room's value", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{}, { x: 0 }]);
    const [alice, bob] = [room.connect("alice"), room.connect("bob")];
    // Each client sets x locally and sends; the room orders alice first.
    const aliceState: [any, any] = [{}, { x: 1 }];
    const bobState: [any, any] = [{}, { x: 2 }];
    await room.room.handleMessage(alice, changesFrame([{}, { x: 1 }, 1]));
    await room.room.handleMessage(bob, changesFrame([{}, { x: 2 }, 1]));
    for (const frame of receivedChanges(alice)) apply(aliceState, frame);
    for (const frame of receivedChanges(bob)) apply(bobState, frame);
    const server = await (await room.request("GET", "/store")).json();
    expect(server).toEqual([{}, { x: 2 }]);
    expect(aliceState).toEqual(server);
    expect(bobState).toEqual(server);
  });

  it("never sends a lone writer its own changes back", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{}, {}]);
    const alice = room.connect("alice");
    for (const text of ["a", "ab", "abc"]) await room.room.handleMessage(alice, changesFrame([{}, { text }, 1]));
    expect(receivedChanges(alice)).toEqual([]);
  });
});

describe("ids that look like prototypes", () => {
  it("broadcasts and stores rows and values named __proto__ as plain ids", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{}, {}]);
    const [alice, bob] = [room.connect("alice"), room.connect("bob")];
    await Promise.all([
      room.room.handleMessage(alice, 's[{"t":{"r":{"x":0}}},{},1]'),
      room.room.handleMessage(alice, 's[{"t":{"__proto__":{"c":1}}},{"__proto__":2},1]'),
      room.room.handleMessage(alice, 's[{"t":{"__proto__":{"d":3}}},{},1]'),
    ]);
    // Merging must not reach Object.prototype through a row named "__proto__".
    expect(({} as Record<string, unknown>).c).toBeUndefined();
    const stored = await (await room.request("GET", "/store")).json();
    expect(JSON.stringify(stored)).toBe('[{"t":{"r":{"x":0},"__proto__":{"c":1,"d":3}}},{"__proto__":2}]');
    expect(JSON.stringify(receivedChanges(bob))).toContain('"__proto__":{"c":1,"d":3}');
  });
});

describe("a set racing a deletion", () => {
  it("reconverges a client whose new cell lands in a row another client deleted", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{ t: { r: { a: 1 } } }, {}]);
    const [alice, bob] = [room.connect("alice"), room.connect("bob")];
    // Bob sets t/r/b locally; before his frame arrives, Alice's row deletion is committed and reaches him.
    const bobState: [any, any] = [{ t: { r: { a: 1, b: 2 } } }, {}];
    await room.room.handleMessage(alice, changesFrame([{ t: { r: "\uFFFC" } }, {}, 1]));
    await room.room.handleMessage(bob, changesFrame([{ t: { r: { b: 2 } } }, {}, 1]));
    for (const frame of receivedChanges(bob)) apply(bobState, frame);
    const server = await (await room.request("GET", "/store")).json();
    expect(server).toEqual([{ t: { r: { b: 2 } } }, {}]);
    expect(bobState).toEqual(server);
  });
});

/** A client as TinyBase's persister client is one: its own write at once, the room's frames as they arrive. */
const createClient = (room: TestRoom, id: string, content: [any, any]) => {
  const connection = room.connect(id);
  const state: [any, any] = structuredClone(content);
  let heard = 0;
  return {
    state,
    /** Applies the frames that reached it since it last listened. */
    hear() {
      const frames = receivedChanges(connection);
      for (const frame of frames.slice(heard)) apply(state, frame);
      heard = frames.length;
    },
    write(changes: any[]) {
      apply(state, changes);
      return room.room.handleMessage(connection, changesFrame(changes));
    },
  };
};

describe("a client's write racing an HTTP write", () => {
  const initial: [any, any] = [{ t: { r: { a: 0 } }, u: { r: { a: 0 } } }, { v: 0 }];
  // What PUT and PATCH run, called directly so that their place in the commit queue is the order of
  // the calls; a PUT's If-Match counts the writes queued ahead of it.
  const httpWrites: [string, (core: TestRoom["room"]["core"], queuedAhead: number) => Promise<unknown>][] = [
    ["PUT", (core, queuedAhead) => core.putStore([{ t: { r: { a: 9 } } }, {}], "test", core.log.storeSeq + queuedAhead)],
    ["PATCH", (core) => core.applyChanges([{ t: { r: { a: 9 } }, u: DELETED }, { v: DELETED }, 1], "test", { allOrNothing: true })],
  ];
  const writes: [string, any[]][] = [
    ["a cell the HTTP write sets", [{ t: { r: { a: 1 } } }, {}, 1]],
    ["a value the HTTP write deletes", [{}, { v: 1 }, 1]],
    ["a cell of a table the HTTP write deletes", [{ u: { r: { a: 1 } } }, {}, 1]],
    ["a deletion of a cell the HTTP write sets", [{ t: { r: { a: DELETED } } }, {}, 1]],
    ["a new cell in a row the HTTP write rewrites", [{ t: { r: { b: 1 } } }, {}, 1]],
  ];
  type Race = (steps: { http: (queuedAhead?: number) => Promise<unknown>; write: () => Promise<void>; hear: () => void }) => Promise<unknown>;
  const races: [string, Race][] = [
    ["committed first, its frame arriving after the write was sent", async ({ http, write }) => { await http(); await write(); }],
    ["committed first and heard before the write", async ({ http, write, hear }) => { await http(); hear(); await write(); }],
    ["committed after the write", async ({ http, write }) => { await write(); await http(); }],
    ["in the write's commit group, after it", ({ http, write }) => Promise.all([write(), http(1)])],
    ["in the write's commit group, before it", ({ http, write }) => Promise.all([http(), write()])],
  ];

  describe.each(httpWrites)("%s", (_method, http) => {
    it.each(writes.flatMap(([what, changes]) => races.map(([when, race]) => [what, when, changes, race] as const)))(
      "ends the writer of %s on the room's content, the HTTP write %s",
      async (_what, _when, changes, race) => {
        const room = await createTestRoom();
        await room.request("PUT", "/store", initial);
        const [writer, reader] = [createClient(room, "writer", initial), createClient(room, "reader", initial)];
        await race({ http: (queuedAhead = 0) => http(room.room.core, queuedAhead), write: () => writer.write(changes), hear: () => writer.hear() });
        writer.hear();
        reader.hear();
        const server = await (await room.request("GET", "/store")).json();
        expect(writer.state).toEqual(server);
        expect(reader.state).toEqual(server);
      },
    );
  });
});

describe("a client that opened after another write", () => {
  it.each([
    ["a PUT", (room: TestRoom) => room.room.core.putStore([{}, { x: 1 }], "test", room.room.core.log.storeSeq)],
    ["another client", (room: TestRoom) => room.room.handleMessage(room.connect("alice"), changesFrame([{}, { x: 1 }, 1]))],
  ])("is not sent back its write to the cells that %s wrote: it never heard that write", async (_who, write) => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{}, { x: 0 }]);
    await write(room);
    const bob = room.connect("bob");
    await room.room.handleMessage(bob, changesFrame([{}, { x: 2 }, 1]));
    expect(receivedChanges(bob)).toEqual([]);
  });
});

describe("a write racing the room's echo", () => {
  it("echoes a sender's write made before the echo of its previous write arrived", async () => {
    const room = await createTestRoom();
    await room.request("PUT", "/store", [{}, { x: 0 }]);
    const alice = room.connect("alice");
    const bob = createClient(room, "bob", [{}, { x: 0 }]);
    await room.room.handleMessage(alice, changesFrame([{}, { x: 1 }, 1]));
    // Bob's first write conflicts with Alice's and is echoed; his second is sent before that echo arrives.
    await bob.write([{}, { x: 2 }, 1]);
    await bob.write([{}, { x: 3 }, 1]);
    bob.hear();
    const server = await (await room.request("GET", "/store")).json();
    expect(server).toEqual([{}, { x: 3 }]);
    expect(bob.state).toEqual(server);
  });
});
