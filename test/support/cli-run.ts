// The `roomstore` command line from its sources (cli/main.ts), run as a child process under the
// current Node, as a user's shell would run the built one.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const CLI_MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../cli/main.ts");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A command that runs longer is killed, and its run reports it (no test waits on a hung child). */
const CLI_TIMEOUT_MS = 20_000;

export interface CliOptions {
  /** Piped to stdin, which is then closed. */
  input?: string;
  /** Leaves stdin open (and empty) until the command ends. */
  openStdin?: boolean;
  env?: Record<string, string>;
}

/** Runs the command line to its end. */
export const cli = (args: string[], { input, openStdin = false, env = {} }: CliOptions = {}): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      stderr += `(still running after ${CLI_TIMEOUT_MS} ms: killed)`;
      child.kill("SIGKILL");
    }, CLI_TIMEOUT_MS);
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, stdout, stderr });
    });
    if (!openStdin) child.stdin.end(input);
  });

/** `roomstore ARGS | head -1` in bash with pipefail: the status is the command line's (head exits 0). */
export const cliToHead = (args: string[]): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", 'set -o pipefail; "$@" | head -1', "bash", process.execPath, CLI_MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
