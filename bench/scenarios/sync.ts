// Scenario 8: TinyBase synchronizer clients (createWsSynchronizer over a MergeableStore, unmodified)
// against roomstore's `{room}/sync` and TinyBase's own Durable Object server. Convergence of
// concurrent writers; a fresh client joining a large room; the server's memory.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createMergeableStore, type MergeableStore } from "tinybase";
import { createWsSynchronizer } from "tinybase/synchronizers/synchronizer-ws-client";
import { WebSocket } from "ws";
import { forEachTarget, metric, ratioMetric } from "../scenario.ts";
import type { RunningTarget, Scenario, ScenarioContext } from "../scenario.ts";
import { median, summarize } from "../stats.ts";

const WRITERS = 4;
const CELLS_PER_ROW = 5;
/** Cells per filling transaction: under roomstore's default MAX_CELLS_PER_CHANGE (10,000). */
const FILL_CELLS_PER_CHANGE = 5_000;
const JOINS = 3;
/** Untimed joins first: the client code in this process is then compiled, whichever target runs first. */
const WARMUP_JOINS = 2;
const CONVERGE_TIMEOUT_MS = 120_000;
const JOIN_TIMEOUT_MS = 30_000;

const changesPerWriter = (quick: boolean) => (quick ? 100 : 500);
const joinCells = (quick: boolean) => (quick ? 10_000 : 50_000);

const syncUrl = (host: string, room: string) => `ws://${host}/parties/main/${room}/sync`;

/** A synchronizer client; `onFrame` hears each frame's arrival, before the client reads it. */
const connect = async (host: string, room: string, store: MergeableStore = createMergeableStore(), onFrame?: () => void) => {
  const socket = new WebSocket(syncUrl(host, room));
  if (onFrame) socket.on("message", onFrame);
  const synchronizer = await createWsSynchronizer(store, socket);
  await synchronizer.startSync();
  return { store, close: () => synchronizer.destroy() };
};

const waitUntil = async (done: () => boolean, timeoutMs: number, what: string) => {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
};

const cellCount = (store: MergeableStore) => {
  let cells = 0;
  for (const rowId of store.getRowIds("t")) cells += store.getCellIds("t", rowId).length;
  return cells;
};

/** Resident memory of the server's workerd processes (its process group), in MB. */
const workerdMb = (target: RunningTarget): number => {
  const port = new URL(target.server.origin).port;
  const listing = execFileSync("ss", ["-ltnpH", `sport = :${port}`], { encoding: "utf8" });
  const pid = listing.match(/pid=(\d+)/)?.[1];
  if (!pid) throw new Error(`no process listens on port ${port}`);
  const group = execFileSync("ps", ["-o", "pgid=", "-p", pid], { encoding: "utf8" }).trim();
  let kb = 0;
  for (const line of execFileSync("ps", ["-o", "pid=,comm=", "-g", group], { encoding: "utf8" }).trim().split("\n")) {
    const [processId, command] = line.trim().split(/\s+/);
    if (command !== "workerd") continue;
    kb += Number(readFileSync(`/proc/${processId}/status`, "utf8").match(/VmRSS:\s+(\d+)/)?.[1] ?? 0);
  }
  return kb / 1024;
};

export const sync: Scenario = {
  name: "sync",
  title: "8. TinyBase synchronizer clients (MergeableStore)",
  protocol: "synchronizer",
  parameters: (options) => [
    `unmodified tinybase 10 clients: createWsSynchronizer(createMergeableStore(), new WebSocket(url)) over \`ws\`, all in this process`,
    `convergence: ${WRITERS} clients each set ${changesPerWriter(options.quick)} cells (one row each, one message per setCell), all at once; ` +
      `changes/s = all changes ÷ time until every client holds all of them; latency = a change's send to its arrival at another client; then a fresh client must load them all`,
    `join: a room filled with ${joinCells(options.quick)} cells (${CELLS_PER_ROW} a row, ${FILL_CELLS_PER_CHANGE} per transaction); ` +
      `time from a fresh client's connect until its content equals the room's, median of ${JOINS} after ${WARMUP_JOINS} untimed, each after a change to one cell, then once more with no change; ` +
      `split at the arrival of the last frame before that: the server's part (connect, requests, the answers' arrival) and the client's own (decoding and applying them, the same work whoever serves it)`,
    `memory: resident memory of the server's workerd processes after the joins (and its growth since before the fill), MB`,
  ],
  metrics: () => [
    metric("rate", "convergence, changes/s", "higher", 0),
    metric("p50", "change latency, median ms", "lower", 1),
    metric("p99", "change latency, p99 ms", "lower", 1),
    metric("lost", "changes lost", "none", 0),
    metric("join", "join of a fresh client, ms", "lower", 0),
    metric("joinServer", "of which the server's part, ms", "lower", 0),
    metric("joinClient", "of which the client's own decoding and applying, ms", "lower", 0),
    metric("joinRepeat", "join again, nothing changed since the last join, ms", "lower", 0),
    metric("joinFloor", "the client alone: parsing and applying the same content in memory, no server, ms", "lower", 0),
    ratioMetric("joinOverFloor", "join ÷ the client alone"),
    metric("rss", "workerd memory after the joins, MB", "lower", 0),
    metric("growth", "workerd memory growth, MB", "lower", 0),
  ],
  async run(context) {
    await forEachTarget(context, ["rate", "p50", "p99", "lost"], (target) => converge(context, target));
    await forEachTarget(context, ["join", "joinServer", "joinClient", "joinRepeat", "joinFloor", "joinOverFloor", "rss", "growth"], (target) => join(context, target));
  },
};

async function converge(context: ScenarioContext, target: RunningTarget): Promise<void> {
  const room = `sync-converge-${context.options.runId}`;
  const changes = changesPerWriter(context.options.quick);
  const total = WRITERS * changes;
  const clients = await Promise.all(Array.from({ length: WRITERS }, () => connect(target.server.host, room)));
  const latencies: number[] = [];
  try {
    clients.forEach(({ store }, index) =>
      store.addCellListener("t", null, "at", (_store, _tableId, rowId, _cellId, sentAt) => {
        if (!rowId.startsWith(`w${index}-`)) latencies.push(performance.now() - (sentAt as number));
      }),
    );
    const started = performance.now();
    for (let change = 0; change < changes; change++) {
      clients.forEach(({ store }, index) => store.setCell("t", `w${index}-${change}`, "at", performance.now()));
    }
    await waitUntil(() => clients.every(({ store }) => store.getRowCount("t") === total), CONVERGE_TIMEOUT_MS, `${total} changes at every client`);
    const seconds = (performance.now() - started) / 1000;
    const summary = summarize(latencies);
    context.sink.record(target.name, "rate", total / seconds);
    context.sink.record(target.name, "p50", summary.p50);
    context.sink.record(target.name, "p99", summary.p99);
    // What the room kept: a client that was never there must load every change.
    const fresh = await connect(target.server.host, room);
    await waitUntil(() => fresh.store.getRowCount("t") === total, JOIN_TIMEOUT_MS, "a fresh client to load every change").catch(() => undefined);
    context.sink.record(target.name, "lost", total - fresh.store.getRowCount("t"));
    await fresh.close();
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/**
 * What a join costs the client alone, whoever serves it: parsing a fresh client's answer (every
 * table, as JSON) and applying it to an empty MergeableStore, in this process, median of 3.
 */
const clientFloor = (store: MergeableStore): number => {
  const answer = JSON.stringify(store.getMergeableTableDiff({}));
  const times: number[] = [];
  for (let attempt = 0; attempt < JOINS; attempt++) {
    const started = performance.now();
    const [tables] = JSON.parse(answer);
    createMergeableStore().applyMergeableChanges([tables, [{}], 1]);
    times.push(performance.now() - started);
  }
  return median(times);
};

async function join(context: ScenarioContext, target: RunningTarget): Promise<void> {
  const room = `sync-join-${context.options.runId}`;
  const cells = joinCells(context.options.quick);
  const before = workerdMb(target);
  const filler = await connect(target.server.host, room);
  for (let first = 0; first < cells; first += FILL_CELLS_PER_CHANGE) {
    filler.store.transaction(() => {
      for (let cell = first; cell < Math.min(cells, first + FILL_CELLS_PER_CHANGE); cell++) {
        filler.store.setCell("t", `r${Math.floor(cell / CELLS_PER_ROW)}`, `c${cell % CELLS_PER_ROW}`, cell);
      }
    });
  }
  let [tablesHash] = filler.store.getMergeableContentHashes();
  const holdsAll = (store: MergeableStore) => store.getMergeableContentHashes()[0] === tablesHash && cellCount(store) === cells;
  // Untimed: until a client that joins finds everything (the room may still be storing the fill).
  // That client stays, to tell when the room has each later change.
  let watcher: Awaited<ReturnType<typeof connect>> | undefined;
  for (let attempt = 0; !watcher; attempt++) {
    const checker = await connect(target.server.host, room);
    if (await waitUntil(() => holdsAll(checker.store), 10_000, "the fill").then(() => true, () => false)) watcher = checker;
    else await checker.close();
    if (!watcher && attempt === 5) throw new Error("the room never held the whole fill");
  }
  const times: number[] = [];
  const serverParts: number[] = [];
  const clientParts: number[] = [];
  // Each timed join follows a change (a server may keep what it derives from unchanged content);
  // one more, last, joins content that did not change since the join before.
  for (let attempt = -WARMUP_JOINS; attempt <= JOINS; attempt++) {
    if (attempt < JOINS) {
      filler.store.setCell("t", "r0", "c0", -100 - attempt);
      [tablesHash] = filler.store.getMergeableContentHashes();
      await waitUntil(() => watcher.store.getMergeableContentHashes()[0] === tablesHash, 10_000, "the room to hold the change");
    }
    const started = performance.now();
    let lastFrame = started;
    const client = await connect(target.server.host, room, undefined, () => (lastFrame = performance.now()));
    await waitUntil(() => holdsAll(client.store), JOIN_TIMEOUT_MS, `a fresh client to hold ${cells} cells (TinyBase's 1 s request timeout may have passed)`);
    const done = performance.now();
    await client.close();
    if (attempt < 0) continue;
    if (attempt === JOINS) {
      context.sink.record(target.name, "joinRepeat", done - started);
      break;
    }
    times.push(done - started);
    serverParts.push(lastFrame - started);
    clientParts.push(done - lastFrame);
  }
  const floor = clientFloor(filler.store);
  context.sink.record(target.name, "joinFloor", floor);
  await Promise.all([filler.close(), watcher.close()]);
  context.sink.record(target.name, "join", median(times));
  context.sink.record(target.name, "joinOverFloor", median(times) / floor);
  context.sink.record(target.name, "joinServer", median(serverParts));
  context.sink.record(target.name, "joinClient", median(clientParts));
  const after = workerdMb(target);
  context.sink.record(target.name, "rss", after);
  context.sink.record(target.name, "growth", after - before);
}
