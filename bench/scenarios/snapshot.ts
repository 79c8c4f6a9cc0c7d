// Scenario 3: reading the whole store. Warm GET median at several sizes, and the
// first GET after the server process restarts (room and isolate both cold).
import { FIXTURE_TABLE, createTables } from "../fixtures.ts";
import { HTTP_TIMEOUT_MS, countCells, getStore, storeUrl } from "../load.ts";
import { forEachTarget, metric } from "../scenario.ts";
import type { MetricSpec, RunningTarget, RunOptions, Scenario, ScenarioContext } from "../scenario.ts";
import { median } from "../stats.ts";

const sizes = (options: RunOptions): number[] => (options.quick ? [1_000, 10_000] : [1_000, 10_000, 50_000, 100_000]);
const repetitions = (options: RunOptions): number => (options.quick ? 3 : 9);
const sizeLabel = (cells: number): string => (cells === 0 ? "empty room" : cells >= 1000 ? `${cells / 1000}k` : String(cells));

export const snapshot: Scenario = {
  name: "snapshot",
  title: "3. Snapshot GET and cold start",
  parameters: (options) => [
    `store sizes: ${sizes(options).map(sizeLabel).join(", ")} cells (one table, rows of 10 cells, half numbers, half short strings), ` +
      `created by one PUT (WS frames of 100 cells where the PUT is refused), checked by a GET before timing`,
    `warm: median of ${repetitions(options)} sequential GET /store after one untimed GET; time to the last body byte`,
    `cold: server process restarted (RunningServer.restart(), same storage), then one GET, once per size`,
    `"empty" = GET /store of a room that has no store: the per-request floor of each runtime`,
    `relay: its room is PUT the bytes of roomstore's GET at each size (generated alike without roomstore) and answers a GET with them ` +
      `from memory, after a restart from its Durable Object's storage (bench/relay/store.ts): roomstore/relay is the room's distance to the runtime's floor`,
  ],
  metrics: (options) => [
    metric("get.empty", "warm GET, empty room ms", "lower", 2),
    ...sizes(options).map((cells) => metric(`get.${cells}`, `warm GET ${sizeLabel(cells)} cells ms`, "lower", 2)),
    ...sizes(options).map((cells) => metric(`kb.${cells}`, `body ${sizeLabel(cells)} cells KB`, "none", 0)),
    metric("cold.empty", "cold GET, empty room ms", "lower", 1),
    ...sizes(options).map((cells) => metric(`cold.${cells}`, `cold GET ${sizeLabel(cells)} cells ms`, "lower", 1)),
  ] satisfies MetricSpec[],
  async run(context) {
    const { options } = context;
    /** Bytes of the relay's body at each size, checked on every GET of it. */
    const floorBytes = new Map<number, number>();
    const emptyRoom = `empty-${options.runId}`;
    await forEachTarget(context, ["get.empty"], async (target) => {
      context.sink.record(target.name, "get.empty", await warmGet(target, emptyRoom, options, 0));
    });
    for (const cells of sizes(options)) {
      await forEachTarget(context, [`get.${cells}`, `kb.${cells}`], async (target) => {
        const fixture = await context.fixtures.get(target, cells);
        if (!target.stores) floorBytes.set(cells, await putFloor(context, target, fixture.room, cells));
        else context.sink.note(`${target.name} ${sizeLabel(cells)}: filled by ${fixture.method} in ${Math.round(fixture.fillMs)} ms`);
        context.sink.record(target.name, `get.${cells}`, await warmGet(target, fixture.room, options, cells, floorBytes.get(cells)));
        context.sink.record(target.name, `kb.${cells}`, (await getStore(target.server.origin, fixture.room)).bytes / 1024);
      });
    }
    await forEachTarget(context, ["cold.empty"], async (target) => {
      context.sink.record(target.name, "cold.empty", await coldGet(context, target, emptyRoom, 0));
    });
    for (const cells of sizes(options)) {
      await forEachTarget(context, [`cold.${cells}`], async (target) => {
        if (!target.stores && !floorBytes.has(cells)) return context.sink.record(target.name, `cold.${cells}`, "n/a");
        const fixture = await context.fixtures.get(target, cells);
        context.sink.record(target.name, `cold.${cells}`, await coldGet(context, target, fixture.room, cells, floorBytes.get(cells)));
      });
    }
  },
};

/**
 * Gives the relay's room the body roomstore answers at `cells` (its fixture, cached by then), or
 * the same content serialized here when roomstore is not in the run; the body's bytes.
 */
async function putFloor(context: ScenarioContext, relay: RunningTarget, room: string, cells: number): Promise<number> {
  const roomstore = context.targets.find((target): target is RunningTarget => target.name === "roomstore" && target.server !== undefined);
  let body = JSON.stringify([createTables(cells), {}]);
  if (roomstore) {
    const fixture = await context.fixtures.get(roomstore, cells);
    body = await (await fetch(storeUrl(roomstore.server.origin, fixture.room), { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) })).text();
  }
  if (!body.includes(`"${FIXTURE_TABLE}"`)) throw new Error(`roomstore's GET of ${cells} cells is not a store`);
  const response = await fetch(storeUrl(relay.server.origin, room), { method: "PUT", body, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  if (response.status !== 201) throw new Error(`the relay's PUT /store answered ${response.status}`);
  return Buffer.byteLength(body);
}

/** `bytes`: the relay's body size, checked instead of the cells it does not count. */
async function warmGet(target: RunningTarget, room: string, options: RunOptions, cells: number, bytes?: number): Promise<number> {
  await checkedGet(target, room, cells, bytes);
  const times: number[] = [];
  for (let repetition = 0; repetition < repetitions(options); repetition++) {
    times.push((await checkedGet(target, room, cells, bytes)).ms);
  }
  return median(times);
}

async function coldGet(context: ScenarioContext, target: RunningTarget, room: string, cells: number, bytes?: number): Promise<number> {
  context.log(`${target.name}: restarting for a cold GET (${sizeLabel(cells)} cells)`);
  await target.server.restart();
  return (await checkedGet(target, room, cells, bytes)).ms;
}

async function checkedGet(target: RunningTarget, room: string, cells: number, bytes?: number): Promise<{ ms: number }> {
  const result = await getStore(target.server.origin, room);
  if (result.status !== 200) throw new Error(`GET /store answered ${result.status}`);
  if (bytes !== undefined && result.bytes !== bytes) throw new Error(`GET /store returned ${result.bytes} of ${bytes} bytes`);
  const stored = countCells(result.content);
  if (target.stores && stored !== cells) throw new Error(`GET /store returned ${stored} of ${cells} cells`);
  return result;
}
