// The fenced code blocks of a Markdown page, as the doc tests run them (test/README.md, "Doc tests").
// A block is skipped only when the line before it (blank lines aside) is
// `<!-- doc-test: skip (why) -->`; a marker without a reason is reported, not obeyed.

/** What a doc test does with a block, by its language. */
export type BlockKind = "shell" | "typescript" | "inert" | "unknown";

export interface DocBlock {
  /** Path of the page, relative to the repository. */
  file: string;
  /** 1-based line of the block's first code line in the page. */
  line: number;
  /** The info string after the fence, e.g. "ts run". */
  info: string;
  kind: BlockKind;
  /** `ts run` blocks are executed as well as type-checked. */
  run: boolean;
  code: string;
  /** The reason of its skip marker, when it has one. */
  skip?: string;
  /** A skip marker that names no reason. */
  badMarker?: string;
}

const SHELL = new Set(["sh", "bash", "shell"]);
const TYPESCRIPT = new Set(["ts", "typescript"]);
/** Shown, never run: configuration, data, output, and prose diagrams. */
const INERT = new Set(["text", "toml", "json", "jsonc", "ndjson", "html", "http", "yaml", "diff"]);

const FENCE = /^(\s*)(`{3,}|~{3,})\s*(.*)$/;
const MARKER = /^<!--\s*doc-test:\s*skip\b(.*?)-->$/;
const REASON = /^\s*\((.+)\)\s*$/;

const kindOf = (lang: string): BlockKind =>
  SHELL.has(lang) ? "shell" : TYPESCRIPT.has(lang) ? "typescript" : INERT.has(lang) ? "inert" : "unknown";

export const extractBlocks = (file: string, markdown: string): DocBlock[] => {
  const lines = markdown.split("\n");
  const blocks: DocBlock[] = [];
  for (let at = 0; at < lines.length; at++) {
    const open = FENCE.exec(lines[at]);
    if (!open) continue;
    const [, indent, fence, info] = open;
    const close = lines.findIndex((text, index) => index > at && text.trim().startsWith(fence) && text.trim().replace(/[`~]/g, "") === "");
    const end = close === -1 ? lines.length : close;
    const code = lines.slice(at + 1, end).map((text) => (text.startsWith(indent) ? text.slice(indent.length) : text)).join("\n");
    const [lang = "", ...flags] = info.trim().split(/\s+/);
    const block: DocBlock = { file, line: at + 2, info: info.trim(), kind: kindOf(lang.toLowerCase()), run: flags.includes("run"), code };
    const before = lines.slice(0, at).reverse().find((text) => text.trim() !== "")?.trim() ?? "";
    const marker = MARKER.exec(before);
    if (marker) {
      const reason = REASON.exec(marker[1]);
      if (reason) block.skip = reason[1];
      else block.badMarker = before;
    }
    blocks.push(block);
    at = end;
  }
  return blocks;
};
