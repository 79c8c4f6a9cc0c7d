// Scenario 10: Durable Streams. The room's `/v1/stream/<name>` against the protocol's reference
// Node server (@durable-streams/server 0.3.7, in-memory store, started here in its own process):
// append→SSE latency, and catch-up read throughput. Only targets with an event log are measured;
// the reference server's figures and the ratios to it are printed under the table.
import { spawn, type ChildProcess } from "node:child_process";
import { forEachTarget, metric, ratioMetric } from "../scenario.ts";
import type { RunOptions, Scenario, ScenarioContext } from "../scenario.ts";
import { median, summarize } from "../stats.ts";

const LATENCY_APPENDS = 50;
const MESSAGE = { text: "x".repeat(80) };
const APPEND_BATCH = 100;
const CATCHUP_READS = 5;
const RECEIVE_TIMEOUT_MS = 10_000;
const REFERENCE_START_MS = 30_000;

const catchupMessages = (options: RunOptions) => (options.quick ? 2_000 : 20_000);

const KEYS = ["sseP50", "sseMax", "catchupMessages", "catchupMegabytes"] as const;
type Figures = Record<(typeof KEYS)[number], number>;
/** Each target's figures over the reference server's of the same round. */
const RATIO_KEYS = ["sseP50Ratio", "catchupRatio"] as const;

export const durableStreams: Scenario = {
  name: "durable-streams",
  title: "10. Durable Streams: append→SSE latency and catch-up reads, against the reference server",
  parameters: (options) => [
    `reference: @durable-streams/server 0.3.7 (DurableStreamTestServer, in-memory), Node, its own process`,
    `latency: one JSON stream, one reader on \`live=sse\` from \`offset=now\`; ${LATENCY_APPENDS} appends one after another (POST of one ${JSON.stringify(MESSAGE).length}-byte message); time from the POST until the reader has the data event`,
    `catch-up: a JSON stream of ${catchupMessages(options).toLocaleString("en")} such messages (POSTs of ${APPEND_BATCH}); a reader reads it from \`offset=-1\`, following \`Stream-Next-Offset\` until \`Stream-Up-To-Date\`; median of ${CATCHUP_READS} reads`,
  ],
  metrics: () => [
    metric("sseP50", "append→SSE, median ms", "lower", 1),
    metric("sseMax", "append→SSE, max ms", "lower", 1),
    metric("catchupMessages", "catch-up, messages/s", "higher", 0),
    metric("catchupMegabytes", "catch-up, MB/s", "higher", 1),
    ratioMetric("sseP50Ratio", "append→SSE median ÷ the reference server's"),
    ratioMetric("catchupRatio", "catch-up messages/s ÷ the reference server's"),
  ],
  async run(context: ScenarioContext) {
    const reference = await startReference().catch((error: unknown) => {
      context.sink.note(`reference server did not start: ${String(error)}`);
      return undefined;
    });
    try {
      const referenceFigures = reference ? await measure(context, reference.url, "ref") : undefined;
      if (referenceFigures) {
        context.sink.note(`reference server: ${KEYS.map((key) => `${key} ${referenceFigures[key].toFixed(1)}`).join(", ")}`);
      }
      await forEachTarget(context, [...KEYS, ...RATIO_KEYS], async (target) => {
        if (!target.events) {
          for (const key of [...KEYS, ...RATIO_KEYS]) context.sink.record(target.name, key, "n/a");
          return;
        }
        const figures = await measure(context, `${target.server.origin}/parties/main/ds-bench-${context.options.runId}`, target.name);
        for (const key of KEYS) context.sink.record(target.name, key, figures[key]);
        if (referenceFigures) {
          context.sink.record(target.name, "sseP50Ratio", figures.sseP50 / referenceFigures.sseP50);
          context.sink.record(target.name, "catchupRatio", figures.catchupMessages / referenceFigures.catchupMessages);
          context.sink.note(`${target.name} ÷ reference: ${KEYS.map((key) => `${key} ${(figures[key] / referenceFigures[key]).toFixed(2)}`).join(", ")}`);
        }
      });
    } finally {
      reference?.process.kill();
    }
  },
};

/** The reference server on a free port, in a child process so that it shares no event loop with the client. */
const startReference = (): Promise<{ url: string; process: ChildProcess }> =>
  new Promise((resolve, reject) => {
    const script = `import { DurableStreamTestServer } from "@durable-streams/server";
const server = new DurableStreamTestServer({ port: 0, host: "127.0.0.1", longPollTimeout: 20000 });
console.log(await server.start());`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: import.meta.dirname, stdio: ["ignore", "pipe", "inherit"] });
    const timer = setTimeout(() => reject(new Error("no URL in time")), REFERENCE_START_MS);
    child.stdout!.setEncoding("utf8").once("data", (text: string) => {
      clearTimeout(timer);
      resolve({ url: text.trim(), process: child });
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code}`)));
  });

const ok = async (response: Response, what: string) => {
  await response.arrayBuffer();
  if (response.status >= 300) throw new Error(`${what} answered ${response.status}`);
};

async function measure(context: ScenarioContext, base: string, label: string): Promise<Figures> {
  const json = { "Content-Type": "application/json" };
  const latencyUrl = `${base}/v1/stream/latency-${context.options.runId}-${label}`;
  await ok(await fetch(latencyUrl, { method: "PUT", headers: json }), "PUT");
  const controller = new AbortController();
  const response = await fetch(`${latencyUrl}?offset=now&live=sse`, { signal: controller.signal });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let dataEvents = 0;
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      buffered += value;
      let end: number;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        if (buffered.slice(0, end).startsWith("event: data")) dataEvents++;
        buffered = buffered.slice(end + 2);
      }
    }
  })();
  const samples: number[] = [];
  try {
    for (let i = 0; i < LATENCY_APPENDS; i++) {
      const before = dataEvents;
      const sent = performance.now();
      await ok(await fetch(latencyUrl, { method: "POST", headers: json, body: JSON.stringify(MESSAGE) }), "POST");
      const deadline = sent + RECEIVE_TIMEOUT_MS;
      while (dataEvents === before) {
        if (performance.now() > deadline) throw new Error("the SSE reader did not get an append");
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      samples.push(performance.now() - sent);
    }
  } finally {
    controller.abort();
  }
  const latency = summarize(samples);

  const total = catchupMessages(context.options);
  const catchupUrl = `${base}/v1/stream/catchup-${context.options.runId}-${label}`;
  await ok(await fetch(catchupUrl, { method: "PUT", headers: json }), "PUT");
  const batch = JSON.stringify(Array.from({ length: APPEND_BATCH }, () => MESSAGE));
  for (let appended = 0; appended < total; appended += APPEND_BATCH) {
    await ok(await fetch(catchupUrl, { method: "POST", headers: json, body: batch }), "POST");
  }
  const times: number[] = [];
  let bytes = 0;
  for (let round = 0; round < CATCHUP_READS; round++) {
    let offset = "-1";
    let messages = 0;
    bytes = 0;
    const started = performance.now();
    for (;;) {
      const page = await fetch(`${catchupUrl}?offset=${encodeURIComponent(offset)}`);
      const text = await page.text();
      bytes += text.length;
      messages += (JSON.parse(text) as unknown[]).length;
      offset = page.headers.get("Stream-Next-Offset")!;
      if (page.headers.get("Stream-Up-To-Date") === "true") break;
    }
    times.push(performance.now() - started);
    if (messages !== total) context.sink.note(`${label}: read ${messages} messages, expected ${total}`);
  }
  const seconds = median(times) / 1000;
  return { sseP50: latency.p50, sseMax: latency.max, catchupMessages: total / seconds, catchupMegabytes: bytes / 1e6 / seconds };
}
