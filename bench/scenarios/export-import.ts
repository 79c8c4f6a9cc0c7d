// Scenario 7: a whole room out and in. A synthetic export of N events (one in ten a `$store`
// change of one cell, the rest small application events, a tenth of those with a producer id) is
// imported by one streamed POST {room}/import, exported by GET {room}/export, and the export
// imported into a second room. Events/s each way, and the peak resident memory of the workerd
// process while each runs (sampled from /proc), to show that both stream in bounded memory.
// Only roomstore is measured: the other targets have no export, and roomstore-live shares its
// storage code.
import { cpuSeconds, residentBytes, workerdPids } from "../../test/support/resident.ts";
import { forEachTarget, metric } from "../scenario.ts";
import type { RunningTarget, RunOptions, Scenario, ScenarioContext } from "../scenario.ts";

const eventCount = (options: RunOptions) => (options.quick ? 20_000 : 1_000_000);
/** Events per chunk of the generated body. */
const CHUNK_EVENTS = 1_000;
const STORE_EVERY = 10;
const ROWS = 1_000;
const MEMORY_SAMPLE_MS = 100;
const TS = "2026-01-01T00:00:00.000Z";
/** Characters of the cell each `$store` event of a large store's export sets (`syntheticExport`). */
export const LARGE_CELL_CHARS = 500;

const KEYS = ["importRate", "importCpuRate", "importPeakMb", "exportRate", "exportPeakMb", "reimportRate", "baselineMb"];

const roomUrl = (target: RunningTarget, room: string, path: string) => `${target.server.origin}/parties/main/${encodeURIComponent(room)}${path}`;

/** The export of a room of `count` events, generated a chunk at a time; `largeStore`: each a `$store` event setting a new cell. */
export const syntheticExport = (count: number, largeStore = false): ReadableStream<Uint8Array> => {
  const encoder = new TextEncoder();
  let seq = 0;
  return new ReadableStream({
    pull(controller) {
      if (seq === 0) {
        controller.enqueue(encoder.encode(JSON.stringify({ format: "roomstore-export", version: 1, room: "bench", head: count, first: 1 }) + "\n"));
      }
      if (seq >= count) return controller.close();
      let text = "";
      for (let i = 0; i < CHUNK_EVENTS && seq < count; i++) {
        seq++;
        const event = largeStore
          ? { seq, id: `s${seq}`, stream: "$store", type: seq === 1 ? "$init" : "$changes", data: [{ t: { [`r${seq}`]: { c: String(seq).padEnd(LARGE_CELL_CHARS, "x") } } }, {}, ...(seq === 1 ? [] : [1])], ts: TS, room: "bench" }
          : seq === 1
            ? { seq, id: `s${seq}`, stream: "$store", type: "$init", data: [{ t: { r0: { n: 0 } } }, {}], ts: TS, room: "bench" }
            : seq % STORE_EVERY === 0
              ? { seq, id: `s${seq}`, stream: "$store", type: "$changes", data: [{ t: { [`r${seq % ROWS}`]: { n: seq } } }, {}, 1], ts: TS, room: "bench" }
              : { seq, id: seq % 100 === 1 ? `p${seq}` : `g${seq}`, stream: "default", type: "tick", data: { n: seq }, ts: TS, room: "bench" };
        text += JSON.stringify(event) + "\n";
      }
      controller.enqueue(encoder.encode(text));
    },
  });
};

export const residentMb = (pids: number[]): number => residentBytes(pids) / 2 ** 20;

/**
 * Runs `work` while sampling the resident memory of `pids`; returns its result, the peak in MB and
 * the CPU seconds the processes used meanwhile.
 */
export const withPeakMemory = async <T>(pids: number[], work: () => Promise<T>): Promise<{ result: T; peakMb: number; cpuSeconds: number }> => {
  let peakMb = residentMb(pids);
  const cpuBefore = cpuSeconds(pids);
  const timer = setInterval(() => (peakMb = Math.max(peakMb, residentMb(pids))), MEMORY_SAMPLE_MS);
  try {
    const result = await work();
    return { result, peakMb: Math.max(peakMb, residentMb(pids)), cpuSeconds: cpuSeconds(pids) - cpuBefore };
  } finally {
    clearInterval(timer);
  }
};

export const importBody = async (target: RunningTarget, room: string, body: ReadableStream<Uint8Array>): Promise<number> => {
  const response = await fetch(roomUrl(target, room, "/import"), { method: "POST", body, duplex: "half" } as RequestInit);
  const text = await response.text();
  if (response.status !== 201) throw new Error(`POST /import answered ${response.status}: ${text.slice(0, 200)}`);
  return (JSON.parse(text) as { events: number }).events;
};

export const exportImport: Scenario = {
  name: "export-import",
  title: "7. Export and import of a whole room",
  parameters: (options) => [
    `a synthetic export of ${eventCount(options).toLocaleString("en")} events (one in ${STORE_EVERY} a $store change of one cell over ${ROWS} rows, ` +
      `the rest application events with small data), imported by one streamed POST {room}/import`,
    "then GET {room}/export read to the end, and that export streamed straight into POST /import of a second room",
    `memory: resident set (VmRSS) of the server's workerd process, sampled every ${MEMORY_SAMPLE_MS} ms; measured on roomstore only`,
    "events per workerd CPU second: the events imported over the CPU time (user + system, /proc) the workerd processes used meanwhile, " +
      "the rate one free core would allow; far steadier than events/s on a loaded machine",
  ],
  metrics: () => [
    metric("importRate", "import, events/s", "higher", 0),
    metric("importCpuRate", "import, events per workerd CPU second", "higher", 0),
    metric("importPeakMb", "import, peak workerd RSS MB", "lower", 0),
    metric("exportRate", "export, events/s", "higher", 0),
    metric("exportPeakMb", "export, peak workerd RSS MB", "lower", 0),
    metric("reimportRate", "export piped into an import, events/s", "higher", 0),
    metric("baselineMb", "workerd RSS MB before", "none", 0),
  ],
  run: (context) => onRoomstoreOnly(context, KEYS, (target) => measure(context, target)),
};

/** Runs `measure` on roomstore; the other targets have no import, and roomstore-live shares its storage code. */
export const onRoomstoreOnly = (context: ScenarioContext, keys: readonly string[], measure: (target: RunningTarget) => Promise<void>) =>
  forEachTarget(context, keys, async (target) => {
    if (target.name !== "roomstore") {
      for (const key of keys) context.sink.record(target.name, key, "n/a");
      return;
    }
    await measure(target);
  });

async function measure(context: ScenarioContext, target: RunningTarget): Promise<void> {
  const count = eventCount(context.options);
  const source = `export-${context.options.runId}`;
  const pids = workerdPids(target.server.processGroup());
  if (pids.length === 0) context.sink.note("roomstore: no workerd process found in the server's process group; memory not measured");
  context.sink.record(target.name, "baselineMb", residentMb(pids));

  context.log(`${target.name}: importing ${count} events`);
  let started = performance.now();
  const imported = await withPeakMemory(pids, () => importBody(target, source, syntheticExport(count)));
  context.sink.record(target.name, "importRate", imported.result / ((performance.now() - started) / 1000));
  context.sink.record(target.name, "importCpuRate", imported.result / imported.cpuSeconds);
  context.sink.record(target.name, "importPeakMb", imported.peakMb);

  context.log(`${target.name}: exporting`);
  started = performance.now();
  const exported = await withPeakMemory(pids, async () => {
    const response = await fetch(roomUrl(target, source, "/export"));
    let lines = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
    }
    return lines - 1;
  });
  if (exported.result !== count) context.sink.note(`roomstore: the export held ${exported.result} events, expected ${count}`);
  context.sink.record(target.name, "exportRate", exported.result / ((performance.now() - started) / 1000));
  context.sink.record(target.name, "exportPeakMb", exported.peakMb);

  context.log(`${target.name}: piping the export into a second room`);
  started = performance.now();
  const response = await fetch(roomUrl(target, source, "/export"));
  const again = await importBody(target, `${source}-copy`, response.body!);
  context.sink.record(target.name, "reimportRate", again / ((performance.now() - started) / 1000));

}
