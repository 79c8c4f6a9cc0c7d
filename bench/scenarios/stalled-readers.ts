// Scenario 6: memory held per stalled reader. SSE readers that connect and then never read; large
// events appended; the growth of the runtime's resident memory (the workerd processes of the dev
// server's process group, from /proc: not the CLI's own proxy in front of it), divided by the
// readers. Two sizes of event: application events of 200,000 characters (POST), and `$store` events
// of about 16 MiB (a PUT of the whole store, then replacing PUTs). The room holds at most
// MAX_SSE_QUEUE_BYTES plus one storage value per reader, whatever one event weighs: large records
// are written in pieces as the reader takes them. What the kernel buffers on the sockets is not
// resident memory.
import net from "node:net";
import { residentBytes, workerdPids } from "../../test/support/resident.ts";
import { forEachTarget, metric } from "../scenario.ts";
import type { RunningTarget, RunOptions, Scenario, ScenarioContext } from "../scenario.ts";

const EVENT_DATA_CHARS = 200_000;
/** 275 cells of 59,990 characters: a store (and its `$store` event) of 16.5 MB, under MAX_BODY_BYTES. */
const STORE_CELLS = 275;
const STORE_CELL_CHARS = 59_990;
const SETTLE_MS = 3_000;
const readers = (options: RunOptions) => (options.quick ? 4 : 8);
const events = (options: RunOptions) => (options.quick ? 8 : 24);
const storeEvents = (options: RunOptions) => (options.quick ? 2 : 4);

/** An SSE request on a raw socket that is never read after its headers are sent. */
const stalledReader = (target: RunningTarget, room: string, query = "?after=past-events"): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(target.server.port, "127.0.0.1", () => {
      socket.write(`GET /parties/main/${room}/events${query} HTTP/1.1\r\nHost: ${target.server.host}\r\nAccept: text/event-stream\r\n\r\n`);
      socket.once("data", () => {
        socket.pause();
        resolve(socket);
      });
    });
    socket.once("error", reject);
  });

export const stalledReaders: Scenario = {
  name: "stalled-readers",
  title: "6. Memory held per stalled SSE reader",
  parameters: (options) => [
    `${readers(options)} SSE readers on one room (\`after=past-events\`) that read the response headers and then nothing`,
    `${events(options)} events of ${EVENT_DATA_CHARS.toLocaleString("en")} characters of data appended by POST, then ${SETTLE_MS} ms to settle`,
    "held per reader = (growth of the runtime's resident memory with the readers − growth for the same appends to a room without readers) ÷ readers; " +
      "resident memory: VmRSS of the workerd processes of the dev server",
    `16 MiB events: ${storeEvents(options)} $store events of ${((STORE_CELLS * STORE_CELL_CHARS) / 2 ** 20).toFixed(1)} MiB each (a PUT of the store, then replacing PUTs), ` +
      `then ${SETTLE_MS} ms, then the same readers from the first seq; held per reader = growth of resident memory from before they opened to ${SETTLE_MS} ms after, ÷ readers`,
  ],
  metrics: () => [
    metric("heldPerReader", "resident bytes held per stalled reader, 200 KB events, KiB", "lower", 0),
    metric("heldPerReader16MiB", "resident bytes held per stalled reader, 16 MiB events, KiB", "lower", 0),
  ],
  async run(context: ScenarioContext) {
    await forEachTarget(context, ["heldPerReader", "heldPerReader16MiB"], async (target) => {
      if (!target.events) {
        context.sink.record(target.name, "heldPerReader", "n/a");
        return context.sink.record(target.name, "heldPerReader16MiB", "n/a");
      }
      const pids = workerdPids(target.server.processGroup());
      const count = readers(context.options);
      // The same appends without readers first: what storage, caches and warm-up cost is not the readers'.
      const control = await growthWith(context, target, pids, `stalled-control-${context.options.runId}`, 0);
      const growth = await growthWith(context, target, pids, `stalled-${context.options.runId}`, count);
      context.sink.record(target.name, "heldPerReader", Math.max(0, growth - control) / count / 1024);
      context.sink.note(`${target.name}, 200 KB events: resident growth ${(control / 2 ** 20).toFixed(1)} MiB without readers, ${(growth / 2 ** 20).toFixed(1)} MiB with ${count}`);
      // 16 MiB events: written first, so that what the PUTs cost (and leave resident) is not counted.
      const room = `stalled-16mib-${context.options.runId}`;
      await appendStoreEvents(context, target, room);
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const before = residentBytes(pids);
      const sockets = await Promise.all(Array.from({ length: count }, () => stalledReader(target, room, "")));
      try {
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
        const held = residentBytes(pids) - before;
        context.sink.record(target.name, "heldPerReader16MiB", Math.max(0, held) / count / 1024);
        context.sink.note(`${target.name}, 16 MiB events: resident growth ${(held / 2 ** 20).toFixed(1)} MiB with ${count} readers`);
      } finally {
        for (const socket of sockets) socket.destroy();
      }
    });
  },
};

const appendEvents = async (context: ScenarioContext, target: RunningTarget, room: string) => {
  const url = `${target.server.origin}/parties/main/${room}/events`;
  for (let i = 0; i < events(context.options); i++) {
    const body = JSON.stringify({ type: "big", data: String(i).padEnd(EVENT_DATA_CHARS, "x") });
    const response = await fetch(url, { method: "POST", body });
    if (response.status !== 201) throw new Error(`POST /events answered ${response.status}`);
    await response.arrayBuffer();
  }
};

/** A 16 MiB store, then replaced whole: one `$store` event of 16 MiB per PUT. */
const appendStoreEvents = async (context: ScenarioContext, target: RunningTarget, room: string) => {
  const url = `${target.server.origin}/parties/main/${room}/store`;
  let etag: string | null = null;
  for (let i = 0; i < storeEvents(context.options); i++) {
    const row: Record<string, string> = {};
    for (let cell = 0; cell < STORE_CELLS; cell++) row[`c${cell}`] = String(i).padEnd(STORE_CELL_CHARS, "x");
    const headers: Record<string, string> = etag ? { "If-Match": etag } : {};
    const response: Response = await fetch(url, { method: "PUT", body: JSON.stringify([{ t: { r: row } }, {}]), headers });
    if (response.status !== (etag ? 200 : 201)) throw new Error(`PUT /store answered ${response.status}`);
    await response.arrayBuffer();
    etag = response.headers.get("ETag");
  }
};

/** Growth of the runtime's resident memory while `count` stalled readers watch the appends. */
async function growthWith(context: ScenarioContext, target: RunningTarget, pids: number[], room: string, count: number): Promise<number> {
  const url = `${target.server.origin}/parties/main/${room}/events`;
  await (await fetch(url, { method: "POST", body: JSON.stringify({ type: "start" }) })).arrayBuffer();
  const sockets = await Promise.all(Array.from({ length: count }, () => stalledReader(target, room)));
  try {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const before = residentBytes(pids);
    await appendEvents(context, target, room);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return residentBytes(pids) - before;
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}
