// The two deployable entries of this repository build as their deploy commands build them, with no
// account and no network:
// - `wrangler deploy --dry-run`: the Workers entry, wrangler.toml's [build] command, its assets,
//   bindings and migrations, bundled as `wrangler deploy` would upload them;
// - the PartyKit entry, bundled as `partykit deploy` bundles it before it uploads (partykit 0.0.115
//   has no dry run, and its deploy logs in to PartyKit's service first): esbuild with the options
//   of its `deploy` (node_modules/partykit/dist/bin.mjs, "async function deploy"), Node's builtins
//   left to the runtime as its nodejs_compat plugin leaves them, then loaded to see a Party.Server.
/// <reference types="node" />
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/package-build.ts";

const run = promisify(execFile);
/** wrangler bundles and runs the [build] command; 2 busy cores make that slow. */
const DRY_RUN_TIMEOUT_MS = 120_000;
const COMMAND_MAX_BUFFER_BYTES = 16 * 1024 * 1024;
const outDir = mkdtempSync(path.join(tmpdir(), "roomstore-deploy-"));

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe("the deployable entries", () => {
  it(
    "bundle for Workers as `wrangler deploy --dry-run` builds them, with both rooms bound",
    async () => {
      const { stdout } = await run(
        process.execPath,
        [path.join(REPO_ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", path.join(outDir, "workers")],
        { cwd: REPO_ROOT, env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" }, maxBuffer: COMMAND_MAX_BUFFER_BYTES, timeout: DRY_RUN_TIMEOUT_MS },
      );
      expect(stdout).toMatch(/env\.Main \(Room\)\s+Durable Object/);
      expect(stdout).toMatch(/env\.Live \(LiveRoom\)\s+Durable Object/);
      expect(readdirSync(path.join(outDir, "workers"))).toContain("worker.js");
    },
    DRY_RUN_TIMEOUT_MS,
  );

  it("bundle for PartyKit as `partykit deploy` builds them: only Node builtins left to import, a Party.Server by default", async () => {
    const entry = path.join(REPO_ROOT, "partykit.ts");
    const result = await build({
      stdin: { contents: `import WorkerSpec from ${JSON.stringify(entry)}; export default WorkerSpec;`, resolveDir: REPO_ROOT },
      format: "esm",
      bundle: true,
      write: false,
      target: "esnext",
      conditions: ["partykit", "workerd", "worker"],
      inject: [path.join(REPO_ROOT, "node_modules/partykit/inject-process.js")],
      define: { PARTYKIT_HOST: JSON.stringify("rooms.example.com"), PARTYKIT_PROCESS_ENV: JSON.stringify("{}") },
      external: ["node:*"],
      logLevel: "silent",
    });
    const code = result.outputFiles[0].text;
    const imports = [...code.matchAll(/^import\s.*?from\s*["']([^"']+)["']/gm)].map((match) => match[1]);
    expect(imports.filter((specifier) => !specifier.startsWith("node:"))).toEqual([]);
    const bundle = path.join(outDir, "partykit.mjs");
    writeFileSync(bundle, code);
    const { default: server } = await import(pathToFileURL(bundle).href);
    expect(typeof server).toBe("function");
    expect(typeof server.onBeforeRequest).toBe("function");
    expect(typeof server.onBeforeConnect).toBe("function");
    expect(typeof server.prototype.onRequest).toBe("function");
    expect(server.options).toEqual({ hibernate: true });
  });
});
