// Scenario 7b: an import whose store is large. A synthetic export in which every event is a `$store`
// change setting a cell of its own, so that the store grows with the export, imported by one
// streamed POST {room}/import. The import folds the store into storage as it reads and never holds
// it; the room then loads it (from the log, in its ids' order) as any room loads its store. Peak
// and growth of the workerd process's resident memory while it runs. Best run alone
// (`--only import-large-store`): resident memory that earlier scenarios left is not returned.
import { metric } from "../scenario.ts";
import type { RunOptions, Scenario, ScenarioContext } from "../scenario.ts";
import { residentBytes, workerdPids } from "../../test/support/resident.ts";
import { importBody, LARGE_CELL_CHARS, onRoomstoreOnly, residentMb, syntheticExport, withPeakMemory } from "./export-import.ts";

const eventCount = (options: RunOptions) => (options.quick ? 5_000 : 50_000);
const KEYS = ["rate", "cpuRate", "peakMb", "growthMb", "storeMb"];

export const importLargeStore: Scenario = {
  name: "import-large-store",
  title: "7b. Import of a large store",
  parameters: (options) => [
    `a synthetic export of ${eventCount(options).toLocaleString("en")} $store events, each setting a new cell of ${LARGE_CELL_CHARS} characters, ` +
      "imported by one streamed POST {room}/import (the response comes once the room has loaded the store)",
    "memory: resident set (VmRSS) of the server's workerd process, sampled every 100 ms; growth = peak − before; measured on roomstore only",
    "events per workerd CPU second: the events over the CPU time (user + system) the workerd processes used meanwhile",
  ],
  metrics: () => [
    metric("rate", "import, events/s", "higher", 0),
    metric("cpuRate", "import, events per workerd CPU second", "higher", 0),
    metric("peakMb", "peak workerd RSS MB", "lower", 0),
    metric("growthMb", "peak growth of workerd RSS MB", "lower", 0),
    metric("storeMb", "the store's JSON, MB", "none", 1),
  ],
  run: (context: ScenarioContext) =>
    onRoomstoreOnly(context, KEYS, async (target) => {
      const count = eventCount(context.options);
      const room = `import-large-${context.options.runId}`;
      const pids = workerdPids(target.server.processGroup());
      const before = residentMb(pids);
      const started = performance.now();
      const imported = await withPeakMemory(pids, () => importBody(target, room, syntheticExport(count, true)));
      context.sink.record(target.name, "rate", imported.result / ((performance.now() - started) / 1000));
      context.sink.record(target.name, "cpuRate", imported.result / imported.cpuSeconds);
      context.sink.record(target.name, "peakMb", imported.peakMb);
      context.sink.record(target.name, "growthMb", imported.peakMb - before);
      const store = await fetch(`${target.server.origin}/parties/main/${room}/store`);
      context.sink.record(target.name, "storeMb", (await store.text()).length / 1e6);
      context.sink.note(`roomstore: workerd RSS ${before.toFixed(0)} MB before, ${(residentBytes(pids) / 2 ** 20).toFixed(0)} MB after`);
    }),
};
