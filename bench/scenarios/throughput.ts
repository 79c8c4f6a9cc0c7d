// Scenario 1: throughput and fan-out. W writers pipeline one-cell change frames
// into one room with R readers; readers time each change from its send.
import { closeSockets, encodeCell, getStore, onCells, openSockets, putStore, waitFor } from "../load.ts";
import type { Content } from "../load.ts";
import { metric } from "../scenario.ts";
import type { MetricSpec, RunningTarget, RunOptions, Scenario, ScenarioContext } from "../scenario.ts";
import { forEachTarget } from "../scenario.ts";
import { createSamples, summarize } from "../stats.ts";

const TABLE = "bench";
/** Frames a writer may have sent but not yet seen arrive at reader 0. */
const WINDOW_FRAMES = 16;
const STALL_MS = 3_000;
const SEED: Content = [{ meta: { bench: { scenario: "throughput" } } }, {}];

interface Shape {
  writers: number;
  readers: number;
  framesPerWriter: number;
}

function shapes(options: RunOptions): Shape[] {
  return options.quick
    ? [
        { writers: 1, readers: 1, framesPerWriter: 200 },
        { writers: 4, readers: 4, framesPerWriter: 50 },
        { writers: 16, readers: 16, framesPerWriter: 15 },
      ]
    : [
        { writers: 1, readers: 1, framesPerWriter: 3000 },
        { writers: 4, readers: 4, framesPerWriter: 750 },
        { writers: 16, readers: 16, framesPerWriter: 200 },
      ];
}

const capMs = (options: RunOptions): number => (options.quick ? 8_000 : 30_000);
const label = (shape: Shape): string => `${shape.writers}x${shape.readers}`;

export const throughput: Scenario = {
  name: "throughput",
  title: "1. Throughput and fan-out",
  parameters: (options) => [
    ...shapes(options).map(
      (shape) => `${label(shape)}: ${shape.writers} writer socket(s) × ${shape.framesPerWriter} frames, ${shape.readers} reader socket(s)`,
    ),
    `each frame sets one new cell (table "${TABLE}", row per writer, cell per frame) to its send time; ` +
      `a writer keeps at most ${WINDOW_FRAMES} frames in flight (acknowledged by reader 0 receiving them)`,
    `writers also receive each other's frames (room broadcast); the store is created by one PUT first`,
    `run ends when every reader has every change, after ${STALL_MS} ms without progress, or at ${capMs(options)} ms`,
    `changes/s = distinct changes received per reader ÷ (last receipt − first send); latency over all readers' receipts; ` +
      `lost = sent changes missing from a GET of the store afterwards; undelivered = (change, reader) pairs never received`,
  ],
  metrics: (options) =>
    shapes(options).flatMap((shape): MetricSpec[] => {
      const l = label(shape);
      return [
        metric(`${l}.rate`, `${l} changes/s`, "higher", 0),
        metric(`${l}.p50`, `${l} latency p50 ms`, "lower", 2),
        metric(`${l}.p99`, `${l} latency p99 ms`, "lower", 2),
        metric(`${l}.lost`, `${l} lost (GET)`, "none", 0),
        metric(`${l}.undelivered`, `${l} undelivered`, "none", 0),
      ];
    }),
  async run(context) {
    for (const shape of shapes(context.options)) {
      const l = label(shape);
      const keys = ["rate", "p50", "p99", "lost", "undelivered"].map((name) => `${l}.${name}`);
      await forEachTarget(context, keys, (target) => measure(context, target, shape));
    }
  },
};

async function measure(context: ScenarioContext, target: RunningTarget, shape: Shape): Promise<void> {
  const { writers: writerCount, readers: readerCount, framesPerWriter } = shape;
  const l = label(shape);
  const room = `tp-${l}-${context.options.runId}`;
  const { origin, host } = target.server;
  const record = (name: string, value: number | string): void => context.sink.record(target.name, `${l}.${name}`, value);

  if (target.stores) {
    const status = await putStore(origin, room, SEED);
    if (status !== 201) context.sink.note(`${target.name} ${l}: PUT /store answered ${status}, expected 201`);
  }
  const readers = await openSockets(host, room, readerCount);
  const writers = await openSockets(host, room, writerCount).catch((error: unknown) => {
    closeSockets(readers);
    throw error;
  });
  try {
    const total = writerCount * framesPerWriter;
    const received = new Uint8Array(readerCount * total);
    const latencies = createSamples(readerCount * total);
    const sent = new Array<number>(writerCount).fill(0);
    const acked = new Array<number>(writerCount).fill(0);
    let receipts = 0;
    let firstSendAt = Number.NaN;
    let lastReceiveAt = Number.NaN;

    const pump = (writer: number): void => {
      while (sent[writer] < framesPerWriter && sent[writer] - acked[writer] < WINDOW_FRAMES) {
        const now = performance.now();
        if (Number.isNaN(firstSendAt)) firstSendAt = now;
        writers[writer].send(encodeCell(TABLE, `w${writer}`, `c${sent[writer]}`, Math.round(now * 1000) / 1000));
        sent[writer]++;
      }
    };
    readers.forEach((socket, reader) => {
      onCells(socket, (tableId, rowId, cellId, value) => {
        const now = performance.now();
        if (tableId !== TABLE || typeof value !== "number") return;
        const writer = Number(rowId.slice(1));
        const frame = Number(cellId.slice(1));
        if (!(writer < writerCount && frame < framesPerWriter)) return;
        const slot = reader * total + writer * framesPerWriter + frame;
        if (received[slot]) return; // a duplicate delivery counts once
        received[slot] = 1;
        receipts++;
        lastReceiveAt = now;
        latencies.add(now - value);
        if (reader === 0) {
          acked[writer]++;
          pump(writer);
        }
      });
    });

    for (let writer = 0; writer < writerCount; writer++) pump(writer);
    const outcome = await waitFor({
      done: () => receipts === readerCount * total,
      progress: () => receipts,
      stalledMs: STALL_MS,
      deadline: performance.now() + capMs(context.options),
    });
    const sentTotal = sent.reduce((sum, count) => sum + count, 0);
    if (outcome !== "done") {
      context.sink.note(`${target.name} ${l}: run ${outcome} with ${sentTotal} of ${total} frames sent, ${receipts} of ${readerCount * total} receipts`);
    }
    const seconds = (lastReceiveAt - firstSendAt) / 1000;
    const summary = summarize(latencies.values());
    record("rate", receipts > 0 ? receipts / readerCount / seconds : 0);
    record("p50", summary.count ? summary.p50 : "none received");
    record("p99", summary.count ? summary.p99 : "none received");
    record("undelivered", readerCount * sentTotal - receipts);

    if (!target.stores) {
      record("lost", "n/a");
      return;
    }
    const snapshot = await getStore(origin, room);
    const rows = snapshot.content?.[0][TABLE] ?? {};
    let present = 0;
    for (let writer = 0; writer < writerCount; writer++) {
      const row = rows[`w${writer}`] ?? {};
      for (let frame = 0; frame < sent[writer]; frame++) if (`c${frame}` in row) present++;
    }
    record("lost", sentTotal - present);
  } finally {
    closeSockets([...readers, ...writers]);
  }
}
