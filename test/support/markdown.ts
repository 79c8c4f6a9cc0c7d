// What test/core/docs-agree.test.ts reads from a Markdown page: its headings as GitHub anchors them,
// its relative links, a heading's section and its tables. Lines inside fenced code blocks are
// code, never headings or links (a `# wrangler.toml` comment in a toml block is not a heading).

const FENCE = /^\s*(`{3,}|~{3,})/;

/** The page's lines outside fenced code blocks, with their 1-based line numbers. */
const proseLines = (markdown: string): { text: string; line: number }[] => {
  const lines: { text: string; line: number }[] = [];
  let fence: string | undefined;
  markdown.split("\n").forEach((text, index) => {
    const open = FENCE.exec(text)?.[1];
    if (fence !== undefined) {
      if (open !== undefined && open[0] === fence[0] && open.length >= fence.length && text.trim().replace(/[`~]/g, "") === "") fence = undefined;
    } else if (open !== undefined) fence = open;
    else lines.push({ text, line: index + 1 });
  });
  return lines;
};

const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;

/**
 * GitHub's anchor for a heading (github-slugger): the text as shown (link targets, emphasis and
 * code marks dropped), lowercased, every character that is not a letter, a digit, `_`, `-` or a
 * space dropped, spaces turned into `-`. A repeated slug gets `-1`, `-2`… (see `anchorsOf`).
 */
export const slugOf = (heading: string): string =>
  heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");

export interface Heading {
  level: number;
  text: string;
  anchor: string;
  line: number;
}

export const headingsOf = (markdown: string): Heading[] => {
  const seen = new Map<string, number>();
  const headings: Heading[] = [];
  for (const { text, line } of proseLines(markdown)) {
    const match = HEADING.exec(text);
    if (!match) continue;
    const slug = slugOf(match[2]);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    headings.push({ level: match[1].length, text: match[2], anchor: count === 0 ? slug : `${slug}-${count}`, line });
  }
  return headings;
};

/** Every anchor a link may name on the page: its headings' and its HTML `id`s. */
export const anchorsOf = (markdown: string): Set<string> => {
  const anchors = new Set(headingsOf(markdown).map((heading) => heading.anchor));
  for (const { text } of proseLines(markdown)) for (const match of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(match[1]);
  return anchors;
};

export interface Link {
  target: string;
  line: number;
}

/** Links to other pages and files of the repository, and to anchors (`#…`): not `http(s):`, not `mailto:`. */
export const relativeLinksOf = (markdown: string): Link[] => {
  const links: Link[] = [];
  for (const { text, line } of proseLines(markdown)) {
    const withoutCode = text.replace(/`[^`]*`/g, "");
    for (const match of withoutCode.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (!/^[a-z][a-z0-9+.-]*:/i.test(match[1])) links.push({ target: match[1], line });
    }
  }
  return links;
};

/** The text under the heading with `anchor`, down to the next heading of the same or a higher level. */
export const sectionOf = (markdown: string, anchor: string): string | undefined => {
  const headings = headingsOf(markdown);
  const at = headings.findIndex((heading) => heading.anchor === anchor);
  if (at === -1) return undefined;
  const end = headings.slice(at + 1).find((heading) => heading.level <= headings[at].level)?.line ?? Infinity;
  return markdown.split("\n").slice(headings[at].line, end - 1).join("\n");
};

/** The rows of every table in `markdown` (header and separator rows left out), as lists of cells. */
export const tableRowsOf = (markdown: string): string[][] => {
  const rows: string[][] = [];
  const lines = proseLines(markdown).map(({ text }) => text.trim());
  lines.forEach((text, index) => {
    if (!text.startsWith("|") || /^\|[\s:|-]+\|$/.test(text)) return;
    if (/^\|[\s:|-]+\|$/.test(lines[index + 1] ?? "")) return; // a header row
    rows.push(text.slice(1, text.endsWith("|") ? -1 : undefined).split("|").map((cell) => cell.trim()));
  });
  return rows;
};
