// Acknowledged means kept, on real workerd storage: every write the room answers as a success is
// still there after an eviction, and a write storage cannot hold is refused before anything changes.
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { foldStoreEvents } from "../support/fold.ts";
import { at, getStore, logOf, postEvents, putStore, storeOf } from "./helpers.ts";

/** A JSON array nested `depth` levels deep, as text. */
const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

describe("a write storage cannot hold", () => {
  it.each([100, 3_000, 50_000])("a cell nested %i levels deep is refused with 400, and the room keeps nothing of it", async (depth) => {
    const where = at(`deep-cell-${depth}`);
    const answer = await putStore(where, `[{"t":{"r":{"ok":1,"deep":${nested(depth)}}}},{}]`);
    expect(answer.status).toBe(400);
    expect(await storeOf(where)).toBeUndefined();
    await evictDurableObject(env.Main.getByName(where.room));
    expect(await storeOf(where)).toBeUndefined();
    expect((await logOf(where)).head).toBe(0);
  });

  it("a first PUT of a few hundred cells with one cell too deep leaves no cell behind", async () => {
    const where = at("deep-among-many");
    const row: Record<string, unknown> = {};
    for (let i = 0; i < 400; i++) row["c" + i] = i;
    const body = JSON.stringify([{ t: { r: row } }, {}]).replace('"c399":399', `"c399":${nested(3_000)}`);
    expect((await putStore(where, body)).status).toBe(400);
    await evictDurableObject(env.Main.getByName(where.room));
    expect(await storeOf(where)).toBeUndefined();
    expect((await putStore(where, [{ t: { r: { a: 1 } } }, {}])).status).toBe(201);
    const log = await logOf(where, "$store");
    expect(await storeOf(where)).toEqual(foldStoreEvents(log.events));
  });

  it.each([
    ["deeply nested event data", `[{"type":"x","data":${nested(3_000)}}]`],
    ["event data that is not a finite number", `[{"type":"x","data":{"n":1e400}}]`],
  ])("%s is refused with 400 and appends nothing", async (_, body) => {
    const where = at("bad-data-" + body.length);
    expect((await postEvents(where, body)).status).toBe(400);
    expect((await postEvents(where, [{ type: "ok" }])).status).toBe(201);
    await evictDurableObject(env.Main.getByName(where.room));
    const log = await logOf(where);
    expect(log.events.map((event) => [event.seq, event.type])).toEqual([[1, "ok"]]);
  });

  it("every write answered as a success survives an eviction, and seqs go on without a gap", async () => {
    const where = at("acked-then-evicted");
    expect((await putStore(where, [{ t: { r: { a: 1 } } }, {}])).status).toBe(201);
    expect((await putStore(where, `[{"t":{"r":{"a":${nested(3_000)}}}},{}]`, { "If-Match": '"1"' })).status).toBe(400);
    expect((await postEvents(where, [{ type: "e" }])).status).toBe(201);
    await evictDurableObject(env.Main.getByName(where.room));
    const log = await logOf(where);
    expect(log.events.map((event) => event.seq)).toEqual([1, 2]);
    expect((await getStore(where)).json()).toEqual([{ t: { r: { a: 1 } } }, {}]);
  });
});
