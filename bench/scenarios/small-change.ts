// Scenario 4: the cost of one small change as the store grows. One writer sets
// one cell of an existing row; the next change leaves only once a reader has the
// previous one, so each sample is one unloaded round trip through the room.
import { closeSockets, encodeCell, onCells, openSockets } from "../load.ts";
import { FIXTURE_TABLE } from "../fixtures.ts";
import { forEachTarget, metric } from "../scenario.ts";
import type { MetricSpec, RunningTarget, RunOptions, Scenario, ScenarioContext } from "../scenario.ts";
import { summarize } from "../stats.ts";

const WARMUP_CHANGES = 10;
const RECEIVE_TIMEOUT_MS = 5_000;
const PROBE_ROW = "r0";
const PROBE_CELL = "probe";

const sizes = (options: RunOptions): number[] => (options.quick ? [1_000, 10_000] : [1_000, 100_000]);
const samples = (options: RunOptions): number => (options.quick ? 30 : 300);
const sizeLabel = (cells: number): string => `${cells / 1000}k`;

export const smallChange: Scenario = {
  name: "small-change",
  title: "4. One small change as the store grows",
  parameters: (options) => [
    `rooms pre-filled with ${sizes(options).map(sizeLabel).join(" and ")} cells (the snapshot scenario's fixtures); ` +
      `the relay stores nothing, so its figures are the transport floor at any size`,
    `one writer socket sets cell "${PROBE_CELL}" of row "${PROBE_ROW}" to a new number, one reader socket receives it; ` +
      `${WARMUP_CHANGES} untimed, then ${samples(options)} timed, strictly one at a time`,
    `growth = median at ${sizeLabel(sizes(options).at(-1) ?? 0)} ÷ median at ${sizeLabel(sizes(options)[0])}`,
  ],
  metrics: (options) => [
    ...sizes(options).flatMap((cells): MetricSpec[] => [
      metric(`p50.${cells}`, `round trip at ${sizeLabel(cells)} cells, median ms`, "lower", 2),
      metric(`p99.${cells}`, `round trip at ${sizeLabel(cells)} cells, p99 ms`, "lower", 2),
    ]),
    metric("growth", "growth (largest ÷ smallest median)", "lower", 2),
  ],
  async run(context) {
    const all = sizes(context.options);
    const medians = new Map<string, number[]>();
    for (const cells of all) {
      await forEachTarget(context, [`p50.${cells}`, `p99.${cells}`], async (target) => {
        const summary = await measure(context, target, cells);
        context.sink.record(target.name, `p50.${cells}`, summary.p50);
        context.sink.record(target.name, `p99.${cells}`, summary.p99);
        medians.set(target.name, [...(medians.get(target.name) ?? []), summary.p50]);
      });
    }
    for (const target of context.targets) {
      const figures = medians.get(target.name);
      if (figures?.length === all.length) context.sink.record(target.name, "growth", figures[all.length - 1] / figures[0]);
      else context.sink.record(target.name, "growth", "—");
    }
  },
};

async function measure(context: ScenarioContext, target: RunningTarget, cells: number): Promise<ReturnType<typeof summarize>> {
  const fixture = await context.fixtures.get(target, cells);
  const [writer, reader] = await openSockets(target.server.host, fixture.room, 2);
  try {
    // The round trip is taken in the message callback, not by polling, so that
    // timer granularity (~1 ms in Node) stays out of a figure of a few ms.
    let pending: { sentAt: number; resolve: (ms: number) => void } | undefined;
    onCells(reader, (tableId, rowId, cellId, value) => {
      if (tableId === FIXTURE_TABLE && rowId === PROBE_ROW && cellId === PROBE_CELL && value === pending?.sentAt) {
        pending.resolve(performance.now() - pending.sentAt);
        pending = undefined;
      }
    });
    const times: number[] = [];
    for (let change = 0; change < WARMUP_CHANGES + samples(context.options); change++) {
      const sentAt = Math.round(performance.now() * 1000) / 1000;
      let timer: NodeJS.Timeout | undefined;
      const roundTrip = new Promise<number>((resolve, reject) => {
        pending = { sentAt, resolve };
        timer = setTimeout(() => reject(new Error(`change ${change} not received within ${RECEIVE_TIMEOUT_MS} ms`)), RECEIVE_TIMEOUT_MS);
      });
      writer.send(encodeCell(FIXTURE_TABLE, PROBE_ROW, PROBE_CELL, sentAt));
      try {
        const ms = await roundTrip;
        if (change >= WARMUP_CHANGES) times.push(ms);
      } finally {
        clearTimeout(timer);
      }
    }
    return summarize(times);
  } finally {
    closeSockets([writer, reader]);
  }
}
