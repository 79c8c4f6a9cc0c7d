// Scenario 2: latency at a fixed offered load, well below saturation: the
// latency a user sees in a busy room, not the queueing of a flood.
import { closeSockets, encodeCell, onCells, openSockets, putStore, sleep, waitFor } from "../load.ts";
import type { Content } from "../load.ts";
import { forEachTarget, metric } from "../scenario.ts";
import type { RunningTarget, RunOptions, Scenario, ScenarioContext } from "../scenario.ts";
import { createSamples, summarize } from "../stats.ts";

const TABLE = "bench";
const WRITERS = 4;
const READERS = 32;
const CHANGES_PER_SECOND = 200;
const DRAIN_MS = 3_000;
const SEED: Content = [{ meta: { bench: { scenario: "fixed-load" } } }, {}];

const durationMs = (options: RunOptions): number => (options.quick ? 2_000 : 6_000);

export const fixedLoad: Scenario = {
  name: "fixed-load",
  title: "2. Latency at a fixed offered load",
  parameters: (options) => [
    `${CHANGES_PER_SECOND} changes/s in total for ${durationMs(options)} ms, open loop: ${WRITERS} writer sockets take turns ` +
      `(one one-cell frame every ${1000 / CHANGES_PER_SECOND} ms overall), ${READERS} reader sockets in the same room`,
    `latency = receive time − send time over every reader's receipts; receipts are awaited up to ${DRAIN_MS} ms after the last send`,
  ],
  metrics: () => [
    metric("p50", "latency p50 ms", "lower", 2),
    metric("p99", "latency p99 ms", "lower", 2),
    metric("max", "latency max ms", "lower", 2),
    metric("delivered", "delivered %", "higher", 2),
  ],
  async run(context) {
    await forEachTarget(context, ["p50", "p99", "max", "delivered"], (target) => measure(context, target));
  },
};

async function measure(context: ScenarioContext, target: RunningTarget): Promise<void> {
  const room = `fl-${context.options.runId}`;
  const { origin, host } = target.server;
  if (target.stores) {
    const status = await putStore(origin, room, SEED);
    if (status !== 201) context.sink.note(`${target.name}: PUT /store answered ${status}, expected 201`);
  }
  const readers = await openSockets(host, room, READERS);
  const writers = await openSockets(host, room, WRITERS).catch((error: unknown) => {
    closeSockets(readers);
    throw error;
  });
  try {
    const planned = Math.round((durationMs(context.options) * CHANGES_PER_SECOND) / 1000);
    const latencies = createSamples(planned * READERS);
    let receipts = 0;
    for (const reader of readers) {
      onCells(reader, (tableId, _rowId, _cellId, value) => {
        if (tableId !== TABLE || typeof value !== "number") return;
        receipts++;
        latencies.add(performance.now() - value);
      });
    }

    // Open loop: change k is due at start + k × interval whatever the room does.
    // A late timer sends what is overdue at once, each frame stamped when it leaves.
    const intervalMs = 1000 / CHANGES_PER_SECOND;
    const start = performance.now();
    let sent = 0;
    while (sent < planned) {
      const now = performance.now();
      while (sent < planned && start + sent * intervalMs <= now) {
        const writer = sent % WRITERS;
        writers[writer].send(encodeCell(TABLE, `w${writer}`, `c${sent}`, Math.round(performance.now() * 1000) / 1000));
        sent++;
      }
      await sleep(Math.max(0, start + sent * intervalMs - performance.now()));
    }
    await waitFor({
      done: () => receipts >= planned * READERS,
      progress: () => receipts,
      stalledMs: DRAIN_MS,
      deadline: performance.now() + DRAIN_MS,
    });
    const summary = summarize(latencies.values());
    const record = (key: string, value: number | string): void => context.sink.record(target.name, key, value);
    record("p50", summary.count ? summary.p50 : "none received");
    record("p99", summary.count ? summary.p99 : "none received");
    record("max", summary.count ? summary.max : "none received");
    record("delivered", (100 * receipts) / (planned * READERS));
  } finally {
    closeSockets([...readers, ...writers]);
  }
}
