// The demo page (public/index.html + the client bundled by wrangler's [build]) in Debian's headless
// Chromium, driven by playwright-core, against `wrangler dev`: two pages of one room see each
// other's cell edits and events, live. The screenshot goes to test-results/demo.png.
import { mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../support/servers.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const SCREENSHOT = "test-results/demo.png";

const setCell = async (page: Page, table: string, row: string, cell: string, value: string) => {
  for (const [name, text] of Object.entries({ table, row, cell, value })) await page.fill(`#cell-form [name=${name}]`, text);
  await page.click("#cell-form button");
};

const rowsOf = async (page: Page, table: string) =>
  (await page.locator(`table[data-table=${table}] tr`).allInnerTexts()).map((row) => row.replace(/\s+/g, " ").trim());

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
    // Two contexts: two independent visitors, no shared storage or connection.
    const pages = await Promise.all([browser.newContext(), browser.newContext()].map(async (context) => (await context).newPage()));
    const [alice, bob] = pages;
    const errors: string[] = [];
    for (const page of pages) {
      page.on("pageerror", (error) => errors.push(error.message));
      page.on("console", (message) => void (message.type() === "error" && errors.push(message.text())));
      page.on("response", (response) => void (response.status() >= 400 && errors.push(`${response.status()} ${response.url()}`)));
      await page.goto(`${server.origin}/?room=browser`);
      await page.locator("#status", { hasText: "live" }).waitFor();
    }
    expect(await alice.locator("#room").innerText()).toBe("browser");

    await setCell(alice, "pets", "fido", "species", "dog");
    await bob.locator("table[data-table=pets] td", { hasText: "dog" }).waitFor();
    await setCell(bob, "pets", "felix", "species", "cat");
    await setCell(bob, "pets", "felix", "age", "3");
    await alice.locator("table[data-table=pets] td", { hasText: "cat" }).waitFor();
    await alice.locator("table[data-table=pets] tr[data-row=felix] td", { hasText: "3" }).waitFor();
    expect(await rowsOf(alice, "pets")).toEqual(["row species age", "fido dog", "felix cat 3"]);
    expect(await rowsOf(bob, "pets")).toEqual(await rowsOf(alice, "pets"));

    await bob.fill("#event-form [name=data]", "hello from bob");
    await bob.click("#event-form button");
    await bob.locator("#appended", { hasText: "stored as #" }).waitFor();
    const said = alice.locator("#events li", { hasText: "hello from bob" });
    await said.waitFor();
    expect((await said.innerText()).replace(/\s+/g, " ")).toMatch(/^#\d+ said chat "hello from bob"$/);
    // Alice's tail also shows the store's own history: the changes both pages made.
    expect(await alice.locator("#events li", { hasText: "$changes" }).count()).toBe(3);

    mkdirSync("test-results", { recursive: true });
    await alice.screenshot({ path: SCREENSHOT, fullPage: true });
    const content = await (await fetch(`${server.origin}/parties/main/browser/store`)).json();
    expect(content).toEqual([{ pets: { fido: { species: "dog" }, felix: { species: "cat", age: 3 } } }, {}]);
    expect(errors).toEqual([]);
  });
});
