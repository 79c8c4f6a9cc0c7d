// Starts real dev servers (`wrangler dev`, `partykit dev`) for e2e tests and
// benchmarks, on 127.0.0.1 only, with storage in a directory that survives
// restart().
//
// Invariants:
// - Each server runs in its own process group (detached), so stop() kills the
//   CLI and everything it spawned (workerd, esbuild) with one signal.
// - stop() resolves only once the whole group is gone, so a restart on the
//   same port never races the old workerd for the socket.
// - Whatever is still running when this Node process exits is SIGKILLed, and
//   the temp dirs created here are removed then (not on stop(), so a caller
//   may still start another server on the same persistDir).
// tsconfig.json lists only the Workers types; this file runs in Node.
/// <reference types="node" />
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { type Socket, createServer } from "node:net";
import { constants, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { listenersOf } from "./listeners.ts";

export interface ServerOptions {
  kind: "wrangler" | "partykit";
  /** Project dir (holds wrangler.toml / partykit.json); default the repo root. */
  cwd?: string;
  /** Storage dir kept across restarts; default a fresh temp dir. */
  persistDir?: string;
  /** Passed as `--var KEY:VALUE` (wrangler) or `--var KEY=VALUE` (partykit). */
  vars?: Record<string, string>;
  /** Default: a free port. */
  port?: number;
  /** Echo the server's output to this process's stderr as it comes. */
  log?: boolean;
  /** The Node binary the CLI runs under; default this process's (process.execPath). */
  node?: string;
  /** The CLI's entry script, e.g. a consumer project's own wrangler; default the repository's. */
  cli?: string;
}

export interface RunningServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** 127.0.0.1:PORT */
  host: string;
  port: number;
  persistDir: string;
  stop(): Promise<void>;
  /** Stops, then starts again on the same port and persistDir. */
  restart(): Promise<void>;
  /** Captured stdout+stderr of every start so far, for debugging. */
  output(): string;
  /** The server's process group (its members: the CLI and its runtime), while it runs. */
  processGroup(): number | undefined;
}

const HOST = "127.0.0.1";
/** Starts on a port the OS picked, each on a new port if another process took the last. */
const START_ATTEMPTS = 3;
const SUPPORT_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(SUPPORT_DIR, "../..");
const PARTYKIT_LOOPBACK_HOOK = path.join(SUPPORT_DIR, "partykit-loopback.ts");
/** wrangler dev is ready in ~3 s here; a cold first run on 2 busy cores can take far longer. */
const READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 200;
const READY_FETCH_TIMEOUT_MS = 2_000;
/** Time between SIGTERM and SIGKILL for the process group. */
const STOP_GRACE_MS = 5_000;
/** After SIGKILL only unreaped zombies can remain (if PID 1 does not reap), and they hold no port. */
const STOP_AFTER_KILL_MS = 2_000;
const STOP_POLL_MS = 50;
/** Bound on captured output per server; the oldest text is dropped first. */
const MAX_OUTPUT_CHARS = 1_000_000;

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const cwd = path.resolve(options.cwd ?? REPO_ROOT);
  const persistDir = path.resolve(options.persistDir ?? createTempDir(`roomstore-${options.kind}-`));
  let port = options.port ?? (await freePort());
  let origin = `http://${HOST}:${port}`;
  let output = "";
  let outputOfThisStart = "";
  let child: ChildProcess | undefined;

  const append = (text: string): void => {
    if (options.log) process.stderr.write(text);
    output = (output + text).slice(-MAX_OUTPUT_CHARS);
    outputOfThisStart = (outputOfThisStart + text).slice(-MAX_OUTPUT_CHARS);
  };

  const start = async (): Promise<void> => {
    // wrangler dev's inspector would take 9229 when it looks free: two servers starting at once
    // (two in one test, or two test runs) race for it. Each start asks for a port of its own.
    const inspectorPort = await freePort();
    const [command, ...args] = commandLine({ ...options, port, persistDir, inspectorPort });
    outputOfThisStart = "";
    append(`$ ${[command, ...args].join(" ")}\n`);
    // Readiness is "the port answers, from our process group", so the port must not answer already.
    await assertPortFree(port);
    child = spawn(command, args, {
      cwd,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: childEnv(),
    });
    liveGroups.add(child);
    child.once("error", (error) => append(`spawn error: ${error.message}\n`));
    for (const stream of [child.stdout, child.stderr] as Socket[]) {
      stream.setEncoding("utf8").on("data", append);
      // A server left running must not keep a script alive on its own; the
      // exit handler below kills it when the script ends.
      stream.unref();
    }
    child.unref();
    try {
      await waitUntilServing(origin, port, child, () => outputOfThisStart);
    } catch (error) {
      await stopGroup(child);
      throw error;
    }
  };

  const stop = async (): Promise<void> => {
    if (child) await stopGroup(child);
    child = undefined;
  };

  // A port the OS picked can be taken by another process (another test run on the machine) before
  // the dev server binds it: a first start then tries another free port. A restart keeps its port,
  // and tries again only when its port is still free (what was taken was the inspector's).
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (error) {
      if (!(error instanceof PortTakenError) || options.port !== undefined || attempt >= START_ATTEMPTS) throw error;
      port = await freePort();
      origin = `http://${HOST}:${port}`;
    }
  }
  const restart = async (): Promise<void> => {
    await stop();
    for (let attempt = 1; ; attempt++) {
      try {
        await start();
        return;
      } catch (error) {
        if (!(error instanceof PortTakenError) || attempt >= START_ATTEMPTS) throw error;
      }
    }
  };
  return {
    origin,
    host: `${HOST}:${port}`,
    port,
    persistDir,
    stop,
    restart,
    output: () => output,
    processGroup: () => child?.pid,
  };
}

/** A TCP port that was free on 127.0.0.1 a moment ago (the OS picked it). */
export async function freePort(): Promise<number> {
  return await listenOnce(0);
}

async function assertPortFree(port: number): Promise<void> {
  try {
    await listenOnce(port);
  } catch (error) {
    throw new PortTakenError(`port ${HOST}:${port} is already in use`, { cause: error });
  }
}

/** Binds HOST:port, closes again, and returns the bound port. */
function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(port, HOST, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("listen: no address"));
      });
    });
  });
}

type ResolvedOptions = ServerOptions & { port: number; persistDir: string; inspectorPort: number };

// The CLIs run directly under this Node (process.execPath, unless options.node
// names another) rather than through npx: same result, one process fewer, and
// no risk of `#!/usr/bin/env node` picking an older system Node.
function commandLine(options: ResolvedOptions): string[] {
  const vars = Object.entries(options.vars ?? {});
  const node = options.node ?? process.execPath;
  if (options.kind === "wrangler") {
    return [
      node,
      options.cli ?? binPath("wrangler", "bin/wrangler.js"),
      "dev",
      "--ip", HOST,
      "--port", String(options.port),
      "--inspector-port", String(options.inspectorPort),
      "--persist-to", options.persistDir,
      "--show-interactive-dev-session=false",
      ...vars.flatMap(([key, value]) => ["--var", `${key}:${value}`]),
    ];
  }
  return [
    node,
    "--import", PARTYKIT_LOOPBACK_HOOK,
    options.cli ?? binPath("partykit", "dist/bin.mjs"),
    "dev",
    "--port", String(options.port),
    "--persist", options.persistDir,
    "--no-hotkeys",
    // request.cf would be fetched from Cloudflare: there is no network here.
    "--disable-request-cf-fetch",
    // `--var` is variadic in partykit's CLI, so these stay last.
    ...vars.flatMap(([key, value]) => ["--var", `${key}=${value}`]),
  ];
}

function binPath(pkg: string, file: string): string {
  return path.join(REPO_ROOT, "node_modules", pkg, file);
}

function childEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // No prompts, no telemetry, fewer colour codes in captured output.
    CI: "true",
    WRANGLER_SEND_METRICS: "false",
    NO_COLOR: "1",
    FORCE_COLOR: "0",
    // wrangler dev records a trace of every invocation in SQLite for its Local Explorer. Each
    // hibernated WebSocket frame is an invocation, so the trace costs several times the frame
    // itself; deployed Workers have no such store. Set it to true to see the traces.
    X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false",
  };
}

/** The port was taken by another process before the dev server bound it. */
class PortTakenError extends Error {}

/**
 * Polls until the port answers HTTP at all and a member of the server's process group listens on
 * it (so an answer from another process that took the port meanwhile is not taken for ours); fails
 * early if the CLI exits or reports a taken port.
 */
async function waitUntilServing(origin: string, port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const fail = (why: string): Error =>
    new Error(`${why} (pid ${child.pid}, ${origin}). Output:\n${output()}`);
  while (Date.now() < deadline) {
    if (child.pid === undefined) throw fail("could not spawn the dev server");
    // partykit keeps running after this error, and something else answers; wrangler exits.
    if (/address already in use/i.test(output())) throw new PortTakenError(fail("port already in use").message);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw fail(`dev server exited (${child.exitCode ?? child.signalCode}) before serving`);
    }
    try {
      await fetch(origin, { signal: AbortSignal.timeout(READY_FETCH_TIMEOUT_MS) });
      if (listenersOf(child.pid).some((listener) => listener.port === port)) return;
    } catch {
      // Not answering yet.
    }
    await sleep(READY_POLL_MS);
  }
  throw fail(`dev server not serving after ${READY_TIMEOUT_MS} ms`);
}

/** SIGTERM the group, SIGKILL it after a grace period, resolve once no member is left. */
async function stopGroup(child: ChildProcess): Promise<void> {
  const pgid = child.pid;
  liveGroups.delete(child);
  if (pgid === undefined) return;
  signalGroup(pgid, "SIGTERM");
  const killAt = Date.now() + STOP_GRACE_MS;
  const giveUpAt = killAt + STOP_AFTER_KILL_MS;
  while (groupAlive(pgid) && Date.now() < giveUpAt) {
    if (Date.now() >= killAt) signalGroup(pgid, "SIGKILL");
    await sleep(STOP_POLL_MS);
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

// Signal 0 checks existence only. An exited leader stays a zombie (and counts)
// until Node reaps it, which libuv does on its own between polls.
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// Last-resort cleanup: a failing or interrupted test run must not leave dev
// servers behind. "exit" handlers must be synchronous, hence SIGKILL.
const liveGroups = new Set<ChildProcess>();
const tempDirs: string[] = [];

function createTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

process.once("exit", () => {
  for (const child of liveGroups) if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL");
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
// Detached groups do not get the terminal's Ctrl-C, so forward it by exiting,
// which runs the handler above; 128 + n is the shell's convention.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => process.exit(128 + constants.signals[signal]));
}
