// Scenario 13: time travel. `GET /store?at=` at positions spread over a long log, against a plain
// GET: each read starts at the newest checkpoint at or before its position and replays fewer than
// CHECKPOINT_EVENTS (1,000) `$store` events, so its cost stays flat in the length of the log.
// The positions just before a checkpoint are the worst case (999 events to replay).
// Only targets with an event log are measured.
import { createTables } from "../fixtures.ts";
import { importBody } from "./export-import.ts";
import { closeSockets, countCells, encodeCell, openSockets, putStore, storeUrl, type Content } from "../load.ts";
import { forEachTarget, metric } from "../scenario.ts";
import type { RunningTarget, RunOptions, Scenario, ScenarioContext } from "../scenario.ts";
import { median } from "../stats.ts";

/** Store cells before the changes start: 100 rows of 10 cells. */
const STORE_CELLS = 1_000;
/** Frames sent before the scenario waits for the room to have logged them (bounded in flight). */
const SEND_WINDOW = 2_000;
/**
 * Sockets the changesets are spread over: a socket may send MAX_MESSAGES_PER_SECOND (1,000) frames
 * a second after a burst of MESSAGE_BURST (10,000), so 16 of them carry 100,000 frames at once.
 */
const SOCKETS = 16;
const FILL_TIMEOUT_MS = 600_000;

const logSize = (options: RunOptions) => (options.quick ? 10_000 : 100_000);
const repetitions = (options: RunOptions) => (options.quick ? 3 : 9);
/** Positions read: just before a checkpoint early, in the middle and at the end of the log, then the head. */
const positions = (options: RunOptions) => {
  const size = logSize(options);
  return [999, 1_999, size / 2 - 1, size - 1];
};
const positionKey = (at: number) => `at.${at}`;

export const timeTravel: Scenario = {
  name: "time-travel",
  title: "13. Time travel: the store at a log position",
  parameters: (options) => [
    `a room of ${STORE_CELLS.toLocaleString("en")} cells (one PUT), then ${logSize(options).toLocaleString("en")} one-cell changesets over ${SOCKETS} WebSockets, ${SEND_WINDOW.toLocaleString("en")} in flight at most: a log of ${(logSize(options) + 1).toLocaleString("en")} $store events`,
    `CHECKPOINT_EVENTS = 1,000 (the default): a checkpoint at seqs 1,000, 2,000, …; positions ${positions(options).map((at) => at.toLocaleString("en")).join(", ")} each replay 999 events from the checkpoint before them (the worst case), 999 from the empty store for the first`,
    `each figure: median of ${repetitions(options)} sequential GET /store?at=N after one untimed read; time to the last body byte. "head" reads ?at= the head (no replay), "plain" is GET /store`,
    `imported copy: the room exported and imported into a new room (an import writes no checkpoints); its first read near the end replays the whole log and puts the checkpoints it passes, the reads after it start from them`,
  ],
  metrics: (options) => [
    metric("fill", "changesets/s logged while filling", "higher", 0),
    ...positions(options).map((at) => metric(positionKey(at), `GET ?at=${at.toLocaleString("en")} ms`, "lower", 1)),
    metric("at.head", "GET ?at=head ms", "lower", 1),
    metric("plain", "plain GET ms", "lower", 1),
    metric("imported.first", `imported copy, first GET ?at=${(logSize(options) - 1).toLocaleString("en")} ms`, "lower", 1),
    metric("imported.then", `imported copy, GET ?at=${(logSize(options) - 1).toLocaleString("en")} after it ms`, "lower", 1),
  ],
  async run(context: ScenarioContext) {
    const keys = ["fill", ...positions(context.options).map(positionKey), "at.head", "plain", "imported.first", "imported.then"];
    await forEachTarget(context, keys, async (target) => {
      if (!target.events) {
        for (const key of keys) context.sink.record(target.name, key, "n/a");
        return;
      }
      const room = `time-travel-${context.options.runId}`;
      context.sink.record(target.name, "fill", await fill(context, target, room));
      const head = logSize(context.options) + 1;
      for (const at of positions(context.options)) context.sink.record(target.name, positionKey(at), await timedRead(target, room, context.options, { at }));
      context.sink.record(target.name, "at.head", await timedRead(target, room, context.options, { at: head }));
      context.sink.record(target.name, "plain", await timedRead(target, room, context.options));
      // An imported log has no checkpoints: its first read replays from the start and puts them.
      const copy = `${room}-imported`;
      const exported = await fetch(`${target.server.origin}/parties/main/${room}/export`);
      await importBody(target, copy, exported.body!);
      const at = logSize(context.options) - 1;
      context.sink.record(target.name, "imported.first", await timedRead(target, copy, context.options, { at, untimed: false, repetitions: 1 }));
      context.sink.record(target.name, "imported.then", await timedRead(target, copy, context.options, { at }));
    });
  },
};

const headOf = async (target: RunningTarget, room: string): Promise<number> => {
  const response = await fetch(`${target.server.origin}/parties/main/${encodeURIComponent(room)}/events?after=past-events`);
  return ((await response.json()) as { head: number }).head;
};

/** Fills the room; returns changesets logged per second. */
async function fill(context: ScenarioContext, target: RunningTarget, room: string): Promise<number> {
  const size = logSize(context.options);
  if ((await putStore(target.server.origin, room, [createTables(STORE_CELLS), {}])) !== 201) throw new Error("the first PUT was refused");
  const sockets = await openSockets(target.server.host, room, SOCKETS);
  const started = performance.now();
  try {
    for (let sent = 0; sent < size; ) {
      const window = Math.min(SEND_WINDOW, size - sent);
      for (let i = 0; i < window; i++, sent++) sockets[sent % SOCKETS].send(encodeCell("t", `r${sent % 100}`, "c0", sent));
      // Wait for the room to have logged what was sent, so that nothing piles up in a buffer.
      for (let waited = performance.now(); (await headOf(target, room)) < sent + 1; ) {
        if (performance.now() - waited > FILL_TIMEOUT_MS) throw new Error(`the room logged too slowly (${sent} sent)`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      if (sent % 20_000 === 0) context.log(`${target.name}: ${sent} changesets logged`);
    }
  } finally {
    closeSockets(sockets);
  }
  return size / ((performance.now() - started) / 1000);
}

/** The median time of a read (`at` undefined: a plain GET), after one untimed read; checks its ETag and size. */
async function timedRead(
  target: RunningTarget,
  room: string,
  options: RunOptions,
  { at, untimed = true, repetitions: count = repetitions(options) }: { at?: number; untimed?: boolean; repetitions?: number } = {},
): Promise<number> {
  const url = storeUrl(target.server.origin, room) + (at === undefined ? "" : `?at=${at}`);
  const read = async () => {
    const started = performance.now();
    const response = await fetch(url);
    const text = await response.text();
    const ms = performance.now() - started;
    if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}: ${text.slice(0, 200)}`);
    // Every event is a $store event: the ETag is the position read, and the store keeps its cells.
    const etag = response.headers.get("ETag");
    if (etag !== `"${at ?? logSize(options) + 1}"`) throw new Error(`GET ${url}: ETag ${etag}`);
    if (countCells(JSON.parse(text) as Content) !== STORE_CELLS) throw new Error(`GET ${url}: not ${STORE_CELLS} cells`);
    return ms;
  };
  if (untimed) await read();
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(await read());
  return median(times);
}
