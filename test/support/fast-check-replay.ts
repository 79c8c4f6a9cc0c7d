// Set up before every core test file (vitest.config.ts): replays a property test's failure.
// fast-check's `fc.assert` reports a failure as `{ seed: S, path: "P", endOnFailure: true }` and the
// counterexample; `FC_SEED=S npx vitest run --project core test/core/x.test.ts` runs that property
// again from the same seed: the same inputs in the same order, so it fails and shrinks to the same
// case, without changing a test. (The path cannot be set globally: fast-check's GlobalParameters
// leave it out.) Once understood, the case becomes a fixed one (fast-check's `examples` option, or
// a test of its own). A test's own options (numRuns, time limits) still apply.
import fc from "fast-check";

const seed = process.env.FC_SEED;
if (seed !== undefined && seed !== "") {
  if (!/^-?\d+$/.test(seed)) throw new Error(`FC_SEED must be the integer fast-check printed, not ${JSON.stringify(seed)}.`);
  fc.configureGlobal({ seed: Number(seed) });
}
