// The package as a user gets it: `npm pack`, then a fresh project in a temp dir that installs the
// tarball and `npm install -D wrangler` (dependencies from the npm cache or registry), on the
// oldest Node the package claims (engines.node, from test/support/oldest-node.ts), and uses only
// its public entries:
// - a Worker whose wrangler.toml binds `Main` to its own `class MyRoom extends Room`, with a hook
//   that refuses table "secret", under the project's own `wrangler dev` on that Node: unmodified
//   TinyBase clients sync, the hook holds; it serves the room inspector where it asks for it
//   (serveInspector), and nowhere else;
// - the same room as a PartyKit subclass of `roomstore/partykit`, under `partykit dev`;
// - `roomstore/client` bundled for a browser by esbuild and run in Chromium, and imported from Node;
// - the `roomstore` bin, run as an installed command;
// - the subclass and the browser code type-checked by strict tsc against the installed declarations.
// partykit dev stays on this process's Node and the repository's partykit: it is a tool of its own,
// not one the package needs, and the loopback hook it is started with needs Node 22.15+.
// One pack and one install serve every test.
/// <reference types="node" />
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureOldestNode, OLDEST_NODE_VERSION } from "../support/oldest-node.ts";
import { ensureBuilt, REPO_ROOT } from "../support/package-build.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { connectTinyBase, serverContent, type TinyBaseClient } from "../support/tinybase-client.ts";
import { waitFor } from "../support/wait.ts";

const run = promisify(execFile);
const BIN = (name: string) => path.join(REPO_ROOT, "node_modules/.bin", name);
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/** The build (when stale), the pack, the install and a first download of Node take a while on 2 busy cores. */
const SETUP_TIMEOUT_MS = 240_000;
const COMMAND_MAX_BUFFER_BYTES = 16 * 1024 * 1024;

/** The version of a package this repository has installed. */
const installedVersion = (name: string) => JSON.parse(readFileSync(path.join(REPO_ROOT, "node_modules", name, "package.json"), "utf8")).version as string;
// The consumer gets the versions this repository was tested with, so that a newer release on the
// registry (whose peer ranges may not fit these) cannot change what the test installs.
const WORKERS_TYPES_VERSION = installedVersion("@cloudflare/workers-types");
const WRANGLER_VERSION = installedVersion("wrangler");

/** The consumer project, file by file. `{tarball}` is replaced by the packed file's path. */
const CONSUMER_FILES: Record<string, string> = {
  "package.json": JSON.stringify({
    name: "my-rooms",
    private: true,
    type: "module",
    dependencies: { roomstore: "file:{tarball}" },
    devDependencies: { "@cloudflare/workers-types": WORKERS_TYPES_VERSION },
  }),
  "wrangler.toml": `
name = "my-rooms"
main = "src/worker.ts"
compatibility_date = "2026-11-01"

[assets]
directory = "./public"
run_worker_first = ["/parties/*"]

[[durable_objects.bindings]]
name = "Main"
class_name = "MyRoom"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["MyRoom"]
`,
  "src/worker.ts": `
import { Room, routeRoomRequest, serveInspector, type Cell, type Changes, type Env } from "roomstore";

// The room inspector, asked for at /inspector; the project's own page stays at /.
export default {
  fetch: (request: Request, env: Env) => serveInspector(request, { path: "/inspector" }) ?? routeRoomRequest(request, env),
} satisfies ExportedHandler<Env>;

export class MyRoom extends Room {
  override config = { retention: { maxEvents: 10_000 } };

  override canSetCell(tableId: string, _rowId: string, _cellId: string, _cell: Cell): boolean {
    return tableId !== "secret";
  }

  override canApplyChanges(changes: Changes): boolean | Changes {
    return Object.keys(changes[0]).length <= 100;
  }
}
`,
  // Proves the declarations carry real types: were they \`any\`, these errors would not happen and
  // the @ts-expect-error lines would fail the check.
  "src/types-are-real.ts": `
import type { RoomHooks, TokenClaims } from "roomstore";
// @ts-expect-error a table id is a string
export const tableId: Parameters<NonNullable<RoomHooks["canDelTable"]>>[0] = 1;
// @ts-expect-error a role is "read" or "write"
export const claims: TokenClaims = { room: "r", role: "admin" };
`,
  "src/partykit.ts": `
import Room from "roomstore/partykit";
import type { Cell } from "roomstore";

export default class MyRoom extends Room {
  override canSetCell(tableId: string, _rowId: string, _cellId: string, _cell: Cell): boolean {
    return tableId !== "secret";
  }
}
`,
  "partykit.json": JSON.stringify({ name: "my-rooms", main: "src/partykit.ts", compatibilityDate: "2024-07-18" }),
  "src/browser.ts": `
import { createStore } from "tinybase";
import { connectRoom, RoomRejection } from "roomstore/client";

const room = connectRoom({ host: location.host, room: new URLSearchParams(location.search).get("room") ?? "browser" });
const store = createStore();
const rejected: string[] = [];
const sync = room.syncStore(store, { onRejected: (error) => rejected.push(error instanceof RoomRejection ? error.code : error.message) });
await sync.ready;
store.setCell("pets", "rex", "species", "dog");
store.setCell("secret", "plan", "text", "refused by the room's hook");
Object.assign(globalThis, { app: { store, rejected } });
`,
  "public/index.html": `<!doctype html><meta charset="utf-8"><title>my rooms</title><script type="module" src="/app.js"></script>`,
  "node-check.mjs": `
import { connectRoom, getSnapshot } from "roomstore/client";
const [host, name] = process.argv.slice(2);
const { content } = await getSnapshot({ host, room: name });
const room = connectRoom({ host, room: name });
const seq = await room.stream("visits").event("from-node", { node: process.versions.node }).append();
room.close();
console.log(JSON.stringify({ content, seq }));
`,
  "tsconfig.json": JSON.stringify({
    compilerOptions: { target: "es2022", module: "esnext", moduleResolution: "bundler", lib: ["es2023"], types: ["@cloudflare/workers-types"], strict: true, noImplicitOverride: true, noEmit: true },
    files: ["src/worker.ts", "src/types-are-real.ts"],
  }),
  "tsconfig.browser.json": JSON.stringify({
    compilerOptions: { target: "es2022", module: "esnext", moduleResolution: "bundler", lib: ["es2023", "dom"], types: [], strict: true, noEmit: true, skipLibCheck: true },
    files: ["src/browser.ts"],
  }),
};

/** PATH with `node` first, so that npm and `#!/usr/bin/env node` scripts run under it. */
const pathWith = (node: string) => `${path.dirname(node)}${path.delimiter}${process.env.PATH}`;

/** Runs a command to its end; stdout, or stdout and stderr with `both`. */
const sh = async (command: string, args: string[], cwd: string, { node, both = false }: { node?: string; both?: boolean } = {}) => {
  try {
    const env = node ? { ...process.env, PATH: pathWith(node) } : process.env;
    const { stdout, stderr } = await run(command, args, { cwd, env, maxBuffer: COMMAND_MAX_BUFFER_BYTES });
    return both ? stdout + stderr : stdout;
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${stdout}\n${stderr}`);
  }
};

/** Two TinyBase clients of one room: one writes a table the hook allows and one it refuses. */
const checkHookedRoom = async (server: RunningServer, room: string) => {
  const clients: TinyBaseClient[] = [];
  try {
    const writer = await connectTinyBase(server.host, room);
    clients.push(writer);
    const reader = await connectTinyBase(server.host, room);
    clients.push(reader);
    writer.store.setCell("pets", "fido", "species", "dog");
    writer.store.setCell("secret", "plan", "text", "nobody else may see this");
    await waitFor(() => reader.store.getCell("pets", "fido", "species"), (species) => species === "dog", { what: "the reader to get fido" });
    // The room sends the refused cell's authoritative state back, so the writer converges.
    await waitFor(() => writer.store.hasTable("secret"), (has) => !has, { what: "the writer to drop the refused table" });
    expect(reader.store.hasTable("secret")).toBe(false);
    expect(await serverContent(server.origin, room)).toEqual([{ pets: { fido: { species: "dog" } } }, {}]);
    // The project's own class keeps the party's directory too, with nothing more in its config.
    await waitFor(
      async () => ((await (await fetch(`${server.origin}/parties/main?prefix=${room}`)).json()) as { rooms: { name: string }[] }).rooms.map((listed) => listed.name),
      (names) => names.includes(room),
      { what: "the room listed by its party" },
    );
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
};

describe("the packed package in a fresh project", () => {
  let temp: string;
  let tarball: string;
  let consumer: string;
  let node: string;
  let installOutput: string;
  let workers: RunningServer;
  let partykit: RunningServer;
  let browser: Browser | undefined;

  beforeAll(async () => {
    temp = mkdtempSync(path.join(tmpdir(), "roomstore-consumer-"));
    consumer = path.join(temp, "my-rooms");
    // `npm pack` would build again (prepare); the build is the same, so pack what is built.
    [node] = await Promise.all([ensureOldestNode(), ensureBuilt()]);
    tarball = path.join(temp, (await sh("npm", ["pack", "--silent", "--ignore-scripts", "--pack-destination", temp], REPO_ROOT)).trim().split("\n").pop()!);
    for (const [file, text] of Object.entries(CONSUMER_FILES)) {
      mkdirSync(path.dirname(path.join(consumer, file)), { recursive: true });
      writeFileSync(path.join(consumer, file), text.replace("{tarball}", tarball));
    }
    // As docs/install.md has it: the tarball (listed in package.json), then wrangler, on that Node.
    installOutput = await sh("npm", ["install", "--save-dev", `wrangler@${WRANGLER_VERSION}`, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=warn"], consumer, { node, both: true });
    // The browser bundle is a static asset of the consumer's worker, so it must exist before wrangler starts.
    await sh(BIN("esbuild"), ["src/browser.ts", "--bundle", "--format=esm", "--platform=browser", "--target=es2022", "--log-level=warning", "--outfile=public/app.js"], consumer);
    [workers, partykit] = await Promise.all([
      startServer({ kind: "wrangler", cwd: consumer, node, cli: path.join(consumer, "node_modules/wrangler/bin/wrangler.js") }),
      startServer({ kind: "partykit", cwd: consumer }),
    ]);
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([workers?.stop(), partykit?.stop()]);
    if (temp) rmSync(temp, { recursive: true, force: true });
  });

  it("ships built JavaScript and declarations, without tests or benchmarks", () => {
    const installed = path.join(consumer, "node_modules/roomstore");
    const manifest = JSON.parse(readFileSync(path.join(installed, "package.json"), "utf8"));
    expect(Object.keys(manifest.exports)).toEqual([".", "./partykit", "./client", "./package.json"]);
    for (const entry of [".", "./partykit", "./client"]) {
      expect(readFileSync(path.join(installed, manifest.exports[entry].default), "utf8")).not.toMatch(/from "\.[^"]*\.ts"/);
      expect(readFileSync(path.join(installed, manifest.exports[entry].types), "utf8")).toContain("export");
    }
    expect(() => readFileSync(path.join(installed, "test/README.md"))).toThrow();
    expect(() => readFileSync(path.join(installed, "bench/run.ts"))).toThrow();
  });

  it(`installs on Node ${OLDEST_NODE_VERSION}, the oldest it claims, with no engine warning and a wrangler that runs its worker`, async () => {
    expect(await sh(node, ["--version"], consumer)).toBe(`v${OLDEST_NODE_VERSION}\n`);
    expect(installOutput).not.toMatch(/EBADENGINE/);
    // An old wrangler refuses the worker's compatibility_date; the peer range keeps npm from picking one.
    const wrangler = JSON.parse(readFileSync(path.join(consumer, "node_modules/wrangler/package.json"), "utf8")).version as string;
    const [major, minor, patch] = wrangler.split(".").map(Number);
    expect(major === 4 && (minor > 156 || (minor === 156 && patch >= 2)), wrangler).toBe(true);
    expect((await fetch(`${workers.origin}/parties/main/installed/store`)).status).toBe(200);
  });

  it("ships its LICENSE, names its license, Node, repository and keywords, and its bin runs", async () => {
    const manifest = JSON.parse(readFileSync(path.join(consumer, "node_modules/roomstore/package.json"), "utf8"));
    expect(manifest).toMatchObject({ license: "MIT", engines: { node: ">=22.12" }, peerDependencies: { wrangler: "^4.156.2" } });
    expect(manifest.repository.url).toMatch(/^git\+https:/);
    expect(manifest.keywords).toContain("tinybase");
    const listing = await sh("tar", ["-tvzf", tarball], temp);
    expect(listing).toMatch(/ package\/LICENSE\n/);
    // The run bit, in the build and in the tarball: without it, `roomstore` is "Permission denied"
    // wherever the file is run as it is (a global or linked install, a clone's own dist/).
    expect(listing).toMatch(/^-rwxr-xr-x .* package\/dist\/cli\/main\.js$/m);
    expect(statSync(path.join(REPO_ROOT, "dist/cli/main.js")).mode & 0o111).toBe(0o111);
    await fetch(`${workers.origin}/parties/main/bin/store`, { method: "PUT", body: JSON.stringify([{ pets: { rex: { legs: 3 } } }, {}]) });
    const output = await sh(path.join(consumer, "node_modules/.bin/roomstore"), ["snapshot", `${workers.origin}/parties/main/bin`], consumer, { node });
    expect(output).toBe('[{"pets":{"rex":{"legs":3}}},{}]\n');
  });

  it("type-checks a strict subclass and browser code against the installed declarations", async () => {
    await sh(BIN("tsc"), ["-p", "tsconfig.json"], consumer);
    await sh(BIN("tsc"), ["-p", "tsconfig.browser.json"], consumer);
  });

  it("serves TinyBase clients from the project's own Room subclass under wrangler dev, and its hook holds", async () => {
    await checkHookedRoom(workers, "workers-hook");
  });

  it("serves TinyBase clients from the project's own PartyKit subclass under partykit dev, and its hook holds", async () => {
    await checkHookedRoom(partykit, "partykit-hook");
  });

  it("runs the client entry bundled for a browser in Chromium", async () => {
    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${workers.origin}/?room=browser-client`);
    await page.waitForFunction(() => {
      const app = (globalThis as { app?: { store: { hasTable(id: string): boolean }; rejected: string[] } }).app;
      return app !== undefined && app.rejected.length > 0 && !app.store.hasTable("secret");
    });
    expect(await page.evaluate(() => (globalThis as unknown as { app: { rejected: string[] } }).app.rejected)).toEqual(["forbidden"]);
    await waitFor(() => serverContent(workers.origin, "browser-client"), (content) => content?.[0].pets?.rex?.species === "dog", { what: "the browser's cell" });
    expect(await serverContent(workers.origin, "browser-client")).toEqual([{ pets: { rex: { species: "dog" } } }, {}]);
    expect(errors).toEqual([]);
  });

  it("serves the room inspector where the project's worker asks for it, and nowhere else", async () => {
    const page = await fetch(`${workers.origin}/inspector`);
    expect([page.status, page.headers.get("Content-Type"), page.headers.get("Referrer-Policy")]).toEqual([200, "text/html; charset=utf-8", "no-referrer"]);
    expect(await page.text()).toContain("<title>roomstore inspector</title>");
    // The project's own page stays at /, and no other path is the inspector.
    expect(await (await fetch(`${workers.origin}/`)).text()).toContain("<title>my rooms</title>");
    expect((await fetch(`${workers.origin}/inspector/`)).status).toBe(404);
    expect((await fetch(`${workers.origin}/inspector`, { method: "POST" })).status).toBe(405);

    // The page is whole (its script inlined): it opens a room of the project's worker, live.
    await fetch(`${workers.origin}/parties/main/inspected/store`, { method: "PUT", body: JSON.stringify([{ pets: { tom: { species: "cat" } } }, {}]) });
    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const inspector = await browser.newPage();
    const errors: string[] = [];
    inspector.on("pageerror", (error) => errors.push(error.message));
    await inspector.goto(`${workers.origin}/inspector?room=inspected`);
    await inspector.locator("#status", { hasText: "live" }).waitFor();
    await inspector.locator('[data-row="tom"] [data-cell="species"]', { hasText: '"cat"' }).waitFor();
    await inspector.close();
    expect(errors).toEqual([]);
  });

  it("imports the client entry from Node", async () => {
    await fetch(`${workers.origin}/parties/main/node-client/store`, { method: "PUT", body: JSON.stringify([{ pets: { tom: { species: "cat" } } }, {}]) });
    const output = await sh(node, ["node-check.mjs", workers.host, "node-client"], consumer);
    expect(JSON.parse(output)).toEqual({ content: [{ pets: { tom: { species: "cat" } } }, {}], seq: 2 });
  });
});
