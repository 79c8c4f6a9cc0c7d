// The store keeps TinyBase's insertion order of tables, rows, cells and values when the room is
// evicted and loads again, whether it loads from its snapshot or from its log, and through an
// export and an import into another room: the store's body is the same, byte for byte.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { waitFor } from "../support/wait.ts";
import { call, roomUrl } from "./helpers.ts";

const ROW_IDS = ["seed", "r0", "r1", "r10", "r11", "r2", "12", "3"];

const storeBody = async (room: string) => (await call(roomUrl(room, "/store"))).text;

/** A room whose rows were added in an order that is not their key order. */
const seed = async (room: string) => {
  expect((await call(roomUrl(room, "/store"), { method: "PUT", body: JSON.stringify([{ t: { seed: { n: 0 } } }, { z: 1, a: 2 }]) })).status).toBe(201);
  const ws = (await exports.default.fetch(roomUrl(room), { headers: { Upgrade: "websocket" } })).webSocket!;
  ws.accept();
  // One socket: its frames apply in the order sent.
  for (const id of ROW_IDS.slice(1)) ws.send("s" + JSON.stringify([{ t: { [id]: { n: id } } }, {}, 1]));
  await waitFor(async () => Object.keys(JSON.parse((await storeBody(room)) || "[{}]")[0].t ?? {}).length, (rows) => rows === ROW_IDS.length, { what: "every row" });
  ws.close();
};

describe("key order", () => {
  it("survives eviction, with and without a snapshot, byte for byte", async () => {
    await seed("order-evict");
    const before = await storeBody("order-evict");
    const rows = Object.keys(JSON.parse(before)[0].t);
    // JSON.parse lists array-index ids first; the body itself lists rows as they were added.
    expect(before.indexOf('"seed"')).toBeLessThan(before.indexOf('"r0"'));
    expect(before.indexOf('"r10"')).toBeLessThan(before.indexOf('"r2"'));
    expect(before.indexOf('"r2"')).toBeLessThan(before.indexOf('"12"'));
    expect(rows.length).toBe(ROW_IDS.length);
    const stub = env.Main.getByName("order-evict");
    await evictDurableObject(stub);
    expect(await storeBody("order-evict")).toBe(before);
    // The load above wrote a snapshot; without it the room loads from its log.
    await evictDurableObject(stub);
    expect(await storeBody("order-evict")).toBe(before);
    await runInDurableObject(stub, async (_room: unknown, state: DurableObjectState) => {
      await state.storage.delete(["k", "k.0"]);
    });
    await evictDurableObject(stub);
    expect(await storeBody("order-evict")).toBe(before);
  });

  it("survives an export and an import into another room, byte for byte", async () => {
    await seed("order-source");
    const text = (await call(roomUrl("order-source", "/export"))).text;
    expect((await call(roomUrl("order-target", "/import"), { method: "POST", body: text })).status).toBe(201);
    const before = await storeBody("order-source");
    expect(await storeBody("order-target")).toBe(before);
    await evictDurableObject(env.Main.getByName("order-target"));
    expect(await storeBody("order-target")).toBe(before);
  });
});
