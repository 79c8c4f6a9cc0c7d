// The import structure of the sources (party/, client/, cli/), checked without running them:
// - no import loops among the files (type-only imports count: they tie two modules together for a
//   reader as much as any other);
// - the directions the layers keep (docs/design.md, "Layout"): party/core imports no runtime and no
//   adapter; client/ takes only party/protocol.ts of the server; cli/ takes nothing of party/core;
//   the protocol module imports only its own parts, and everything else imports it by its entry;
// - and two shapes of the code the layout relies on: no function of the sources takes more than four
//   positional parameters (more become an options object, STYLE.md), and none of party/ is longer
//   than MAX_FUNCTION_LINES (a longer one becomes plain functions over an explicit state).
// The imports are read by TypeScript's own scanner (`preProcessFile`: every `import`, `export … from`,
// `import type` and `import("…")`, never one inside a string), and the loops found by a depth-first
// walk: a few lines over a dependency the project has, where madge or dependency-cruiser would bring
// dozens of packages for the same answer.
/// <reference types="node" />
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SOURCE_DIRS = ["party", "client", "cli"];

const sourceFiles = (dir: string): string[] =>
  readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(`${dir}/${entry.name}`) : entry.name.endsWith(".ts") ? [`${dir}/${entry.name}`] : [],
  );

/** What a file imports: a relative specifier as the repository path it names, a package's as written. */
const importsOf = (file: string, text: string): string[] =>
  ts.preProcessFile(text, true, true).importedFiles.map(({ fileName }) =>
    fileName.startsWith(".") ? path.posix.join(path.posix.dirname(file), fileName) : fileName,
  );

/** One loop per back edge a depth-first walk meets, each as the files in order, its first again at the end. */
const cyclesOf = (graph: Map<string, string[]>): string[][] => {
  const done = new Set<string>();
  const onPath: string[] = [];
  const cycles: string[][] = [];
  const visit = (file: string) => {
    onPath.push(file);
    for (const next of graph.get(file) ?? []) {
      const at = onPath.indexOf(next);
      if (at >= 0) cycles.push([...onPath.slice(at), next]);
      else if (!done.has(next) && graph.has(next)) visit(next);
    }
    onPath.pop();
    done.add(file);
  };
  for (const file of [...graph.keys()].sort()) if (!done.has(file)) visit(file);
  return cycles;
};

/** Most positional parameters a function of the sources takes. */
const MAX_POSITIONAL_PARAMETERS = 4;

/**
 * Most lines a function of party/ spans, from its first token to its closing brace, the functions
 * nested in it included: a function longer than a screen or so becomes plain functions over an
 * explicit state (STYLE.md). The longest left are about 85 lines.
 */
const MAX_FUNCTION_LINES = 100;

/** One function with a body, as the checks below name it. */
interface FunctionShape {
  /** `file:line name`. */
  at: string;
  parameters: number;
  lines: number;
}

/**
 * Every function with a body (declarations, arrows, function expressions, methods, accessors).
 * Signatures without a body are not counted: RoomHooks' methods keep TinyBase's names and argument
 * order, which users implement.
 */
const functionsOf = (file: string, text: string): FunctionShape[] => {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lineOf = (position: number) => source.getLineAndCharacterOfPosition(position).line + 1;
  const found: FunctionShape[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const named = node.name ?? (ts.isVariableDeclaration(node.parent) || ts.isPropertyAssignment(node.parent) ? node.parent.name : undefined);
      const line = lineOf(node.getStart());
      found.push({ at: `${file}:${line} ${named?.getText() ?? "(anonymous)"}`, parameters: node.parameters.length, lines: lineOf(node.getEnd()) - line + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
};

/** The functions that take more than MAX_POSITIONAL_PARAMETERS, as `file:line name (count)`. */
const longParameterLists = (file: string, text: string): string[] =>
  functionsOf(file, text)
    .filter(({ parameters }) => parameters > MAX_POSITIONAL_PARAMETERS)
    .map(({ at, parameters }) => `${at} (${parameters})`);

/** The functions longer than `limit` lines, as `file:line name (lines)`. */
const longFunctions = (file: string, text: string, limit = MAX_FUNCTION_LINES): string[] =>
  functionsOf(file, text)
    .filter(({ lines }) => lines > limit)
    .map(({ at, lines }) => `${at} (${lines} lines)`);

const graph = new Map(
  SOURCE_DIRS.flatMap(sourceFiles).map((file) => [file, importsOf(file, readFileSync(path.join(ROOT, file), "utf8"))] as const),
);

/** Each rule: the files it binds, and what they must not import (a repository path or a package). */
const DIRECTIONS: { files: string; why: string; forbids: (imported: string) => boolean; outside?: string }[] = [
  {
    files: "party/core/",
    why: "the room core is pure: no runtime, no adapter",
    forbids: (imported) =>
      /^(cloudflare:|partyserver$|partykit(\/|$))/.test(imported) ||
      imported.startsWith("party/adapters/") ||
      imported === "party/worker.ts" ||
      imported === "party/partykit.ts",
  },
  {
    files: "client/",
    why: "the client shares the protocol module with the server, and nothing else",
    forbids: (imported) => imported.startsWith("party/") && imported !== "party/protocol.ts",
  },
  {
    files: "client/",
    outside: "client/inspector/",
    why: "the client library never imports the inspector app, which is built on it",
    forbids: (imported) => imported.startsWith("client/inspector/"),
  },
  {
    files: "party/adapters/",
    outside: "party/adapters/routing.ts",
    why: "what both adapters share imports no runtime (routing.ts is Workers' own)",
    forbids: (imported) => /^(cloudflare:|partyserver$|partykit(\/|$))/.test(imported),
  },
  {
    files: "party/protocol",
    why: "the protocol module is pure: it imports only its own parts (party/protocol/)",
    forbids: (imported) => !imported.startsWith("party/protocol/"),
  },
  {
    files: "party/",
    outside: "party/protocol",
    why: "the room imports the protocol through its one entry, party/protocol.ts",
    forbids: (imported) => imported.startsWith("party/protocol/"),
  },
  {
    files: "cli/",
    why: "the command line imports the protocol through its one entry, party/protocol.ts",
    forbids: (imported) => imported.startsWith("party/protocol/"),
  },
  { files: "cli/", why: "the command line speaks to a room over HTTP, never through its core", forbids: (imported) => imported.startsWith("party/core/") },
];

/**
 * The room core's folders, each with the folders it may import (docs/design.md, "Layout"): layers,
 * from common/ at the bottom to the entry (party/core/*.ts: index.ts, room-core.ts, alarm.ts) at the
 * top. An import within a folder is always allowed; one between folders must be listed here.
 */
const CORE_FOLDERS: Record<string, string[]> = {
  common: [],
  store: ["common"],
  storage: ["common", "store"],
  room: ["common", "store", "storage"],
  log: ["common", "store", "storage", "room"],
  live: ["common", "store", "storage", "room", "log"],
  webhooks: ["room", "log"],
  "durable-streams": ["common", "store", "storage", "room", "log"],
  write: ["common", "store", "storage", "room", "log", "live", "webhooks"],
  transport: ["common", "store", "storage", "room", "log", "live", "write", "durable-streams"],
  sync: ["common", "store", "storage", "room", "live", "transport"],
  admin: ["common", "store", "storage", "room", "log", "durable-streams", "transport"],
  directory: ["common", "storage", "room"],
  "(entry)": ["common", "store", "storage", "room", "log", "live", "webhooks", "durable-streams", "write", "transport", "sync", "admin", "directory"],
};

/** The folder of party/core a file is in, "(entry)" for the core's own top-level files. */
const coreFolderOf = (file: string): string => {
  const rest = file.slice("party/core/".length);
  return rest.includes("/") ? rest.slice(0, rest.indexOf("/")) : "(entry)";
};

describe("imports", () => {
  it("reads every kind of import, and none inside a string", () => {
    const text = [
      'import type { A } from "./a.ts";',
      'export { B } from "../b.ts";',
      'export * from "./c.ts";',
      'type D = import("./d.ts").D;',
      'import { e } from "pkg/e";',
      'const usage = `\nimport { f } from "./f.ts";\n`;',
    ].join("\n");
    expect(importsOf("party/core/x.ts", text)).toEqual(["party/core/a.ts", "party/b.ts", "party/core/c.ts", "party/core/d.ts", "pkg/e"]);
  });

  it("names every loop, a file importing itself included", () => {
    const loops = new Map([
      ["a.ts", ["b.ts", "x.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", ["a.ts"]],
      ["s.ts", ["s.ts"]],
      ["x.ts", ["pkg"]],
    ]);
    expect(cyclesOf(loops)).toEqual([["a.ts", "b.ts", "c.ts", "a.ts"], ["s.ts", "s.ts"]]);
  });

  it("counts the positional parameters of functions with a body, and not of signatures", () => {
    const text = [
      "const arrow = (a, b, c, d, e) => a;",
      "function declared(a, b, c, d, e, f) {}",
      "const object = { method(a, b, c, d, e) {} };",
      "const fine = (a, b, c, d) => a;",
      "interface Hooks { can(a: 1, b: 2, c: 3, d: 4, e: 5): boolean }",
    ].join("\n");
    expect(longParameterLists("x.ts", text)).toEqual(["x.ts:1 arrow (5)", "x.ts:2 declared (6)", "x.ts:3 method (5)"]);
  });

  it("party/, client/, cli/: no function takes more than four positional parameters", () => {
    const long = SOURCE_DIRS.flatMap(sourceFiles).flatMap((file) => longParameterLists(file, readFileSync(path.join(ROOT, file), "utf8")));
    expect(long).toEqual([]);
  });

  it("counts a function's lines from its first token to its end, nested functions included, and not its comment", () => {
    const text = [
      "/** A comment above is not the function's. */",
      "function outer() {", // line 2
      "  const inner = () => {", // line 3
      "    return 1;",
      "  };", // line 5
      "  return inner;",
      "}", // line 7
      "const object = {",
      "  method() {", // line 9
      "    return 2;",
      "  },", // line 11
      "  get value() { return 3; },",
      "};",
      "const oneLine = (a) => a;",
      "interface Shape { method(): void }",
    ].join("\n");
    expect(functionsOf("x.ts", text).map(({ at, lines }) => `${at} ${lines}`)).toEqual([
      "x.ts:2 outer 6",
      "x.ts:3 inner 3",
      "x.ts:9 method 3",
      "x.ts:12 value 1",
      "x.ts:14 oneLine 1",
    ]);
    expect(longFunctions("x.ts", text, 5)).toEqual(["x.ts:2 outer (6 lines)"]);
    expect(longFunctions("x.ts", text, 6)).toEqual([]);
  });

  it(`party/: no function is longer than ${MAX_FUNCTION_LINES} lines`, () => {
    const long = sourceFiles("party").flatMap((file) => longFunctions(file, readFileSync(path.join(ROOT, file), "utf8")));
    expect(long).toEqual([]);
  });

  it("finds the sources and what they import", () => {
    expect(graph.get("party/core/log/reads.ts")).toContain("party/protocol.ts");
    expect(graph.size).toBeGreaterThan(100);
  });

  it("has no import loop among the sources", () => {
    expect(cyclesOf(graph).map((cycle) => cycle.join(" -> "))).toEqual([]);
  });

  it.each(DIRECTIONS)("$files: $why", ({ files, outside, forbids }) => {
    const broken = [...graph].flatMap(([file, imports]) =>
      file.startsWith(files) && !(outside && file.startsWith(outside)) ? imports.filter(forbids).map((imported) => `${file} -> ${imported}`) : [],
    );
    expect(broken).toEqual([]);
  });

  it("party/core: every folder is in the direction table, and the table has no loop", () => {
    const folders = new Set([...graph.keys()].filter((file) => file.startsWith("party/core/")).map(coreFolderOf));
    expect([...folders].sort()).toEqual(Object.keys(CORE_FOLDERS).sort());
    expect(cyclesOf(new Map(Object.entries(CORE_FOLDERS)))).toEqual([]);
  });

  it("party/core: a folder imports only the folders below it in the direction table", () => {
    const broken = [...graph].flatMap(([file, imports]) =>
      file.startsWith("party/core/")
        ? imports
            .filter((imported) => imported.startsWith("party/core/"))
            .filter((imported) => coreFolderOf(imported) !== coreFolderOf(file) && !CORE_FOLDERS[coreFolderOf(file)]?.includes(coreFolderOf(imported)))
            .map((imported) => `${file} -> ${imported}`)
        : [],
    );
    expect(broken).toEqual([]);
  });
});
