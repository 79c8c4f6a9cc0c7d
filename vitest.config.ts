// Three layers of tests, one `vitest run` (see test/README.md):
// core (plain Node), runtime (inside workerd), e2e (real dev servers).
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// core and runtime run first, together; e2e after them. Not 0 and 1: vitest 5
// moves order-0 projects whose maxWorkers is 1 (the default on 2 cores) into a
// trailing sequential group, which would run them after e2e.
const FAST_GROUP = 1;
const E2E_GROUP = 2;
const CONFORMANCE_GROUP = 3;
/** The conformance suite imports this instead of "vitest": it leaves out the suite's opt-in groups. */
const CONFORMANCE_VITEST = path.join(path.dirname(fileURLToPath(import.meta.url)), "test/conformance/vitest-without-opt-ins.ts");
const CONFORMANCE_SUITE = "@durable-streams/server-conformance-tests";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "core",
          include: ["test/core/**/*.test.ts"],
          environment: "node",
          // FC_SEED replays a property test's failure (see the file).
          setupFiles: ["test/support/fast-check-replay.ts"],
          sequence: { groupOrder: FAST_GROUP },
        },
      },
      {
        // The plugin runs these files inside workerd with the worker and its
        // Durable Object from wrangler.toml. Each test file gets its own
        // Miniflare instance, so storage is isolated per file, not per test:
        // tests in one file should use distinct room names.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./test/runtime/wrangler.toml" },
            // Nothing here is remote; this keeps the plugin from ever trying
            // to open a remote proxy session (the network has npm only).
            remoteBindings: false,
          }),
        ],
        test: {
          name: "runtime",
          include: ["test/runtime/**/*.test.ts"],
          sequence: { groupOrder: FAST_GROUP },
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          // Each file starts wrangler dev and/or partykit dev: on 2 cores run
          // one file at a time, and only after the other projects finished.
          fileParallelism: false,
          sequence: { groupOrder: E2E_GROUP },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        plugins: [
          {
            name: "conformance-without-opt-ins",
            enforce: "pre",
            resolveId: (source: string, importer?: string) =>
              source === "vitest" && importer?.includes(CONFORMANCE_SUITE) ? CONFORMANCE_VITEST : undefined,
          },
        ],
        test: {
          name: "conformance",
          // Through vite, so that the plugin above sees the suite's imports.
          server: { deps: { inline: [CONFORMANCE_SUITE] } },
          include: ["test/conformance/**/*.test.ts"],
          environment: "node",
          fileParallelism: false,
          sequence: { groupOrder: CONFORMANCE_GROUP },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
