// Rooms pre-filled with N cells, shared by the scenarios of one run (filling
// 100k cells is the slowest step, so each target fills each size once).
//
// A store is created with one PUT of the whole content. A target that refuses
// that PUT (body limit: 413, or any other non-201) gets an empty store by PUT and
// the cells over WebSocket in frames of FILL_FRAME_CELLS, as a TinyBase client
// would sync them. Either way the fill is checked by a GET before use.
import { closeSockets, countCells, encodeChanges, getStore, onCells, openSockets, putStore, waitFor } from "./load.ts";
import type { Content, Tables } from "./load.ts";
import type { Target } from "./targets.ts";

export const FIXTURE_TABLE = "t";
export const CELLS_PER_ROW = 10;
const FILL_FRAME_CELLS = 100;
/** Frames in flight during a WebSocket fill (bounded so the server's queue stays small). */
const FILL_WINDOW_FRAMES = 8;
const FILL_TIMEOUT_MS = 240_000;
const FILL_STALL_MS = 15_000;

export interface Fixture {
  room: string;
  cells: number;
  /** How the store was filled, for the report. */
  method: string;
  fillMs: number;
}

export interface Fixtures {
  /** A room of `target` holding `cells` cells (or a fresh room for a target that stores nothing). */
  get(target: Target & { server: NonNullable<Target["server"]> }, cells: number): Promise<Fixture>;
}

export function createFixtures(runId: string, log: (message: string) => void): Fixtures {
  const cache = new Map<string, Promise<Fixture>>();
  return {
    get(target, cells) {
      const key = `${target.name}/${cells}`;
      let fixture = cache.get(key);
      if (!fixture) {
        // A failure is cached too: a fill that failed once is not retried by the next scenario.
        fixture = fill(target, cells, `fx-${cells}-${runId}`, log);
        cache.set(key, fixture);
      }
      return fixture;
    },
  };
}

/** `cells` cells in rows of CELLS_PER_ROW, half numbers and half short strings. */
export function createTables(cells: number, firstCell = 0): Tables {
  const table: Tables[string] = {};
  for (let index = firstCell; index < firstCell + cells; index++) {
    const rowId = `r${Math.floor(index / CELLS_PER_ROW)}`;
    const row = (table[rowId] ??= {});
    row[`c${index % CELLS_PER_ROW}`] = index % 2 ? index : `v${index}`;
  }
  return { [FIXTURE_TABLE]: table };
}

async function fill(
  target: Target & { server: NonNullable<Target["server"]> },
  cells: number,
  room: string,
  log: (message: string) => void,
): Promise<Fixture> {
  const { origin, host } = target.server;
  const started = performance.now();
  if (!target.stores) return { room, cells, method: "nothing stored", fillMs: 0 };
  log(`${target.name}: filling ${cells} cells`);
  let method: string;
  const status = await putStore(origin, room, [createTables(cells), {}]);
  if (status === 201) {
    method = "one PUT";
  } else {
    const seedStatus = await putStore(origin, room, [{}, {}] satisfies Content);
    if (seedStatus !== 201) throw new Error(`PUT /store answered ${status}, then ${seedStatus} for an empty store`);
    await fillOverSocket(host, room, cells);
    method = `PUT refused (${status}); WS frames of ${FILL_FRAME_CELLS} cells`;
  }
  const snapshot = await getStore(origin, room);
  const stored = countCells(snapshot.content);
  if (stored !== cells) {
    throw new Error(`store holds ${stored} of ${cells} cells after fill (${method}, GET ${snapshot.status})`);
  }
  const fillMs = performance.now() - started;
  log(`${target.name}: ${cells} cells filled by ${method} in ${Math.round(fillMs)} ms`);
  return { room, cells, method, fillMs };
}

async function fillOverSocket(host: string, room: string, cells: number): Promise<void> {
  const [writer, observer] = await openSockets(host, room, 2);
  try {
    let sent = 0;
    let observed = 0;
    const pump = (): void => {
      while (sent < cells && sent - observed < FILL_WINDOW_FRAMES * FILL_FRAME_CELLS) {
        const size = Math.min(FILL_FRAME_CELLS, cells - sent);
        writer.send(encodeChanges(createTables(size, sent)));
        sent += size;
      }
    };
    onCells(observer, (tableId) => {
      if (tableId !== FIXTURE_TABLE) return;
      observed++;
      pump();
    });
    pump();
    const outcome = await waitFor({
      done: () => observed >= cells,
      progress: () => observed,
      stalledMs: FILL_STALL_MS,
      deadline: performance.now() + FILL_TIMEOUT_MS,
      pollMs: 50,
    });
    if (outcome !== "done") throw new Error(`WS fill ${outcome} at ${observed} of ${cells} cells`);
  } finally {
    closeSockets([writer, observer]);
  }
}

