// The docs cannot contradict themselves or the code, checked without a server:
// - every relative link of README.md, docs/*.md and test/README.md reaches a file, and every anchor
//   a heading (GitHub's slugs); so does every `docs/….md#anchor` or `….md, "Heading"` that a
//   comment in the code cites;
// - the closed set of error codes (protocol.ts) is the one docs/protocol.md lists and
//   docs/errors.md tabulates, with the same statuses;
// - a limit that a table gives next to its constant has the constant's value (protocol.ts);
// - a figure has one source: a table row that ends with a link quotes that page's figures, and
//   every number in it is found in the section linked.
/// <reference types="node" />
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as protocol from "../../party/protocol.ts";
import { anchorsOf, headingsOf, relativeLinksOf, sectionOf, slugOf, tableRowsOf } from "../support/markdown.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
const PAGES = ["README.md", "test/README.md", ...readdirSync(path.join(ROOT, "docs")).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)];
/** Where comments of the code cite the docs. */
const CODE_DIRS = ["party", "client", "cli", "bench", "test"];
const CODE_FILES = ["worker.ts", "partykit.ts", "wrangler.toml", "vitest.config.ts"];

const codeFiles = (dir: string): string[] =>
  readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? codeFiles(`${dir}/${entry.name}`) : /\.(ts|toml)$/.test(entry.name) ? [`${dir}/${entry.name}`] : [],
  );

/** What is wrong with a link from `page` to `target` (`file`, `file#anchor` or `#anchor`), if anything. */
const brokenLink = (page: string, target: string): string | undefined => {
  const [file, anchor] = target.split("#");
  const resolved = file === "" ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), decodeURI(file)));
  if (resolved.startsWith("..") || !existsSync(path.join(ROOT, resolved))) return `no file ${resolved}`;
  if (anchor === undefined) return undefined;
  if (statSync(path.join(ROOT, resolved)).isDirectory() || !resolved.endsWith(".md")) return `an anchor into ${resolved}, which has no headings`;
  return anchorsOf(read(resolved)).has(anchor) ? undefined : `no heading #${anchor} in ${resolved}`;
};

describe("GitHub anchors", () => {
  it.each([
    ["The event log", "the-event-log"],
    ["History of a cell, row or value: `GET {eventsPath}/history`", "history-of-a-cell-row-or-value-get-eventspathhistory"],
    ["Against TinyBase's servers", "against-tinybases-servers"],
    ["Hibernation and LiveRoom", "hibernation-and-liveroom"],
    ["`GET {room}/stats`", "get-roomstats"],
    ["Deploy with [wrangler](https://x) — or not", "deploy-with-wrangler--or-not"],
  ])("turns %j into #%s", (heading, anchor) => expect(slugOf(heading)).toBe(anchor));

  it("numbers repeated headings, and ignores headings inside code blocks", () => {
    const page = "# A\n## Costs\n```toml\n# wrangler.toml\n```\n## Costs\n";
    expect(headingsOf(page).map((heading) => heading.anchor)).toEqual(["a", "costs", "costs-1"]);
  });
});

describe("links", () => {
  it("reach a file, and a heading when they name an anchor, from every page", () => {
    const broken = PAGES.flatMap((page) =>
      relativeLinksOf(read(page)).flatMap(({ target, line }) => {
        const why = brokenLink(page, target);
        return why ? [`${page}:${line} (${target}): ${why}`] : [];
      }),
    );
    expect(broken).toEqual([]);
  });

  it("that the code's comments cite reach a file and a heading", () => {
    const citation = /((?:[\w.-]+\/)*[\w.-]+\.md|\bREADME(?=, "))(?:#([\w-]+)|, "([^"]+)")?/g;
    const broken = [...CODE_DIRS.flatMap(codeFiles), ...CODE_FILES].flatMap((file) =>
      read(file).split("\n").flatMap((text, index) =>
        [...text.matchAll(citation)].flatMap(([, named, anchor, heading]) => {
          const cited = named === "README" ? "README.md" : named;
          // Only this repository's pages: PROTOCOL.md is the Durable Streams specification's. A page
          // named without its folder is one of docs/ (comments say "webhooks.md, \"Costs\"").
          if (!PAGES.some((page) => page === cited || page === `docs/${cited}`) && !/^(docs|test)\//.test(cited)) return [];
          const page = [cited, `docs/${cited}`].find((candidate) => existsSync(path.join(ROOT, candidate)));
          const where = `${file}:${index + 1} (${cited}${anchor ? `#${anchor}` : heading ? `, "${heading}"` : ""})`;
          if (page === undefined) return [`${where}: no such page`];
          if (anchor !== undefined && !anchorsOf(read(page)).has(anchor)) return [`${where}: no such heading`];
          if (heading !== undefined && !headingsOf(read(page)).some((found) => found.text.replace(/`/g, "").startsWith(heading))) return [`${where}: no such heading`];
          return [];
        }),
      ),
    );
    expect(broken).toEqual([]);
  });
});

describe("error codes", () => {
  const codes = Object.entries(protocol.ERROR_STATUS);

  it("are listed by docs/protocol.md, each before its status", () => {
    const section = sectionOf(read("docs/protocol.md"), "errors") ?? "";
    const listed = codes.map(([code, status]) => {
      const at = section.indexOf(`\`${code}\``);
      return [code, at === -1 ? undefined : Number(/\((\d{3})/.exec(section.slice(at))?.[1])];
    });
    expect(Object.fromEntries(listed)).toEqual(protocol.ERROR_STATUS);
  });

  it("each have their row in docs/errors.md, with their status", () => {
    const rows = tableRowsOf(read("docs/errors.md")).filter(([status, code]) => /^\d{3}$/.test(status) && /^`\w+`$/.test(code ?? ""));
    expect(Object.fromEntries(rows.map(([status, code]) => [code.slice(1, -1), Number(status)]))).toEqual(protocol.ERROR_STATUS);
  });
});

/** Constants of protocol.ts that are numbers: the limits and defaults. */
const CONSTANTS = new Map(Object.entries(protocol).filter((entry): entry is [string, number] => typeof entry[1] === "number"));
const UNITS: Record<string, number> = { Ki: 1024, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
/** The quantity a cell starts with ("4 MiB", "60,000 JSON characters", "256 Ki characters"), if any. */
const quantityOf = (text: string): number | undefined => {
  const match = /^([\d,]+(?:\.\d+)?)(?:\s*(KiB|MiB|GiB|Ki)\b)?/.exec(text.trim());
  return match ? Number(match[1].replace(/,/g, "")) * (match[2] ? UNITS[match[2]] : 1) : undefined;
};

describe("limits", () => {
  it("that a table gives beside a constant of protocol.ts are its value", () => {
    const wrong = PAGES.flatMap((page) =>
      tableRowsOf(read(page)).flatMap((row) =>
        row.flatMap((cell, index) => {
          const named = [...cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1]).filter((name) => CONSTANTS.has(name));
          if (named.length !== 1) return [];
          const value = quantityOf(cell.includes("= ") ? cell.slice(cell.indexOf("= ") + 2) : (row[index + 1] ?? ""));
          return value === undefined || value === CONSTANTS.get(named[0]) ? [] : [`${page}: ${named[0]} is ${CONSTANTS.get(named[0])}, not ${value} (| ${row.join(" | ")} |)`];
        }),
      ),
    );
    expect(wrong).toEqual([]);
  });
});

describe("figures", () => {
  const NUMBER = /\d[\d,]*(?:\.\d+)?/g;
  const numbersOf = (text: string) => new Set(text.match(NUMBER) ?? []);

  it("quoted by a table row from the page its last cell links are all in the section linked", () => {
    const unsourced = PAGES.flatMap((page) =>
      tableRowsOf(read(page)).flatMap((row) => {
        const source = /^\[[^\]]+\]\(([^)#]+\.md)(?:#([\w-]+))?\)$/.exec(row.at(-1) ?? "");
        if (!source || row.length < 3) return [];
        const file = path.posix.normalize(path.posix.join(path.posix.dirname(page), source[1]));
        const text = source[2] ? sectionOf(read(file), source[2]) : read(file);
        if (text === undefined) return [`${page}: no section #${source[2]} in ${file}`];
        const found = numbersOf(text);
        // The first cell says what was measured (its numbers are parameters); the others are figures.
        const missing = row.slice(1, -1).flatMap((cell) => [...numbersOf(cell)]).filter((figure) => !found.has(figure));
        return missing.length === 0 ? [] : [`${page}: ${missing.join(", ")} not in ${file}${source[2] ? `#${source[2]}` : ""} (| ${row.join(" | ")} |)`];
      }),
    );
    expect(unsourced).toEqual([]);
  });
});
