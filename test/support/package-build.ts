// The package's dist/, built by `npm run build` (which `npm install` and `npm pack` run through
// `prepare`). Tests that use the built package build it only when a source is newer than the
// build, so that `npm test` right after `npm install` builds nothing again.
/// <reference types="node" />
import { execFile } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
/** What the build reads: the entries' sources, the inspector's page and the build configs. */
const SOURCES = ["party", "client", "cli", "public/index.html", "scripts", "package.json", "tsconfig.json", "tsconfig.build.json"];
const BUILD_MAX_BUFFER_BYTES = 16 * 1024 * 1024;

const filesUnder = (entry: string): string[] => {
  if (!existsSync(entry)) return [];
  if (!statSync(entry).isDirectory()) return [entry];
  return readdirSync(entry).flatMap((name) => filesUnder(path.join(entry, name)));
};

const newest = (files: string[]) => Math.max(0, ...files.map((file) => statSync(file).mtimeMs));
const oldest = (files: string[]) => Math.min(Infinity, ...files.map((file) => statSync(file).mtimeMs));

/** Builds dist/ unless every file in it is newer than every source. */
export const ensureBuilt = async (): Promise<void> => {
  const built = filesUnder(path.join(REPO_ROOT, "dist"));
  const sources = SOURCES.flatMap((entry) => filesUnder(path.join(REPO_ROOT, entry)));
  if (built.length > 0 && oldest(built) > newest(sources)) return;
  await run("npm", ["run", "build", "--silent"], { cwd: REPO_ROOT, maxBuffer: BUILD_MAX_BUFFER_BYTES });
};
