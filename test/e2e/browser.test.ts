// The demo page in headless Chromium (Debian's, driven by playwright-core) against `wrangler dev`:
// two pages on one room see each other's cell edits and events.
import { chromium, type Browser } from "playwright-core";
import { mkdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../support/servers.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

describe("the demo page in Chromium", () => {
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer({ kind: "wrangler" });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("shows two pages each other's cell edits and events, live", async () => {
    const context = await browser.newContext();
    const [alice, bob] = [await context.newPage(), await context.newPage()];
    for (const page of [alice, bob]) {
      await page.goto(`${server.origin}/?room=browser`);
      await page.locator("#status", { hasText: "live" }).waitFor();
    }
    await alice.fill("#cell-form [name=table]", "pets");
    await alice.fill("#cell-form [name=row]", "fido");
    await alice.fill("#cell-form [name=cell]", "species");
    await alice.fill("#cell-form [name=value]", "dog");
    await alice.click("#cell-form button");
    await bob.locator("table[data-table=pets] td", { hasText: "dog" }).waitFor();
    await bob.fill("#cell-form [name=row]", "felix");
    await bob.fill("#cell-form [name=value]", "cat");
    await bob.click("#cell-form button");
    await alice.locator("table[data-table=pets] td", { hasText: "cat" }).waitFor();

    await bob.fill("#event-form [name=data]", "hello from bob");
    await bob.click("#event-form button");
    await alice.locator("#events li", { hasText: "hello from bob" }).waitFor();

    const rows = await alice.locator("table[data-table=pets] tr").allInnerTexts();
    expect(rows.map((row) => row.replace(/\s+/g, " ").trim())).toEqual(["pets species", "fido dog", "felix cat"]);
    mkdirSync("test-results", { recursive: true });
    await alice.screenshot({ path: "test-results/demo.png", fullPage: true });
    const server_ = (await (await fetch(`${server.origin}/parties/main/browser/store`)).json()) as unknown;
    expect(server_).toEqual([{ pets: { fido: { species: "dog" }, felix: { species: "cat" } } }, {}]);
    await context.close();
  });
});
