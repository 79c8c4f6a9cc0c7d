// The three servers that every scenario measures in the same run.
import path from "node:path";
import { type RunningServer, startServer } from "../test/support/servers.ts";

export const TARGET_NAMES = ["roomstore", "roomstore-live", "tinybase", "relay", "tinybase-sync"] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** Ratio columns: roomstore (hibernating, the default) and roomstore-live against each baseline. */
export const SUBJECTS: readonly TargetName[] = ["roomstore", "roomstore-live"];
export const BASELINES: readonly TargetName[] = ["tinybase", "relay", "tinybase-sync"];

/** What clients a target serves: TinyBase's persister (`{prefix}s` frames) or its WsSynchronizer. */
export type Protocol = "persister" | "synchronizer";

export interface TargetSpec {
  name: TargetName;
  kind: "wrangler" | "partykit";
  /** Project directory holding wrangler.toml or partykit.json. */
  cwd: string;
  /** Keeps a TinyBase store (GET /store returns what was written). The relay does not: it keeps a PUT body as text (bench/relay/store.ts). */
  stores: boolean;
  /** Serves the roomstore event API (GET/POST /events, SSE). For event-log scenarios. */
  events: boolean;
  /** The client protocols it serves; a scenario runs against the targets that serve its protocol. */
  protocols: readonly Protocol[];
  description: string;
}

const here = (relative: string): string => path.join(import.meta.dirname, relative);

export const TARGET_SPECS: readonly TargetSpec[] = [
  {
    name: "roomstore",
    kind: "wrangler",
    cwd: here(".."),
    stores: true,
    events: true,
    protocols: ["persister", "synchronizer"],
    description: "this repo's room (party/), default class Room (hibernating sockets), wrangler dev",
  },
  {
    name: "roomstore-live",
    kind: "wrangler",
    cwd: here("./live"),
    stores: true,
    events: true,
    protocols: ["persister"],
    description: "the same room as LiveRoom (sockets kept in memory, no hibernation), wrangler dev",
  },
  {
    name: "tinybase",
    kind: "partykit",
    cwd: here("./tinybase"),
    stores: true,
    events: false,
    protocols: ["persister"],
    description: "TinyBasePartyKitServer unmodified (bench/tinybase), partykit dev",
  },
  {
    name: "relay",
    kind: "wrangler",
    cwd: here("./relay"),
    stores: false,
    events: false,
    protocols: ["persister"],
    description: "bare partyserver relay (bench/relay), wrangler dev; stores only the snapshot scenario's body, as text",
  },
  {
    name: "tinybase-sync",
    kind: "wrangler",
    cwd: here("./tinybase-sync"),
    stores: true,
    events: false,
    protocols: ["synchronizer"],
    description: "TinyBase's WsServerDurableObject unmodified, fragmented Durable Object SQL persister (bench/tinybase-sync), wrangler dev",
  },
];

export interface Target extends TargetSpec {
  /** Undefined when the server did not start; `startError` says why. */
  server: RunningServer | undefined;
  startError: string | undefined;
}

/** Starts the servers one after the other (2 cores: parallel starts only slow each other down). */
export async function startTargets(specs: readonly TargetSpec[], log: boolean): Promise<Target[]> {
  const targets: Target[] = [];
  for (const spec of specs) {
    const started = performance.now();
    try {
      const server = await startServer({ kind: spec.kind, cwd: spec.cwd, log });
      targets.push({ ...spec, server, startError: undefined });
      process.stderr.write(`bench: ${spec.name} up at ${server.origin} in ${Math.round(performance.now() - started)} ms\n`);
    } catch (error) {
      const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
      targets.push({ ...spec, server: undefined, startError: `server did not start: ${message}` });
      process.stderr.write(`bench: ${spec.name} failed to start: ${String(error)}\n`);
    }
  }
  return targets;
}

export async function stopTargets(targets: readonly Target[]): Promise<void> {
  await Promise.allSettled(targets.map((target) => target.server?.stop()));
}
