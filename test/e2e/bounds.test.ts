// Bounds on open readers under a real `wrangler dev`: what stalled SSE readers of 16 MiB events
// cost the runtime's resident memory (workerd's VmRSS, read as the benchmark reads it), and
// MAX_SSE_READERS, with readers that leave abruptly (their socket destroyed, no FIN first).
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { residentBytes, workerdPids } from "../support/resident.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

const MIB = 1024 * 1024;
const MAX_SSE_READERS = 6;
const STALLED_READERS = 4;
/** 275 cells of 60,000 JSON characters: a store of 16.5 MB, just under MAX_BODY_BYTES (16 MiB). */
const CELLS = 275;
const CELL_CHARS = 59_990;
/**
 * Growth of workerd's resident memory allowed for the four stalled readers together. Each holds its
 * 1 MiB queue and one stored chunk; the rest is the runtime's own buffers and garbage not yet
 * collected. Before large records were written in pieces, four readers grew it by 600-780 MiB.
 */
const HELD_AT_MOST_BYTES = 48 * MIB;
/** Resident memory is steady once it moves less than this between samples. */
const STEADY_BYTES = 2 * MIB;
const SAMPLE_MS = 500;

/** An SSE request on a raw socket that reads the response's first bytes and then nothing. */
const stalledReader = (server: RunningServer, room: string): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(server.port, "127.0.0.1", () => {
      socket.write(`GET /parties/main/${room}/events HTTP/1.1\r\nHost: ${server.host}\r\nAccept: text/event-stream\r\n\r\n`);
      socket.once("data", (first) => {
        socket.pause();
        if (!first.toString().startsWith("HTTP/1.1 200")) reject(new Error(`The SSE request answered ${first.toString().split("\r\n")[0]}`));
        else resolve(socket);
      });
    });
    socket.once("error", reject);
  });

/** Waits until resident memory stops moving, and returns it. */
const steadyResident = async (pids: number[]): Promise<number> => {
  let last = residentBytes(pids);
  const samples = await waitFor(
    async () => {
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
      const now = residentBytes(pids);
      const moved = Math.abs(now - last);
      last = now;
      return { now, moved };
    },
    ({ moved }) => moved < STEADY_BYTES,
    { what: "steady resident memory", everyMs: 0, timeoutMs: 20_000 },
  );
  return samples.now;
};

describe("bounds on readers under wrangler dev", () => {
  let server: RunningServer;
  const append = async (room: string) =>
    expect((await fetch(`${server.origin}/parties/main/${room}/events`, { method: "POST", body: '{"type":"tick"}' })).status).toBe(201);
  const statsOf = async (room: string) => (await fetch(`${server.origin}/parties/main/${room}/stats`)).json() as Promise<{ sseReaders: number }>;

  beforeAll(async () => {
    server = await startServer({ kind: "wrangler", vars: { MAX_SSE_READERS: String(MAX_SSE_READERS) } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("four readers that stop reading a room of 16 MiB $store events hold a bounded amount of workerd's memory", async () => {
    const room = "bounds-stalled";
    const row: Record<string, string> = {};
    for (let i = 0; i < CELLS; i++) row[`c${i}`] = String(i).padEnd(CELL_CHARS, "x");
    const body = JSON.stringify([{ t: { r: row } }, {}]);
    const put = await fetch(`${server.origin}/parties/main/${room}/store`, { method: "PUT", body });
    expect(put.status).toBe(201);
    const pids = workerdPids(server.processGroup());
    expect(pids.length).toBeGreaterThan(0);
    const before = await steadyResident(pids);
    const sockets = await Promise.all(Array.from({ length: STALLED_READERS }, () => stalledReader(server, room)));
    try {
      expect((await statsOf(room)).sseReaders).toBe(STALLED_READERS);
      const growth = (await steadyResident(pids)) - before;
      console.log(`bounds: ${STALLED_READERS} stalled readers of a ${(body.length / MIB).toFixed(1)} MiB event grew workerd by ${(growth / MIB).toFixed(1)} MiB`);
      expect(growth).toBeLessThan(HELD_AT_MOST_BYTES);
    } finally {
      for (const socket of sockets) socket.resetAndDestroy();
    }
    // Gone abruptly: the room counts them out.
    await waitFor(() => statsOf(room), (stats) => stats.sseReaders === 0, { what: "the readers counted out" });
  });

  it("admits MAX_SSE_READERS readers, answers one more 429 rate_limited, and admits again once one leaves abruptly", async () => {
    const room = "bounds-limit";
    const sockets = await Promise.all(Array.from({ length: MAX_SSE_READERS }, () => stalledReader(server, room)));
    try {
      const refused = await fetch(`${server.origin}/parties/main/${room}/events`, { headers: { Accept: "text/event-stream" } });
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
      sockets.pop()!.resetAndDestroy();
      // The runtime hears of a closed socket when it next writes to it: an event makes it write.
      await append(room);
      await waitFor(() => statsOf(room), (stats) => stats.sseReaders === MAX_SSE_READERS - 1, { what: "one reader counted out" });
      sockets.push(await stalledReader(server, room));
    } finally {
      for (const socket of sockets) socket.resetAndDestroy();
    }
    await append(room);
    await waitFor(() => statsOf(room), (stats) => stats.sseReaders === 0, { what: "every reader counted out" });
  });
});
