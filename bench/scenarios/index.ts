// The scenarios of `npm run bench`, in the order they run and print.
import type { Scenario } from "../scenario.ts";
import { eventLog } from "./event-log.ts";
import { fixedLoad } from "./fixed-load.ts";
import { inspector } from "./inspector.ts";
import { smallChange } from "./small-change.ts";
import { snapshot } from "./snapshot.ts";
import { throughput } from "./throughput.ts";

export const SCENARIOS: readonly Scenario[] = [throughput, fixedLoad, snapshot, smallChange, eventLog, inspector];
