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

/** Runs the command line to its end; `input` is piped to stdin. */
export const cli = (args: string[], { input, env = {} }: { input?: string; env?: Record<string, string> } = {}): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
