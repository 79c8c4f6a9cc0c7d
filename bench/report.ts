// Markdown output: the machine, then one table per scenario with every target's
// figure and roomstore's ratio against each baseline.
import { cpus, freemem, totalmem, type as osType, release } from "node:os";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Figure, MetricSpec, ResultSink, RunOptions, Scenario } from "./scenario.ts";
import { median } from "./stats.ts";
import { BASELINES, SUBJECTS, type Target, type TargetName } from "./targets.ts";

const MAX_NOTE_CHARS = 90;

export interface ScenarioResults extends ResultSink {
  figure(target: TargetName, key: string): Figure | undefined;
  /** Over several rounds: the median of each round's subject ÷ baseline (drift cancels within a round). */
  ratio?(subject: TargetName, baseline: TargetName, key: string): number | undefined;
  notes(): readonly string[];
}

export function createScenarioResults(): ScenarioResults {
  const figures = new Map<string, Figure>();
  const notes: string[] = [];
  return {
    record: (target, key, value) => void figures.set(`${target}\n${key}`, value),
    fail(target, keys, error) {
      const message = error instanceof Error ? error.message : String(error);
      for (const key of keys) if (!figures.has(`${target}\n${key}`)) figures.set(`${target}\n${key}`, `error: ${message}`);
    },
    note: (text) => void notes.push(text),
    figure: (target, key) => figures.get(`${target}\n${key}`),
    notes: () => notes,
  };
}

/**
 * One result from several rounds: each figure is the median of the rounds that measured it
 * (counts such as "lost" take the largest), with the spread noted; notes keep their round.
 */
export function mergeRounds(specs: readonly MetricSpec[], targets: readonly Target[], rounds: readonly ScenarioResults[]): ScenarioResults {
  const merged: ScenarioResults = {
    ...createScenarioResults(),
    ratio(subject, baseline, key) {
      const ratios = rounds.flatMap((round) => {
        const [top, bottom] = [round.figure(subject, key), round.figure(baseline, key)];
        return typeof top === "number" && typeof bottom === "number" && bottom > 0 && Number.isFinite(top) ? [top / bottom] : [];
      });
      return ratios.length ? median(ratios) : undefined;
    },
  };
  for (const spec of specs) {
    for (const { name } of targets) {
      const figures = rounds.map((round) => round.figure(name, spec.key)).filter((figure) => figure !== undefined);
      const numbers = figures.filter((figure): figure is number => typeof figure === "number" && Number.isFinite(figure));
      if (numbers.length === 0) {
        if (figures.length > 0) merged.record(name, spec.key, figures[0]);
        continue;
      }
      const largest = (spec.rounds ?? (spec.better === "none" ? "largest" : "median")) === "largest";
      merged.record(name, spec.key, largest ? Math.max(...numbers) : median(numbers));
      if (numbers.length < figures.length) merged.note(`${name} ${spec.label}: ${figures.length - numbers.length} of ${figures.length} rounds gave no figure`);
    }
  }
  const spread = specs
    .filter((spec) => spec.better === "higher")
    .flatMap((spec) =>
      targets.flatMap(({ name }) => {
        const numbers = rounds.map((round) => round.figure(name, spec.key)).filter((figure): figure is number => typeof figure === "number");
        return numbers.length > 1 ? [`${name} ${spec.label} ${numbers.map((n) => Math.round(n).toLocaleString("en-US")).join(" / ")}`] : [];
      }),
    );
  if (spread.length) merged.note(`rounds: ${spread.join("; ")}`);
  // A note every round made (a fixture's fill, shared by the rounds) is printed once.
  const everyRound = (note: string) => rounds.every((round) => round.notes().includes(note));
  for (const note of new Set(rounds.flatMap((round) => round.notes()))) if (everyRound(note)) merged.note(note);
  rounds.forEach((round, index) => round.notes().forEach((note) => everyRound(note) || merged.note(`round ${index + 1}: ${note}`)));
  return merged;
}

export function renderMachine(options: RunOptions, targets: readonly Target[], rounds = 1): string {
  const cpuList = cpus();
  const lines = [
    `# roomstore benchmark${options.quick ? " (--quick)" : ""}`,
    "",
    `- machine: ${cpuList.length} cores (${cpuList[0]?.model.trim() ?? "unknown CPU"}), ` +
      `${gib(totalmem())} GiB RAM (${gib(freemem())} free), ${osType()} ${release()}`,
    `- node ${process.version}; ${["wrangler", "partykit", "partyserver", "tinybase", "ws"].map((name) => `${name} ${version(name)}`).join(", ")}`,
    `- load generator and all servers on the same machine (127.0.0.1); targets measured one after the other, all servers up`,
    `- wrangler dev with X_LOCAL_OBSERVABILITY=${process.env.X_LOCAL_OBSERVABILITY ?? "false"} (its Local Explorer trace of every invocation: deployed Workers have none)`,
    `- date: ${new Date().toISOString()}`,
    `- ${rounds === 1 ? "one round" : `${rounds} rounds, the targets' order rotating; each figure is the median of its rounds`}`,
    ...targets.map((target) => `- \`${target.name}\`: ${target.description}${target.startError ? ` — ${target.startError}` : ""}`),
  ];
  return lines.join("\n") + "\n";
}

export function renderScenario(
  scenario: Scenario,
  options: RunOptions,
  targets: readonly Target[],
  results: ScenarioResults,
  elapsedMs: number,
): string {
  const names = targets.map((target) => target.name);
  const baselines = BASELINES.filter((name) => names.includes(name));
  const pairs = SUBJECTS.filter((name) => names.includes(name)).flatMap((subject) => baselines.map((baseline) => [subject, baseline] as const));
  const header = ["metric", ...names.map((name) => `\`${name}\``), ...pairs.map(([subject, baseline]) => `${subject}/${baseline}`)];
  const rows = scenario.metrics(options).map((spec) => [
    spec.label + (spec.better === "higher" ? " ↑" : spec.better === "lower" ? " ↓" : ""),
    ...names.map((name) => formatFigure(results.figure(name, spec.key), spec)),
    ...pairs.map(([subject, baseline]) =>
      formatRatio(results.figure(subject, spec.key), results.figure(baseline, spec.key), spec, results.ratio?.(subject, baseline, spec.key)),
    ),
  ]);
  const lines = [
    `## ${scenario.title}`,
    "",
    ...scenario.parameters(options).map((line) => `- ${line}`),
    "",
    row(header),
    row(header.map((_, index) => (index === 0 ? "---" : "---:"))),
    ...rows.map(row),
    "",
    ...results.notes().map((note) => `> ${escapeCell(note)}  `),
    `_${(elapsedMs / 1000).toFixed(1)} s. ↑ higher is better, ↓ lower is better; ratios are subject ÷ baseline${results.ratio ? ", the median of the rounds' ratios" : ""}._`,
  ];
  return lines.join("\n") + "\n";
}

function formatFigure(figure: Figure | undefined, spec: MetricSpec): string {
  if (figure === undefined) return "—";
  if (typeof figure === "string") return escapeCell(figure.length > MAX_NOTE_CHARS ? `${figure.slice(0, MAX_NOTE_CHARS)}…` : figure);
  if (!Number.isFinite(figure)) return String(figure);
  return figure.toLocaleString("en-US", { minimumFractionDigits: spec.decimals, maximumFractionDigits: spec.decimals });
}

function formatRatio(subject: Figure | undefined, baseline: Figure | undefined, spec: MetricSpec, ofRounds?: number): string {
  if (spec.better === "none" || typeof subject !== "number" || typeof baseline !== "number") return "—";
  if (ofRounds !== undefined) return `${ofRounds.toFixed(2)}×`;
  if (!(baseline > 0) || !Number.isFinite(subject)) return "—";
  return `${(subject / baseline).toFixed(2)}×`;
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(" | ")} |`;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
}

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(1);
}

function version(name: string): string {
  try {
    const manifestPath = path.join(import.meta.dirname, "..", "node_modules", name, "package.json");
    const manifest: unknown = JSON.parse(readFileSync(manifestPath, "utf8"));
    return typeof manifest === "object" && manifest !== null && "version" in manifest ? String(manifest.version) : "?";
  } catch {
    return "?";
  }
}
