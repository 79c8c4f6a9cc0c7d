// `npm run bench [-- --quick] [-- --rounds N] [-- --only NAME[,NAME]] [-- --targets NAME[,NAME]] [-- --log]`
//
// Starts the targets (roomstore, roomstore-live, TinyBase's own server, a bare relay),
// runs the scenarios against each in turn, prints markdown to stdout (progress to
// stderr), and stops every server it started, also on failure or Ctrl-C. With
// `--rounds N` each scenario runs N times, the targets' order rotating between
// rounds, and each figure is the median of its rounds.
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createFixtures } from "./fixtures.ts";
import { createScenarioResults, mergeRounds, renderMachine, renderScenario, type ScenarioResults } from "./report.ts";
import type { RunOptions, Scenario } from "./scenario.ts";
import { SCENARIOS } from "./scenarios/index.ts";
import { TARGET_NAMES, TARGET_SPECS, type Target, startTargets, stopTargets } from "./targets.ts";

const USAGE = `usage: npm run bench -- [--quick] [--rounds N] [--only ${SCENARIOS.map((s) => s.name).join("|")}[,…]] [--targets ${TARGET_NAMES.join("|")}[,…]] [--log]`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      rounds: { type: "string", default: "1" },
      only: { type: "string", multiple: true },
      targets: { type: "string", multiple: true },
      log: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const scenarios = select(values.only, SCENARIOS.map((scenario) => scenario.name), "scenario")
    .map((name) => SCENARIOS.find((scenario) => scenario.name === name) as Scenario);
  const targetNames = select(values.targets, [...TARGET_NAMES], "target");
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds takes a whole number from 1\n${USAGE}`);
  const options: RunOptions = { quick: values.quick, runId: Date.now().toString(36) };
  const log = (message: string): void => void process.stderr.write(`bench: ${message}\n`);

  const started = performance.now();
  let targets: Target[] = [];
  try {
    targets = await startTargets(TARGET_SPECS.filter((spec) => targetNames.includes(spec.name)), values.log);
    process.stdout.write(`${renderMachine(options, targets, rounds)}\n`);
    const fixtures = createFixtures(options.runId, log);
    for (const scenario of scenarios) {
      const eligible = targets.filter((target) => target.protocols.includes(scenario.protocol ?? "persister"));
      log(`scenario ${scenario.name}`);
      const scenarioStarted = performance.now();
      const reloadsBefore = eligible.map(countReloads);
      const loadBefore = loadavg()[0];
      const perRound: ScenarioResults[] = [];
      for (let round = 0; round < rounds; round++) {
        const results = createScenarioResults();
        // Rooms are new in every round; rotating the order spreads any drift of the machine over all targets.
        const roundOptions = rounds > 1 ? { ...options, runId: `${options.runId}r${round}` } : options;
        const order = [...eligible.slice(round % eligible.length), ...eligible.slice(0, round % eligible.length)];
        try {
          await scenario.run({ options: roundOptions, targets: order, fixtures, sink: results, log });
        } catch (error) {
          // A scenario bug must not cost the other scenarios' figures.
          results.note(`scenario failed: ${error instanceof Error ? error.message : String(error)}`);
        }
        perRound.push(results);
      }
      const results = rounds > 1 ? mergeRounds(scenario.metrics(options), eligible, perRound) : perRound[0];
      eligible.forEach((target, index) => {
        if (countReloads(target) > reloadsBefore[index]) {
          results.note(`${target.name}: dev server reloaded during this scenario (a source file changed): its figures are not comparable`);
        }
      });
      results.note(`1-minute load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after (${cpus().length} cores)`);
      process.stdout.write(`${renderScenario(scenario, options, eligible, results, performance.now() - scenarioStarted)}\n`);
    }
    process.stdout.write(`_Total ${((performance.now() - started) / 1000).toFixed(0)} s._\n`);
    return 0;
  } finally {
    await stopTargets(targets);
  }
}

/**
 * `wrangler dev` rebuilds and restarts the worker when a source file changes, which
 * drops every socket and cold-starts the room: a scenario spanning one is void.
 */
function countReloads(target: Target): number {
  return target.server?.output().match(/Reloading local server/g)?.length ?? 0;
}

/** Comma- or repeat-separated names, each checked against `known`; all of `known` when absent. */
function select(requested: string[] | undefined, known: string[], what: string): string[] {
  if (!requested) return known;
  const names = requested.flatMap((value) => value.split(",")).map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length) throw new Error(`unknown ${what}: ${unknown.join(", ")}\n${USAGE}`);
  return known.filter((name) => names.includes(name));
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
