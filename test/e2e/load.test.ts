// 1,000 sockets on one room under `wrangler dev` (loopback, bounded): every socket receives every
// broadcast, and all close cleanly.
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

const SOCKETS = 1_000;
const OPEN_BATCH = 100;
const WRITERS = 4;
const CHANGES_PER_WRITER = 20;

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

  it("delivers every broadcast to every socket", async () => {
    await fetch(`${server.origin}/parties/main/crowd/store`, { method: "PUT", body: "[{},{}]" });
    const received = new Array<Set<string>>(SOCKETS);
    for (let start = 0; start < SOCKETS; start += OPEN_BATCH) {
      await Promise.all(
        Array.from({ length: Math.min(OPEN_BATCH, SOCKETS - start) }, (_, k) => {
          const index = start + k;
          received[index] = new Set();
          return new Promise<void>((resolve, reject) => {
            const socket = new WebSocket(`ws://${server.host}/parties/main/crowd`);
            sockets.push(socket);
            socket.on("open", () => resolve());
            socket.on("error", reject);
            socket.on("message", (data) => {
              const frame = String(data);
              if (!frame.startsWith("s")) return;
              const [tables] = JSON.parse(frame.slice(1));
              for (const [rowId, row] of Object.entries<Record<string, unknown>>(tables.crowd ?? {})) {
                for (const cellId of Object.keys(row)) received[index].add(`${rowId}/${cellId}`);
              }
            });
          });
        }),
      );
    }
    // The first sockets write; every other socket must see every change.
    for (let n = 0; n < CHANGES_PER_WRITER; n++) {
      for (let w = 0; w < WRITERS; w++) sockets[w].send("s" + JSON.stringify([{ crowd: { [`w${w}`]: { [`c${n}`]: n } } }, {}, 1]));
    }
    const expected = WRITERS * CHANGES_PER_WRITER;
    await waitFor(
      () => received.slice(WRITERS).filter((cells) => cells.size === expected).length,
      (complete) => complete === SOCKETS - WRITERS,
      { what: "every reader to receive every change", timeoutMs: 45_000 },
    );
    // Writers get the others' changes, not their own.
    for (let w = 0; w < WRITERS; w++) expect(received[w].size).toBe(expected - CHANGES_PER_WRITER);
    const closed = sockets.map((socket) => new Promise((resolve) => socket.on("close", resolve)));
    sockets.forEach((socket) => socket.close());
    await Promise.all(closed);
    expect((await fetch(`${server.origin}/parties/main/crowd/store`)).status).toBe(200);
  });
});
