// 1,000 WebSockets on one room under `wrangler dev` (loopback only, opened 100 at a time): every
// socket receives every broadcast exactly once, all close cleanly, the room goes on, and the
// memory of the dev server's workerd processes (their RSS, read from /proc) stays bounded.
/// <reference types="node" />
import { readdirSync, readFileSync } from "node:fs";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

const SOCKETS = 1_000;
const OPEN_BATCH = 100;
const WRITERS = 4;
const CHANGES_PER_WRITER = 20;
/**
 * Growth of the workerd processes' resident memory allowed across the whole test. Measured on 2
 * cores: about 600 MiB (V8 heaps and allocator arenas that grow and are not given back, the same
 * for a bare partyserver relay), so only a gross leak (over 1 MiB a socket) fails this.
 */
const MAX_RSS_GROWTH_MIB = 1_536;

interface Process {
  pid: number;
  name: string;
  group: number;
  command: string;
}

const processes = (): Process[] =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const end = stat.lastIndexOf(")");
        const group = Number(stat.slice(end + 2).split(" ")[2]);
        return [{ pid: Number(pid), name: stat.slice(stat.indexOf("(") + 1, end), group, command: readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ") }];
      } catch {
        return []; // gone in the meantime
      }
    });

/** Resident memory (MiB) of the workerd processes in the process group of the server on `port`. */
const workerdRssMib = (port: number): number => {
  const all = processes();
  const cli = all.find((process) => process.command.includes("wrangler") && process.command.includes(` dev `) && process.command.includes(`--port ${port}`));
  if (!cli) throw new Error(`no wrangler dev on port ${port} in /proc`);
  const workerds = all.filter((process) => process.group === cli.group && process.name === "workerd");
  if (workerds.length === 0) throw new Error(`no workerd in process group ${cli.group}`);
  return workerds.reduce((sum, { pid }) => sum + Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)![1]) / 1024, 0);
};

describe("1,000 sockets on one room", () => {
  let server: RunningServer;
  const sockets: WebSocket[] = [];
  beforeAll(async () => {
    server = await startServer({ kind: "wrangler" });
  });
  afterAll(async () => {
    sockets.forEach((socket) => socket.terminate());
    await server?.stop();
  });

  it("delivers every broadcast to every socket exactly once, closes them all, and stays bounded in memory", async () => {
    const room = `${server.origin}/parties/main/crowd`;
    expect((await fetch(`${room}/store`, { method: "PUT", body: "[{},{}]" })).status).toBe(201);
    const baselineMib = workerdRssMib(server.port);

    /** Cells each socket received, counted once per delivery, and how sockets ended. */
    const cells = Array.from({ length: SOCKETS }, () => new Map<string, number>());
    const closes = new Map<number, number>();
    for (let start = 0; start < SOCKETS; start += OPEN_BATCH) {
      await Promise.all(
        Array.from({ length: Math.min(OPEN_BATCH, SOCKETS - start) }, (_, k) => {
          const index = start + k;
          return new Promise<void>((resolve, reject) => {
            const socket = new WebSocket(`ws://${server.host}/parties/main/crowd`);
            sockets[index] = socket;
            socket.on("open", () => resolve());
            socket.on("error", reject);
            socket.on("close", (code) => closes.set(index, code));
            socket.on("message", (data) => {
              const frame = String(data);
              if (!frame.startsWith("s")) return;
              const [tables] = JSON.parse(frame.slice(1));
              for (const [rowId, row] of Object.entries<Record<string, unknown>>(tables.crowd ?? {})) {
                for (const cellId of Object.keys(row)) cells[index].set(`${rowId}/${cellId}`, (cells[index].get(`${rowId}/${cellId}`) ?? 0) + 1);
              }
            });
          });
        }),
      );
    }
    expect([...closes], "sockets closed while the others opened").toEqual([]);
    const openMib = workerdRssMib(server.port);

    // The first sockets write, interleaved; every socket but the writer must see each change once.
    for (let n = 0; n < CHANGES_PER_WRITER; n++) {
      for (let w = 0; w < WRITERS; w++) sockets[w].send("s" + JSON.stringify([{ crowd: { [`w${w}`]: { [`c${n}`]: n } } }, {}, 1]));
    }
    const all = WRITERS * CHANGES_PER_WRITER;
    const expected = (index: number) => (index < WRITERS ? all - CHANGES_PER_WRITER : all);
    const histogram = () => {
      const counts = new Map<number, number>();
      for (const received of cells) counts.set(received.size, (counts.get(received.size) ?? 0) + 1);
      return Object.fromEntries([...counts].sort(([a], [b]) => a - b));
    };
    await waitFor(
      () => cells.filter((received, index) => received.size === expected(index)).length,
      (complete) => complete === SOCKETS || closes.size > 0,
      { what: "every socket to receive every change", timeoutMs: 30_000 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}; cells received → sockets: ${JSON.stringify(histogram())}`);
    });
    expect([...closes], "sockets closed during the broadcast").toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 500)); // late duplicates would arrive now
    const deliveries = cells.map((received) => [...received.values()].reduce((sum, count) => sum + count, 0));
    expect(deliveries.filter((count, index) => count !== expected(index)), `deliveries per socket: ${JSON.stringify(histogram())}`).toEqual([]);
    expect(cells[0].has("w0/c0"), "a writer gets its own change back").toBe(false);
    const [tables] = JSON.parse(await (await fetch(`${room}/store`)).text());
    expect(Object.values<object>(tables.crowd).reduce((sum, row) => sum + Object.keys(row).length, 0)).toBe(all);

    // Everyone leaves; every close is answered.
    const closed = sockets.map((socket) => new Promise<number>((resolve) => socket.on("close", resolve)));
    sockets.forEach((socket) => socket.close(1000));
    const codes = await Promise.race([Promise.all(closed), new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 20_000))]);
    expect(codes === "timeout" ? "timeout" : codes.filter((code) => code !== 1000), "close codes other than 1000").toEqual([]);

    // The room goes on, and memory stayed bounded.
    const next = new WebSocket(`ws://${server.host}/parties/main/crowd`);
    sockets.push(next);
    await new Promise((resolve, reject) => next.on("open", resolve).on("error", reject));
    next.send('s[{"crowd":{"late":{"c":1}}},{},1]');
    await waitFor(async () => (await (await fetch(`${room}/store`)).text()).includes('"late"'), Boolean, { what: "a write after everyone left" });
    next.close(1000);
    const closedMib = workerdRssMib(server.port);
    expect(closedMib - baselineMib, `workerd RSS: ${Math.round(baselineMib)} MiB before, ${Math.round(openMib)} with ${SOCKETS} sockets open, ${Math.round(closedMib)} after they closed`).toBeLessThan(MAX_RSS_GROWTH_MIB);
  });
});
