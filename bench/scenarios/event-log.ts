// Scenario 5: the event log. Paged reads over a large log, with and without a `types` filter (the
// type index keeps a filtered page O(page)), and the fan-out of one append to many SSE readers.
// Only targets with an event log are measured; TinyBase's server and the relay have none.
import { EventSource } from "eventsource";
import { forEachTarget, metric } from "../scenario.ts";
import type { RunningTarget, RunOptions, Scenario, ScenarioContext } from "../scenario.ts";
import { summarize } from "../stats.ts";

const TYPES = ["a", "b", "c", "d"];
const APPEND_BATCH = 100;
const PAGE_LIMIT = 1_000;
const FANOUT_ROUNDS = 5;
const RECEIVE_TIMEOUT_MS = 10_000;

const logSize = (options: RunOptions) => (options.quick ? 10_000 : 100_000);
const readers = (options: RunOptions) => (options.quick ? 20 : 100);

const eventsUrl = (target: RunningTarget, room: string, query = "") =>
  `${target.server.origin}/parties/main/${encodeURIComponent(room)}/events${query}`;

const KEYS = ["fill", "pages", "events", "typedPages", "typedEvents", "fanoutP50", "fanoutP99"];

export const eventLog: Scenario = {
  name: "event-log",
  title: "5. Event log: paged reads and SSE fan-out",
  parameters: (options) => [
    `a log of ${logSize(options).toLocaleString("en")} events (types ${TYPES.join(", ")} in turn), appended by POST in batches of ${APPEND_BATCH}`,
    `reads: every page of ${PAGE_LIMIT} from the start to the head, following \`next\` (\`until=caught-up\`); filtered: the same with \`types=a\` (a quarter of the log)`,
    `fan-out: ${readers(options)} EventSource readers (the \`eventsource\` package) on one room with \`after=past-events\`; one POST appends one event; ` +
      `time from the append until the last reader has it, ${FANOUT_ROUNDS} rounds`,
  ],
  metrics: () => [
    metric("fill", "append throughput, events/s", "higher", 0),
    metric("pages", "pages/s, no filter", "higher", 1),
    metric("events", "events/s read, no filter", "higher", 0),
    metric("typedPages", "pages/s, types=a", "higher", 1),
    metric("typedEvents", "events/s read, types=a", "higher", 0),
    metric("fanoutP50", "SSE fan-out to the last reader, median ms", "lower", 1),
    metric("fanoutP99", "SSE fan-out to the last reader, max ms", "lower", 1),
  ],
  async run(context: ScenarioContext) {
    await forEachTarget(context, KEYS, async (target) => {
      if (!target.events) {
        for (const key of KEYS) context.sink.record(target.name, key, "n/a");
        return;
      }
      await measureReads(context, target);
      await measureFanout(context, target);
    });
  },
};

async function measureReads(context: ScenarioContext, target: RunningTarget): Promise<void> {
  const room = `events-${context.options.runId}`;
  const total = logSize(context.options);
  context.log(`${target.name}: appending ${total} events`);
  const fillStarted = performance.now();
  for (let appended = 0; appended < total; appended += APPEND_BATCH) {
    const batch = Array.from({ length: APPEND_BATCH }, (_, i) => ({ type: TYPES[(appended + i) % TYPES.length], data: { n: appended + i } }));
    const response = await fetch(eventsUrl(target, room), { method: "POST", body: JSON.stringify(batch) });
    if (response.status !== 201) throw new Error(`POST /events answered ${response.status}`);
    await response.arrayBuffer();
  }
  context.sink.record(target.name, "fill", total / ((performance.now() - fillStarted) / 1000));
  for (const [filter, pagesKey, eventsKey] of [["", "pages", "events"], ["&types=a", "typedPages", "typedEvents"]] as const) {
    let pages = 0;
    let events = 0;
    let query = `?limit=${PAGE_LIMIT}&until=caught-up${filter}`;
    const started = performance.now();
    for (;;) {
      const page = (await (await fetch(eventsUrl(target, room, query))).json()) as { events: unknown[]; next: number | null };
      pages++;
      events += page.events.length;
      if (page.next === null) break;
      query = `?limit=${PAGE_LIMIT}&until=caught-up${filter}&after=${page.next}`;
    }
    const seconds = (performance.now() - started) / 1000;
    const expected = filter ? total / TYPES.length : total;
    if (events !== expected) context.sink.note(`${target.name}: read ${events} events${filter}, expected ${expected}`);
    context.sink.record(target.name, pagesKey, pages / seconds);
    context.sink.record(target.name, eventsKey, events / seconds);
  }
}

async function measureFanout(context: ScenarioContext, target: RunningTarget): Promise<void> {
  const room = `fanout-${context.options.runId}`;
  const count = readers(context.options);
  const received = new Map<number, number[]>();
  const sources: EventSource[] = [];
  let caughtUp = 0;
  try {
    for (let i = 0; i < count; i++) {
      const source = new EventSource(eventsUrl(target, room, "?after=past-events"));
      source.addEventListener("caught-up", () => caughtUp++);
      source.addEventListener("probe", (event) => {
        const seq = Number(event.lastEventId);
        const times = received.get(seq) ?? [];
        times.push(performance.now());
        received.set(seq, times);
      });
      sources.push(source);
    }
    await until(() => caughtUp >= count, `${count} readers to catch up`);
    const samples: number[] = [];
    for (let round = 0; round < FANOUT_ROUNDS; round++) {
      const sentAt = performance.now();
      const response = await fetch(eventsUrl(target, room), { method: "POST", body: JSON.stringify({ type: "probe" }) });
      const seq = ((await response.json()) as { events: { seq: number }[] }).events[0].seq;
      await until(() => (received.get(seq)?.length ?? 0) >= count, `all readers to get seq ${seq}`);
      samples.push(Math.max(...received.get(seq)!) - sentAt);
    }
    const summary = summarize(samples);
    context.sink.record(target.name, "fanoutP50", summary.p50);
    context.sink.record(target.name, "fanoutP99", summary.max);
  } finally {
    sources.forEach((source) => source.close());
  }
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + RECEIVE_TIMEOUT_MS;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
