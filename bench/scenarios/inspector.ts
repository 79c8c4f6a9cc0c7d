// Scenario 11: the room inspector (public/index.html at `/`) in Debian's headless Chromium. Time to
// the first rows of a 50,000-cell room, and the cost of one cell edit in the page (TinyBase's
// setCell, the grid's cell listener, the store sync's send, and the layout that follows) in a
// 1,000-cell and a 50,000-cell room: the same if the page does per edit only what the edit changed.
import { chromium, type Browser } from "playwright-core";
import { FIXTURE_TABLE } from "../fixtures.ts";
import { forEachTarget, metric } from "../scenario.ts";
import type { MetricSpec, RunOptions, Scenario } from "../scenario.ts";
import { median } from "../stats.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const SIZES = [1_000, 50_000];
const FIRST_ROWS_CELLS = 50_000;
const edits = (options: RunOptions): number => (options.quick ? 5 : 31);
const openings = (options: RunOptions): number => (options.quick ? 1 : 3);
/** Only the roomstore target serves the inspector at `/` (the others have no assets). */
const SERVES_INSPECTOR = "roomstore";

export const inspector: Scenario = {
  name: "inspector",
  title: "11. Room inspector in Chromium",
  parameters: (options) => [
    `rooms of ${SIZES.join(" and ")} cells (bench fixtures: one table, rows of 10 cells); Chromium ${CHROMIUM}, headless, viewport 1400×1000`,
    `first rows: navigation start to the grid's first rows on screen (the page's "inspector:first-rows" mark), median of ${openings(options)} fresh pages of the ${FIRST_ROWS_CELLS}-cell room`,
    `edit: median of ${edits(options)} setCell calls on a cell on screen, each timed in the page with a forced layout after it`,
  ],
  metrics: () =>
    [metric("firstRows", `time to first rows, ${FIRST_ROWS_CELLS / 1000}k cells ms`, "lower", 0), ...SIZES.map((cells) => metric(`edit.${cells}`, `one edit, ${cells / 1000}k cells ms`, "lower", 3))] satisfies MetricSpec[],
  async run(context) {
    const { options } = context;
    const keys = ["firstRows", ...SIZES.map((cells) => `edit.${cells}`)];
    let browser: Browser | undefined;
    try {
      await forEachTarget(context, keys, async (target) => {
        if (target.name !== SERVES_INSPECTOR) return keys.forEach((key) => context.sink.record(target.name, key, "n/a"));
        browser ??= await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
        for (const cells of SIZES) {
          const fixture = await context.fixtures.get(target, cells);
          const firstRows: number[] = [];
          const times: number[] = [];
          for (let opening = 0; opening < (cells === FIRST_ROWS_CELLS ? openings(options) : 1); opening++) {
            const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
            await page.goto(`${target.server.origin}/?room=${encodeURIComponent(fixture.room)}`);
            await page.locator(`[data-row="r0"] [data-cell="c1"]`).waitFor({ timeout: 120_000 });
            firstRows.push(await page.evaluate(() => performance.getEntriesByName("inspector:first-rows")[0]?.startTime ?? Number.NaN));
            if (opening === 0) {
              times.push(
                ...(await page.evaluate(
                  ({ table, count }) => {
                    const page = globalThis as unknown as {
                      roomstoreInspector: { store: { setCell(t: string, r: string, c: string, v: number): void } };
                      document: { body: { offsetHeight: number } };
                    };
                    const { store } = page.roomstoreInspector;
                    const measured: number[] = [];
                    for (let i = 0; i < count; i++) {
                      const started = performance.now();
                      store.setCell(table, "r1", "c1", 1_000_000 + i);
                      void page.document.body.offsetHeight;
                      measured.push(performance.now() - started);
                    }
                    return measured;
                  },
                  { table: FIXTURE_TABLE, count: edits(options) },
                )),
              );
            }
            await page.context().close();
          }
          if (cells === FIRST_ROWS_CELLS) context.sink.record(target.name, "firstRows", median(firstRows));
          context.sink.record(target.name, `edit.${cells}`, median(times));
        }
      });
    } finally {
      await browser?.close();
    }
  },
};
