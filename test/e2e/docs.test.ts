// Every example in README.md and docs/*.md, run, so that none can rot (the convention is in
// test/README.md, "Doc tests"):
// - ```sh blocks run in bash (`set -euo pipefail`) against one `wrangler dev` of this repository,
//   each with `$ROOM` set to a fresh room's URL and `$ORIGIN` to the server's, in a temp dir, with
//   `roomstore` on PATH as the built command line, and in the temp dir's node_modules/.bin as a
//   project that installed the package has it (so `npx roomstore` runs it too);
// - ```ts blocks are type-checked by strict tsc against the package's declarations (dist/, built
//   here first), `roomstore` imports with the Workers' types, others with the DOM's and Node's; ```ts run
//   blocks also run under Node, with `localhost:8787` and the room `my-room` replaced;
// - ```text, ```toml, ```json (and other data) blocks are shown, not run.
// A block is skipped only after `<!-- doc-test: skip (why) -->`; the skipped blocks are listed.
/// <reference types="node" />
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractBlocks, type DocBlock } from "../support/doc-blocks.ts";
import { ensureBuilt, REPO_ROOT } from "../support/package-build.ts";
import { startServer, type RunningServer } from "../support/servers.ts";

const run = promisify(execFile);
/** Inside the repository, so that `roomstore` resolves to the package itself (its exports, dist/). */
const CHECK_DIR = path.join(REPO_ROOT, ".doc-test");
const PAGES = ["README.md", ...readdirSync(path.join(REPO_ROOT, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`)];
const BLOCKS = PAGES.flatMap((page) => extractBlocks(page, readFileSync(path.join(REPO_ROOT, page), "utf8")));
const BLOCK_TIMEOUT_MS = 30_000;
/** The first type-check may include building the package; 2 busy cores make both slow. */
const TYPECHECK_TIMEOUT_MS = 180_000;
const COMMAND_MAX_BUFFER_BYTES = 16 * 1024 * 1024;
/** What `ts run` blocks say, and what they are run against instead. */
const EXAMPLE_HOST = "localhost:8787";
const EXAMPLE_ROOM = "my-room";

const nameOf = (block: DocBlock) => `${block.file}:${block.line} (${block.info || "no language"})`;
const fileOf = (block: DocBlock) => `${block.file.replace(/[^a-z0-9]+/gi, "-")}-${block.line}.ts`;
const runsTypeScriptOf = (block: DocBlock) => block.kind === "typescript" && !block.skip;
const usesServerEntry = (block: DocBlock) => /from\s+"roomstore(\/partykit)?"/.test(block.code);
let roomCount = 0;
const freshRoom = (block: DocBlock) => `docs-${block.file.replace(/[^a-z0-9]+/gi, "-")}-${block.line}-${Date.now().toString(36)}-${roomCount++}`;

const COMPILER_OPTIONS = {
  target: "es2022",
  module: "esnext",
  moduleResolution: "bundler",
  strict: true,
  noImplicitOverride: true,
  noFallthroughCasesInSwitch: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  // The declarations are checked as a user's tsc sees them by test/e2e/package.test.ts.
  skipLibCheck: true,
  noEmit: true,
};
const PROGRAMS = {
  worker: { lib: ["es2023"], types: ["@cloudflare/workers-types"] },
  // Browser code and Node scripts alike: the DOM's lib and Node's types.
  client: { lib: ["es2023", "dom", "dom.iterable"], types: ["node"] },
};

/** Runs tsc over the blocks of one program; returns its diagnostics by block file. */
const typeCheck = async (program: keyof typeof PROGRAMS, blocks: DocBlock[]): Promise<Map<string, string[]>> => {
  const config = path.join(CHECK_DIR, `tsconfig.${program}.json`);
  writeFileSync(config, JSON.stringify({ compilerOptions: { ...COMPILER_OPTIONS, ...PROGRAMS[program] }, files: blocks.map(fileOf) }));
  const diagnostics = new Map<string, string[]>();
  if (blocks.length === 0) return diagnostics;
  try {
    await run(process.execPath, [path.join(REPO_ROOT, "node_modules/typescript/bin/tsc"), "-p", config], { cwd: CHECK_DIR, maxBuffer: COMMAND_MAX_BUFFER_BYTES });
  } catch (error) {
    const output = String((error as { stdout?: string }).stdout || error);
    let file: string | undefined;
    for (const line of output.split("\n")) {
      file = /^([^(\s]+\.ts)\(/.exec(line)?.[1] ?? file; // continuation lines belong to the last file named
      if (file !== undefined && line.trim() !== "") diagnostics.set(file, [...(diagnostics.get(file) ?? []), line]);
    }
    // A failure that names no block (a broken config, a crash) must fail every block, not none.
    if (diagnostics.size === 0) throw new Error(`tsc failed:\n${output}`);
  }
  return diagnostics;
};

describe("the examples in README.md and docs/", () => {
  let server: RunningServer;
  let binDir: string;
  let checked: Promise<Map<string, string[]>> | undefined;

  /** Builds the package once, then type-checks every ts block in two tsc runs. */
  const diagnostics = () =>
    (checked ??= (async () => {
      await ensureBuilt();
      const blocks = BLOCKS.filter(runsTypeScriptOf);
      for (const block of blocks) writeFileSync(path.join(CHECK_DIR, fileOf(block)), `${block.code}\nexport {};\n`);
      const results = await Promise.all([typeCheck("worker", blocks.filter(usesServerEntry)), typeCheck("client", blocks.filter((block) => !usesServerEntry(block)))]);
      return new Map(results.flatMap((result) => [...result]));
    })());

  beforeAll(async () => {
    rmSync(CHECK_DIR, { recursive: true, force: true });
    mkdirSync(CHECK_DIR, { recursive: true });
    binDir = mkdtempSync(path.join(tmpdir(), "roomstore-doc-bin-"));
    // `roomstore` as an installed package's bin would be: the built command line under this Node.
    writeFileSync(path.join(binDir, "roomstore"), `#!/bin/sh\nexec "${process.execPath}" "${path.join(REPO_ROOT, "dist/cli/main.js")}" "$@"\n`);
    chmodSync(path.join(binDir, "roomstore"), 0o755);
    // The sh blocks run that built command line, so it is built before them, not only for the ts blocks.
    await Promise.all([ensureBuilt(), startServer({ kind: "wrangler" }).then((started) => (server = started))]);
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(CHECK_DIR, { recursive: true, force: true });
    if (binDir) rmSync(binDir, { recursive: true, force: true });
  });

  it("has only blocks of a known language, and skips only blocks whose marker names why", () => {
    const skipped = BLOCKS.filter((block) => block.skip).map((block) => `${nameOf(block)}: ${block.skip}`);
    console.info(`doc blocks: ${BLOCKS.length}, skipped ${skipped.length}:\n${skipped.join("\n")}`);
    expect(BLOCKS.filter((block) => block.badMarker).map(nameOf)).toEqual([]);
    expect(BLOCKS.filter((block) => block.kind === "unknown").map(nameOf)).toEqual([]);
    expect(BLOCKS.filter((block) => block.run && block.kind !== "typescript").map(nameOf)).toEqual([]);
  });

  for (const block of BLOCKS.filter((block) => block.kind === "shell" && !block.skip)) {
    it(`runs ${nameOf(block)}`, async () => {
      const room = freshRoom(block);
      const cwd = mkdtempSync(path.join(tmpdir(), "roomstore-doc-"));
      mkdirSync(path.join(cwd, "node_modules/.bin"), { recursive: true });
      symlinkSync(path.join(binDir, "roomstore"), path.join(cwd, "node_modules/.bin/roomstore"));
      try {
        await run("bash", ["-c", `set -euo pipefail\n${block.code}`], {
          cwd,
          timeout: BLOCK_TIMEOUT_MS,
          maxBuffer: COMMAND_MAX_BUFFER_BYTES,
          env: { ...process.env, ROOM: `${server.origin}/parties/main/${room}`, ORIGIN: server.origin, PATH: `${binDir}:${process.env.PATH}` },
        });
      } catch (error) {
        const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
        throw new Error(`${nameOf(block)} failed:\n${block.code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    });
  }

  for (const block of BLOCKS.filter(runsTypeScriptOf)) {
    it(
      `type-checks ${nameOf(block)}${block.run ? " and runs it" : ""}`,
      async () => {
        const errors = (await diagnostics()).get(fileOf(block)) ?? [];
        expect(errors, `${nameOf(block)}:\n${block.code}`).toEqual([]);
        if (!block.run) return;
        const runFile = path.join(CHECK_DIR, `run-${fileOf(block)}`);
        writeFileSync(runFile, block.code.replaceAll(EXAMPLE_HOST, server.host).replaceAll(`"${EXAMPLE_ROOM}"`, JSON.stringify(freshRoom(block))));
        try {
          await run(process.execPath, [runFile], { cwd: CHECK_DIR, timeout: BLOCK_TIMEOUT_MS, maxBuffer: COMMAND_MAX_BUFFER_BYTES });
        } catch (error) {
          const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
          throw new Error(`${nameOf(block)} failed when run:\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);
        }
      },
      TYPECHECK_TIMEOUT_MS,
    );
  }
});
