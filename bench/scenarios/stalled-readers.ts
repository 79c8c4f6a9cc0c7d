// Scenario 6: memory held per stalled reader. SSE readers that connect and then never read; large
// events appended; the growth of the runtime's resident memory (the workerd processes of the dev
// server's process group, from /proc: not the CLI's own proxy in front of it), divided by the readers. The room holds at most MAX_SSE_QUEUE_BYTES
// (or one event) per reader; what the kernel buffers on the sockets is not resident memory.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import net from "node:net";
import { forEachTarget, metric } from "../scenario.ts";
import type { RunningTarget, RunOptions, Scenario, ScenarioContext } from "../scenario.ts";

const EVENT_DATA_CHARS = 200_000;
const SETTLE_MS = 3_000;
const readers = (options: RunOptions) => (options.quick ? 4 : 8);
const events = (options: RunOptions) => (options.quick ? 8 : 24);

/** Pids of the process group serving `port` (its listener's group), from /proc. */
const serverGroup = (port: number): number[] => {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === "0A") inodes.add(fields[9]);
    }
  }
  const pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  const groupOf = (pid: string) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[2];
  for (const pid of pids) {
    try {
      const fds = readdirSync(`/proc/${pid}/fd`);
      if (fds.some((fd) => inodes.has(readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/)?.[1] ?? ""))) {
        const group = groupOf(pid);
        return pids.filter((other) => {
          try {
            return groupOf(other) === group;
          } catch {
            return false;
          }
        }).map(Number);
      }
    } catch {
      // A process that exited or is not ours.
    }
  }
  throw new Error(`no process listens on port ${port}`);
};

const residentBytes = (pids: number[]): number =>
  pids.reduce((sum, pid) => {
    try {
      if (!readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("workerd")) return sum;
      const kib = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)?.[1];
      return sum + Number(kib ?? 0) * 1024;
    } catch {
      return sum;
    }
  }, 0);

/** An SSE request on a raw socket that is never read after its headers are sent. */
const stalledReader = (target: RunningTarget, room: string): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(target.server.port, "127.0.0.1", () => {
      socket.write(`GET /parties/main/${room}/events?after=past-events HTTP/1.1\r\nHost: ${target.server.host}\r\nAccept: text/event-stream\r\n\r\n`);
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
  ],
  metrics: () => [metric("heldPerReader", "resident bytes held per stalled reader, KiB", "lower", 0)],
  async run(context: ScenarioContext) {
    await forEachTarget(context, ["heldPerReader"], async (target) => {
      if (!target.events) return context.sink.record(target.name, "heldPerReader", "n/a");
      const group = serverGroup(target.server.port);
      // The same appends without readers first: what storage, caches and warm-up cost is not the readers'.
      const control = await growthWith(context, target, group, `stalled-control-${context.options.runId}`, 0);
      const count = readers(context.options);
      const growth = await growthWith(context, target, group, `stalled-${context.options.runId}`, count);
      context.sink.record(target.name, "heldPerReader", Math.max(0, growth - control) / count / 1024);
      context.sink.note(`${target.name}: resident growth ${(control / 2 ** 20).toFixed(1)} MiB without readers, ${(growth / 2 ** 20).toFixed(1)} MiB with ${count}`);
    });
  },
};

/** Growth of the runtime's resident memory while `count` stalled readers watch the appends. */
async function growthWith(context: ScenarioContext, target: RunningTarget, group: number[], room: string, count: number): Promise<number> {
  const url = `${target.server.origin}/parties/main/${room}/events`;
  await (await fetch(url, { method: "POST", body: JSON.stringify({ type: "start" }) })).arrayBuffer();
  const sockets = await Promise.all(Array.from({ length: count }, () => stalledReader(target, room)));
  try {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const before = residentBytes(group);
    for (let i = 0; i < events(context.options); i++) {
      const body = JSON.stringify({ type: "big", data: String(i).padEnd(EVENT_DATA_CHARS, "x") });
      const response = await fetch(url, { method: "POST", body });
      if (response.status !== 201) throw new Error(`POST /events answered ${response.status}`);
      await response.arrayBuffer();
    }
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return residentBytes(group) - before;
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}
