// Loads the room's state from storage when the room starts, before any write or read.
// Postconditions: the meta is the stored one; the store model is the store at `storeSeq`, built
// from the snapshot and the $store events after it, else from the retention base and the log,
// else cell by cell; a snapshot is scheduled when there is none or it lags far behind.
// Nothing is written on the way: a load that fails can simply run again.
import { loadFromLog } from "../log/base.ts";
import type { Meta } from "../room/types.ts";
import { loadSnapshot, SNAPSHOT_REWRITE_EVENTS } from "../log/snapshot.ts";
import type { StoreWrite } from "../store/model.ts";
import type { WriteContext } from "./context.ts";
import { scheduleSnapshot } from "./snapshot.ts";

/** Most keys read per listing while loading the store. */
const LOAD_PAGE_KEYS = 10_000;

export const loadRoom = async (ctx: WriteContext): Promise<void> => {
  const { storage, keys, state } = ctx;
  const stored = (await storage.get([keys.meta])).get(keys.meta) as Meta | undefined;
  if (stored) state.restore(stored);
  const snapshot = await loadSnapshot(storage, keys, state.model, state.meta);
  state.snapshot.stored(snapshot.chunks);
  // Cells list in key order, not the store's: load them only when the log cannot give the order.
  if (!snapshot.loaded && !(await loadFromLog(storage, keys, state.model, state.meta))) await loadCells(ctx);
  state.model.markCreated(state.meta.created);
  if (state.meta.created && (!snapshot.loaded || snapshot.replayed > SNAPSHOT_REWRITE_EVENTS)) scheduleSnapshot(ctx);
};

/** Loads the store cell by cell: the path when no usable snapshot exists. */
const loadCells = async ({ storage, keys, state }: WriteContext) => {
  for (const prefix of [keys.cells, keys.values]) {
    let start = prefix;
    for (;;) {
      const page = await storage.list({ start, prefix, limit: LOAD_PAGE_KEYS });
      const writes: StoreWrite[] = [];
      for (const [key, value] of page) {
        if (prefix === keys.cells) writes.push({ kind: "cell", path: keys.cellIds(key)!, value: value as never });
        else writes.push({ kind: "value", id: keys.valueId(key), value: value as never });
        start = key + "\0";
      }
      // Loading runs before any write: there is no batch, and nothing to undo.
      state.model.commit(writes);
      if (page.size < LOAD_PAGE_KEYS) break;
    }
  }
};
