// Scenario 9: what the webhooks cost. Changes/s of one pipelining writer without a validation
// webhook (the roomstore target) and with one answering in about 1 ms (a second wrangler dev
// started with VALIDATE_URL), in the same run; and the delivery webhook's lag at a steady
// 200 changes/s (a third, with WEBHOOK_URL). Both services are Node HTTP servers in this process.
import { startServer, type RunningServer } from "../../test/support/servers.ts";
import { startReceiver, type Receiver } from "../../test/support/webhook-receiver.ts";
import { closeSockets, encodeCell, onCells, openSockets, putStore, sleep, waitFor } from "../load.ts";
import { metric, ratioMetric } from "../scenario.ts";
import type { RunOptions, Scenario, ScenarioContext } from "../scenario.ts";
import { summarize } from "../stats.ts";

const TABLE = "bench";
const WINDOW_FRAMES = 16;
const STALL_MS = 5_000;
/** How long the validation service waits before it accepts. */
const VALIDATOR_DELAY_MS = 1;
const LAG_RATE_PER_SECOND = 200;

const throughputChanges = (options: RunOptions): number => (options.quick ? 300 : 2_000);
const lagChanges = (options: RunOptions): number => (options.quick ? 400 : 2_000);

const KEYS = ["rate.none", "rate.validated", "rate.ratio", "lag.p50", "lag.p99"];

export const webhooks: Scenario = {
  name: "webhooks",
  title: "9. Webhooks: a validation service in the write path, delivery lag",
  parameters: (options) => [
    `changes/s: one writer socket sends ${throughputChanges(options)} one-cell changes, at most ${WINDOW_FRAMES} in flight (acknowledged by a reader socket receiving them); ` +
      `"none": the roomstore target; "validated": a wrangler dev of the same code with VALIDATE_URL, a Node service that accepts after a ${VALIDATOR_DELAY_MS} ms timer`,
    `delivery lag: ${lagChanges(options)} one-cell changes at ${LAG_RATE_PER_SECOND}/s into a wrangler dev with WEBHOOK_URL and WEBHOOK_SECRET (a Node receiver answering 200 at once); ` +
      `lag = receipt of the change's $changes event at the receiver − its send`,
    "the other targets have no webhooks: n/a",
  ],
  metrics: () => [
    metric("rate.none", "changes/s, no validator", "higher", 0),
    metric("rate.validated", "changes/s, ~1 ms validator", "higher", 0),
    ratioMetric("rate.ratio", "validated ÷ none"),
    metric("lag.p50", "delivery lag p50 ms (200 changes/s)", "lower", 1),
    metric("lag.p99", "delivery lag p99 ms (200 changes/s)", "lower", 1),
  ],
  async run(context) {
    for (const target of context.targets) if (target.name !== "roomstore") for (const key of KEYS) context.sink.record(target.name, key, "n/a");
    const plain = context.targets.find((target) => target.name === "roomstore");
    if (!plain?.server) return context.sink.fail("roomstore", KEYS, plain?.startError ?? "the roomstore target is not running");
    const lags: number[] = [];
    const validator = await startReceiver(() => ({ delayMs: VALIDATOR_DELAY_MS, body: { accept: true } }));
    const receiver = await startReceiver(({ json }) => {
      const now = performance.now();
      for (const event of json?.events ?? []) {
        const cells = event.type === "$changes" ? event.data?.[0]?.[TABLE]?.lag : undefined;
        for (const sentAt of Object.values(cells ?? {})) if (typeof sentAt === "number") lags.push(now - sentAt);
      }
      return {};
    });
    const servers: RunningServer[] = [];
    try {
      const none = await changesPerSecond(context, plain.server, `wh-none-${context.options.runId}`);
      context.sink.record("roomstore", "rate.none", none);
      const validated = await startServer({ kind: "wrangler", vars: { VALIDATE_URL: `${validator.origin}/validate` } });
      servers.push(validated);
      const withValidator = await changesPerSecond(context, validated, `wh-validated-${context.options.runId}`);
      context.sink.record("roomstore", "rate.validated", withValidator);
      context.sink.record("roomstore", "rate.ratio", withValidator / none);
      context.sink.note(`validation requests answered: ${validator.requests.length}`);

      const delivering = await startServer({ kind: "wrangler", vars: { WEBHOOK_URL: `${receiver.origin}/deliver`, WEBHOOK_SECRET: "bench" } });
      servers.push(delivering);
      await measureLag(context, delivering, `wh-lag-${context.options.runId}`, lags);
      const summary = summarize(lags);
      context.sink.record("roomstore", "lag.p50", summary.p50);
      context.sink.record("roomstore", "lag.p99", summary.p99);
      context.sink.note(`delivery requests: ${receiver.requests.length} for ${lags.length} changes (${(lags.length / Math.max(receiver.requests.length, 1)).toFixed(1)} per request)`);
    } catch (error) {
      context.sink.fail("roomstore", KEYS, error);
    } finally {
      await Promise.allSettled([...servers.map((server) => server.stop()), validator.close(), receiver.close()]);
    }
  },
};

/** One writer pipelining one-cell changes, one reader; changes/s from first send to last receipt. */
async function changesPerSecond(context: ScenarioContext, server: RunningServer, room: string): Promise<number> {
  const total = throughputChanges(context.options);
  if ((await putStore(server.origin, room, [{ meta: { bench: { scenario: "webhooks" } } }, {}])) !== 201) throw new Error(`PUT /store of ${room} failed`);
  const [writer, reader] = await openSockets(server.host, room, 2);
  try {
    let sent = 0;
    let received = 0;
    let firstSendAt = Number.NaN;
    let lastReceiveAt = Number.NaN;
    const pump = () => {
      while (sent < total && sent - received < WINDOW_FRAMES) {
        if (Number.isNaN(firstSendAt)) firstSendAt = performance.now();
        writer.send(encodeCell(TABLE, "w", `c${sent++}`, sent));
      }
    };
    onCells(reader, (tableId) => {
      if (tableId !== TABLE) return;
      received++;
      lastReceiveAt = performance.now();
      pump();
    });
    pump();
    const outcome = await waitFor({ done: () => received >= total, progress: () => received, stalledMs: STALL_MS, deadline: performance.now() + 120_000 });
    if (outcome !== "done") context.sink.note(`${room}: ${outcome} after ${received} of ${total} changes`);
    return received / ((lastReceiveAt - firstSendAt) / 1000);
  } finally {
    closeSockets([writer, reader]);
  }
}

/** Sends changes at a steady rate and waits until the receiver has all of them. */
async function measureLag(context: ScenarioContext, server: RunningServer, room: string, lags: number[]): Promise<void> {
  const total = lagChanges(context.options);
  if ((await putStore(server.origin, room, [{}, {}])) !== 201) throw new Error(`PUT /store of ${room} failed`);
  const [writer] = await openSockets(server.host, room, 1);
  try {
    const started = performance.now();
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / LAG_RATE_PER_SECOND;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const sentAt = Math.round(performance.now() * 1000) / 1000;
      writer.send(encodeCell(TABLE, "lag", `c${i}`, sentAt));
    }
    const outcome = await waitFor({ done: () => lags.length >= total, progress: () => lags.length, stalledMs: STALL_MS, deadline: performance.now() + 60_000 });
    if (outcome !== "done") context.sink.note(`${room}: ${outcome} after ${lags.length} of ${total} deliveries`);
  } finally {
    closeSockets([writer]);
  }
}
