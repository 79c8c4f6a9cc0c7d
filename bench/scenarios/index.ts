// The scenarios of `npm run bench`, in the order they run and print.
import type { Scenario } from "../scenario.ts";
import { directory } from "./directory.ts";
import { durableStreams } from "./durable-streams.ts";
import { eventLog } from "./event-log.ts";
import { exportImport } from "./export-import.ts";
import { fixedLoad } from "./fixed-load.ts";
import { importLargeStore } from "./import-large-store.ts";
import { inspector } from "./inspector.ts";
import { presence } from "./presence.ts";
import { smallChange } from "./small-change.ts";
import { snapshot } from "./snapshot.ts";
import { sync } from "./sync.ts";
import { stalledReaders } from "./stalled-readers.ts";
import { throughput } from "./throughput.ts";
import { timeTravel } from "./time-travel.ts";
import { webhooks } from "./webhooks.ts";

export const SCENARIOS: readonly Scenario[] = [throughput, fixedLoad, snapshot, smallChange, eventLog, stalledReaders, exportImport, importLargeStore, sync, webhooks, durableStreams, inspector, timeTravel, directory, presence];
