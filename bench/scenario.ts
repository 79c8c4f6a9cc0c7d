// What a scenario module provides, and what it gets to report with.
//
// A scenario measures every target in turn (never in parallel: the client and all
// servers share the machine's cores) and records one value per metric and target.
// A failing target is recorded as an error in its cells and never stops the run.
import type { Fixtures } from "./fixtures.ts";
import type { Protocol, Target, TargetName } from "./targets.ts";

export interface RunOptions {
  /** Small parameters for a smoke run (`--quick`). */
  quick: boolean;
  /** Distinguishes this run's room names. */
  runId: string;
}

export interface MetricSpec {
  key: string;
  label: string;
  /** Which direction is better; "none" for counts that are not compared as a ratio. */
  better: "higher" | "lower" | "none";
  decimals: number;
  /** How rounds combine: their median, or their largest (counts such as "lost"); by default the largest for "none", else the median. */
  rounds?: "median" | "largest";
}

/** A figure, or a short note ("n/a", "error: …") shown in its place. */
export type Figure = number | string;

export interface ResultSink {
  record(target: TargetName, key: string, value: Figure): void;
  /** Marks every listed metric of the target as failed with the error's message. */
  fail(target: TargetName, keys: readonly string[], error: unknown): void;
  /** A line printed under the table (method used, anomalies seen). */
  note(text: string): void;
}

export interface ScenarioContext {
  options: RunOptions;
  targets: readonly Target[];
  fixtures: Fixtures;
  sink: ResultSink;
  log(message: string): void;
}

export interface Scenario {
  /** For `--only`. */
  name: string;
  title: string;
  /** The clients it drives (default "persister"): it runs against the targets that serve them. */
  protocol?: Protocol;
  /** The exact parameters, printed above the table. */
  parameters(options: RunOptions): string[];
  metrics(options: RunOptions): MetricSpec[];
  run(context: ScenarioContext): Promise<void>;
}

export interface RunningTarget extends Target {
  server: NonNullable<Target["server"]>;
}

/**
 * Runs `measure` for each target whose server is up, one target at a time. If it
 * throws, or the server never started, the listed metrics of that target show the error.
 */
export async function forEachTarget(
  context: ScenarioContext,
  keys: readonly string[],
  measure: (target: RunningTarget) => Promise<void>,
): Promise<void> {
  for (const target of context.targets) {
    if (!target.server) {
      context.sink.fail(target.name, keys, target.startError);
      continue;
    }
    try {
      await measure(target as RunningTarget);
    } catch (error) {
      context.log(`${target.name}: ${error instanceof Error ? error.message : String(error)}`);
      context.sink.fail(target.name, keys, error);
    }
  }
}

export function metric(key: string, label: string, better: MetricSpec["better"], decimals = 1): MetricSpec {
  return { key, label, better, decimals };
}

/** A ratio of two figures of the same round, not compared with a baseline's: over rounds, its median. */
export function ratioMetric(key: string, label: string): MetricSpec {
  return { key, label, better: "none", decimals: 2, rounds: "median" };
}
