// Scenario 14: presence. 64 sockets in one room each set their presence state at a fixed rate
// (open loop, as a cursor that moves); every state carries its sender and its send time, so each
// arrival at another socket is one latency sample. The room coalesces (one frame per socket every
// PRESENCE_INTERVAL_MS, 50, the last state of each connection winning), so an update overtaken by
// its sender's next one within the interval is never delivered: "delivered %" counts the updates
// seen, and "last states" checks that every socket ends with every other's last state.
// The relay relays every frame to every other socket uncoalesced: the runtime's floor for the
// same fan-out. TinyBase's server has no presence (n/a).
import type WebSocket from "ws";
import { ROOM_MESSAGE } from "../../party/protocol.ts";
import { closeSockets, openSockets, sleep, waitFor } from "../load.ts";
import { forEachTarget, metric } from "../scenario.ts";
import type { MetricSpec, RunningTarget, RunOptions, Scenario, ScenarioContext } from "../scenario.ts";
import { createSamples, summarize } from "../stats.ts";

const SOCKETS = 64;
/** Updates per second per socket: a cursor nudged now and then, and one dragged (a 33 ms throttle). */
const RATES = [5, 30];
const DRAIN_MS = 3_000;
/** Targets that keep presence; the relay is measured as the floor, TinyBase's server has none. */
const HAS_PRESENCE = new Set(["roomstore", "roomstore-live"]);
const RELAYS = "relay";

const durationMs = (options: RunOptions): number => (options.quick ? 2_000 : 5_000);

/** What every update carries: its sender, its number from that sender, and its send time. */
interface Stamp {
  k: number;
  n: number;
  s: number;
}

export const presence: Scenario = {
  name: "presence",
  title: "14. Presence fanned out to 64 sockets",
  parameters: (options) => [
    `${SOCKETS} raw sockets in one room; each sets x{"t":"presence","state":{k,n,s}} ${RATES.join(" and then ")} times a second for ${durationMs(options)} ms (open loop, senders spread over the interval): ${RATES.map((rate) => (rate * SOCKETS).toLocaleString("en")).join(" and ")} updates/s offered`,
    `latency = arrival at another socket − send time (s), over every update delivered; the room coalesces (PRESENCE_INTERVAL_MS = 50, last state wins), the relay sends each frame on`,
    `delivered updates/s = states received by all sockets from others, per second; delivered % = of sent × ${SOCKETS - 1}; last states % = receivers that end with every other socket's last state (awaited up to ${DRAIN_MS} ms)`,
  ],
  metrics: () =>
    RATES.flatMap((rate): MetricSpec[] => [
      metric(`delivered.${rate}`, `${rate}/s each: delivered updates/s`, "higher", 0),
      metric(`p50.${rate}`, `${rate}/s each: latency p50 ms`, "lower", 1),
      metric(`p99.${rate}`, `${rate}/s each: latency p99 ms`, "lower", 1),
      metric(`frames.${rate}`, `${rate}/s each: frames received per socket per s`, "none", 0),
      metric(`share.${rate}`, `${rate}/s each: delivered %`, "none", 1),
      metric(`last.${rate}`, `${rate}/s each: last states %`, "higher", 1),
    ]),
  async run(context) {
    const keys = presence.metrics(context.options).map((spec) => spec.key);
    await forEachTarget(context, keys, async (target) => {
      if (!HAS_PRESENCE.has(target.name) && target.name !== RELAYS) return keys.forEach((key) => context.sink.record(target.name, key, "n/a"));
      for (const rate of RATES) await measure(context, target, rate);
    });
  },
};

/** The stamps a frame carries that `me` should count (never its own). */
function stampsOf(text: string, me: number): Stamp[] {
  if (!text.startsWith(ROOM_MESSAGE)) return [];
  const message = JSON.parse(text.slice(ROOM_MESSAGE.length)) as { t?: string; set?: Record<string, unknown>; state?: unknown };
  if (message.t !== "presence") return [];
  // The room's coalesced frame holds one state per connection; the relay passes the sender's frame on.
  const states = message.set ? Object.values(message.set) : [message.state];
  return states.filter((state): state is Stamp => isStamp(state) && state.k !== me);
}

const isStamp = (state: unknown): state is Stamp =>
  typeof state === "object" && state !== null && typeof (state as Stamp).k === "number" && typeof (state as Stamp).s === "number";

async function measure(context: ScenarioContext, target: RunningTarget, rate: number): Promise<void> {
  const room = `presence-${rate}-${context.options.runId}`;
  const sockets = await openSockets(target.server.host, room, SOCKETS);
  try {
    const duration = durationMs(context.options);
    const planned = Math.round((duration * rate) / 1000);
    const latencies = createSamples(planned * SOCKETS * (SOCKETS - 1));
    let delivered = 0;
    let frames = 0;
    /** What each receiver last saw of each sender: its n. */
    const seen = sockets.map(() => new Int32Array(SOCKETS).fill(-1));
    sockets.forEach((socket: WebSocket, me) => {
      socket.on("message", (data, isBinary) => {
        if (isBinary) return;
        const stamps = stampsOf(data.toString(), me);
        if (stamps.length === 0) return;
        frames++;
        const now = performance.now();
        for (const stamp of stamps) {
          delivered++;
          latencies.add(now - stamp.s);
          seen[me][stamp.k] = Math.max(seen[me][stamp.k], stamp.n);
        }
      });
    });

    // Open loop: socket k's update n is due at start + (n + k / SOCKETS) / rate seconds.
    const intervalMs = 1000 / rate;
    const start = performance.now();
    for (let tick = 0; tick < planned * SOCKETS; ) {
      const now = performance.now();
      while (tick < planned * SOCKETS && start + (tick / SOCKETS) * intervalMs <= now) {
        const k = tick % SOCKETS;
        const n = Math.floor(tick / SOCKETS);
        const s = Math.round(performance.now() * 1000) / 1000;
        sockets[k].send(`${ROOM_MESSAGE}${JSON.stringify({ t: "presence", state: { k, n, s } })}`);
        tick++;
      }
      await sleep(Math.max(0, start + (tick / SOCKETS) * intervalMs - performance.now()));
    }
    const elapsed = (performance.now() - start) / 1000;
    const last = planned - 1;
    const complete = (me: number) => seen[me].every((n, k) => k === me || n === last);
    await waitFor({
      done: () => sockets.every((_socket, me) => complete(me)),
      progress: () => delivered,
      stalledMs: DRAIN_MS,
      deadline: performance.now() + DRAIN_MS,
    });
    const summary = summarize(latencies.values());
    const record = (key: string, value: number | string): void => context.sink.record(target.name, `${key}.${rate}`, value);
    record("delivered", delivered / elapsed);
    record("p50", summary.count ? summary.p50 : "none received");
    record("p99", summary.count ? summary.p99 : "none received");
    record("frames", frames / SOCKETS / elapsed);
    record("share", (100 * delivered) / (planned * SOCKETS * (SOCKETS - 1)));
    record("last", (100 * sockets.filter((_socket, me) => complete(me)).length) / SOCKETS);
  } finally {
    closeSockets(sockets);
  }
}
