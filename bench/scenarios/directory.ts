// Scenario 12: what one room directory object accepts (docs/design.md, "The room directory").
// Synthetic reports sent from the worker straight to the `main` party's directory object (a wrangler
// dev of bench/directory/, the room's worker plus that one route), as rooms send theirs: one at a
// time (each report's round trip), and many in flight (the directory groups the reports that wait
// into one storage write). And end to end on the roomstore target: rooms written once each, at once,
// until every one of them is listed.
import path from "node:path";
import { startServer, type RunningServer } from "../../test/support/servers.ts";
import { waitFor } from "../../test/support/wait.ts";
import { metric } from "../scenario.ts";
import type { RunOptions, Scenario } from "../scenario.ts";
import { summarize } from "../stats.ts";

const IN_FLIGHT = 64;
/** Reports per request to the bench route: below the 1,000 subrequests a Workers request may make. */
const REPORTS_PER_CALL = 900;
const NAMES = 5_000;
const reportsFor = (options: RunOptions): number => (options.quick ? 900 : 9_000);
const roomsFor = (options: RunOptions): number => (options.quick ? 50 : 200);
const KEYS = ["serial.rate", "serial.mean", "parallel.rate", "parallel.p99", "listed.ms"];

export const directory: Scenario = {
  name: "directory",
  title: "12. Room directory: reports one directory object accepts",
  parameters: (options) => [
    `reports: ${reportsFor(options)} synthetic reports over ${NAMES} room names from a worker to the directory object (bench/directory/), ${REPORTS_PER_CALL} per request; ` +
      `"1 at a time": each waits for the last one's answer; "${IN_FLIGHT} in flight": ${IN_FLIGHT} lanes at once`,
    `listed: ${roomsFor(options)} rooms of the roomstore target written once each (a PUT), all at once; time from the first PUT until the listing shows every one of them`,
    "the other targets have no directory: n/a",
  ],
  metrics: () => [
    metric("serial.rate", "reports/s, 1 at a time", "higher", 0),
    metric("serial.mean", "report round trip, mean ms (1 at a time)", "lower", 2),
    metric("parallel.rate", `reports/s, ${IN_FLIGHT} in flight`, "higher", 0),
    metric("parallel.p99", `report round trip p99 ms, ${IN_FLIGHT} in flight`, "lower", 1),
    metric("listed.ms", `${roomsFor({ quick: false, runId: "" })} rooms written → all listed ms`, "lower", 0),
  ],
  async run(context) {
    const { options } = context;
    for (const target of context.targets) if (target.name !== "roomstore") for (const key of KEYS) context.sink.record(target.name, key, "n/a");
    let server: RunningServer | undefined;
    try {
      server = await startServer({ kind: "wrangler", cwd: path.join(import.meta.dirname, "../directory") });
      let from = 1;
      const send = async (count: number, inFlight: number) => {
        const latencies: number[] = [];
        let ms = 0;
        for (let sent = 0; sent < count; sent += REPORTS_PER_CALL) {
          const response = await fetch(`${server!.origin}/bench/reports?count=${REPORTS_PER_CALL}&inFlight=${inFlight}&names=${NAMES}&from=${from}`, { method: "POST" });
          const result = (await response.json()) as { ms: number; applied: number; latencies: number[] };
          if (result.applied !== REPORTS_PER_CALL) throw new Error(`${REPORTS_PER_CALL - result.applied} reports not applied`);
          from += REPORTS_PER_CALL;
          ms += result.ms;
          latencies.push(...result.latencies);
        }
        return { rate: (count / ms) * 1000, summary: summarize(latencies) };
      };
      await send(REPORTS_PER_CALL, IN_FLIGHT); // warm-up
      const serial = await send(reportsFor(options), 1);
      context.sink.record("roomstore", "serial.rate", serial.rate);
      // workerd's clock moves in whole milliseconds around I/O, finer than one round trip: the mean, from the rate.
      context.sink.record("roomstore", "serial.mean", 1000 / serial.rate);
      const parallel = await send(reportsFor(options), IN_FLIGHT);
      context.sink.record("roomstore", "parallel.rate", parallel.rate);
      context.sink.record("roomstore", "parallel.p99", parallel.summary.p99);
    } catch (error) {
      context.sink.fail("roomstore", KEYS.slice(0, 4), error);
    } finally {
      await server?.stop();
    }
    const target = context.targets.find((candidate) => candidate.name === "roomstore");
    if (!target?.server) return context.sink.fail("roomstore", ["listed.ms"], target?.startError);
    try {
      const origin = target.server.origin;
      const prefix = `dir-${options.runId}-`;
      const rooms = Array.from({ length: roomsFor(options) }, (_, i) => `${prefix}${String(i).padStart(4, "0")}`);
      const started = performance.now();
      await Promise.all(rooms.map((room) => fetch(`${origin}/parties/main/${room}/store`, { method: "PUT", body: '[{"t":{"r":{"c":1}}},{}]' }).then((response) => response.body?.cancel())));
      const count = async () => {
        let listed = 0;
        for (let after: string | null = ""; after !== null; ) {
          const page = (await (await fetch(`${origin}/parties/main?prefix=${prefix}&limit=1000${after ? `&after=${after}` : ""}`)).json()) as { rooms: unknown[]; next: string | null };
          listed += page.rooms.length;
          after = page.next;
        }
        return listed;
      };
      await waitFor(count, (listed) => listed === rooms.length, { timeoutMs: 60_000, everyMs: 50, what: "every room listed" });
      context.sink.record("roomstore", "listed.ms", performance.now() - started);
    } catch (error) {
      context.sink.fail("roomstore", ["listed.ms"], error);
    }
  },
};
