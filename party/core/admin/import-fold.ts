// An import's writes, and the store it folds from the base and the `$store` events, kept in
// storage instead of memory, so that an import holds memory bounded in bytes whatever the size of
// the export or of its store.
//
// The store is its cells and values, one key each (storage/keys.ts). Each `$store` event is planned as the
// room's model plans it (store/model.ts `plan`, `planReplace`): set and deleted cells as named; a deleted
// row or table, and every cell and value before a replace, expanded into the cells that exist then.
// Those are read by listing storage, a page at a time, through the writes not flushed yet (kept by
// key until their batch is written). The event's audit entries follow from the same writes.
// Postcondition, once flushed: the cells and values are those the room's model would hold after
// the same events, and the audit entries those it would have written. The order of the store's ids,
// which cells do not keep, comes from the log when the room loads (log/base.ts `loadFromLog`).
import type { Cell, Changes, Content } from "../store/changes.ts";
import { isDeleted } from "../store/changes.ts";
import type { EntrySink } from "../log/base.ts";
import { putAudit } from "../storage/event-log.ts";
import type { Keys } from "../storage/keys.ts";
import type { StoreWrite } from "../store/model.ts";
import type { RoomStorage } from "../storage/room-storage.ts";

/** Keys listed per page while a deletion looks for the cells it deletes: a page of cells holds at most 64 storage values. */
const LIST_PAGE_KEYS = 64;

export interface ImportWriter extends EntrySink {
  /** Writes what was put and deleted since the last flush, in one storage write. */
  flush(): Promise<void>;
  /** Characters of keys and text values put since the last flush. */
  size(): number;
  /** The cells and values under `prefix` put or deleted since the last flush. */
  pendingUnder(prefix: string): Iterable<[string, Cell | undefined]>;
}

/** Entries collected for one storage write; a key is either put or deleted, the last call wins. */
export const createImportWriter = (storage: RoomStorage, keys: Keys): ImportWriter => {
  let puts = new Map<string, unknown>();
  let deletes = new Set<string>();
  /** The cells and values among them, in the order they were written. */
  let store = new Map<string, Cell | undefined>();
  let chars = 0;
  const isStoreKey = (key: string) => key.startsWith(keys.cells) || key.startsWith(keys.values);
  return {
    put(key, value) {
      if (deletes.size > 0) deletes.delete(key);
      puts.set(key, value);
      if (isStoreKey(key)) store.set(key, value as Cell);
      chars += key.length + (typeof value === "string" ? value.length : 16);
    },
    delete(key) {
      puts.delete(key);
      deletes.add(key);
      if (isStoreKey(key)) store.set(key, undefined);
      chars += key.length;
    },
    async flush() {
      if (puts.size === 0 && deletes.size === 0) return;
      const [batch, gone] = [puts, deletes];
      [puts, deletes, store, chars] = [new Map(), new Set(), new Map(), 0];
      await storage.write(batch, gone);
    },
    size: () => chars,
    *pendingUnder(prefix) {
      for (const entry of store) if (entry[0].startsWith(prefix)) yield entry;
    },
  };
};

/** The key prefix of every cell of a table, or of a row (cell keys are `P c "t","r","c"`). */
const cellPrefix = (keys: Keys, tableId: string, rowId?: string) =>
  keys.cells + JSON.stringify(tableId) + "," + (rowId === undefined ? "" : JSON.stringify(rowId) + ",");

/**
 * The store folded into storage through `writer`: `apply` puts one `$store` event's cells, values
 * and audit entries, flushing whenever the writer holds IMPORT_BATCH_CHARS or more.
 */
export const createStorageFold = (storage: RoomStorage, keys: Keys, writer: ImportWriter, batchChars: number) => {
  /** The keys under `prefix` that hold a cell or value now: in storage or written since, and not deleted since. */
  async function* existing(prefix: string): AsyncGenerator<string> {
    // The unflushed writes first, copied: a flush while the caller works must not lose them.
    const pendingNow = [...writer.pendingUnder(prefix)];
    const pendingKeys = new Set(pendingNow.map(([key]) => key));
    for (let start = prefix; ; ) {
      const page = await storage.list({ start, prefix, limit: LIST_PAGE_KEYS });
      for (const key of page.keys()) {
        start = key + "\0";
        if (!pendingKeys.has(key)) yield key;
      }
      if (page.size < LIST_PAGE_KEYS) break;
    }
    for (const [key, value] of pendingNow) if (value !== undefined) yield key;
  }

  const write = async (seq: number, change: StoreWrite) => {
    const key = change.kind === "cell" ? keys.cell(...change.path) : keys.value(change.id);
    if (change.value === undefined) writer.delete(key);
    else writer.put(key, change.value);
    putAudit(keys, seq, [change], writer.put);
    if (writer.size() >= batchChars) await writer.flush();
  };

  /** Deletes every cell (and value) under `prefix` that exists now. */
  const deleteAll = async (seq: number, prefix: string) => {
    // Listed before any is deleted, a page at a time: a deletion moves no key the listing has yet to reach.
    for await (const key of existing(prefix)) {
      if (key.startsWith(keys.values)) await write(seq, { kind: "value", id: keys.valueId(key), value: undefined });
      else await write(seq, { kind: "cell", path: keys.cellIds(key)!, value: undefined });
    }
  };

  const applyChanges = async (seq: number, [changedTables, changedValues]: Changes) => {
    for (const tableId in changedTables) {
      const table = changedTables[tableId];
      if (isDeleted(table)) {
        await deleteAll(seq, cellPrefix(keys, tableId));
        continue;
      }
      for (const rowId in table) {
        const row = table[rowId];
        if (isDeleted(row)) {
          await deleteAll(seq, cellPrefix(keys, tableId, rowId));
          continue;
        }
        for (const cellId in row) {
          const cell = row[cellId];
          await write(seq, { kind: "cell", path: [tableId, rowId, cellId], value: isDeleted(cell) ? undefined : cell });
        }
      }
    }
    for (const valueId in changedValues) {
      const value = changedValues[valueId];
      await write(seq, { kind: "value", id: valueId, value: isDeleted(value) ? undefined : value });
    }
  };

  const applyReplace = async (seq: number, [tables, values]: Content) => {
    await deleteAll(seq, keys.cells);
    await deleteAll(seq, keys.values);
    for (const tableId in tables) {
      for (const rowId in tables[tableId]) {
        const row = tables[tableId][rowId];
        for (const cellId in row) await write(seq, { kind: "cell", path: [tableId, rowId, cellId], value: row[cellId] });
      }
    }
    for (const id in values) await write(seq, { kind: "value", id, value: values[id] });
  };

  return {
    /** One `$store` event of seq `seq`: its changes, or the content it replaces the store with. */
    apply: (seq: number, data: { changes: Changes } | { content: Content }) =>
      "changes" in data ? applyChanges(seq, data.changes) : applyReplace(seq, data.content),
    /** The base's store, into an empty room: its cells and values, with no audit entries. */
    putBase(writes: StoreWrite[]) {
      for (const change of writes) {
        if (change.kind === "cell") writer.put(keys.cell(...change.path), change.value);
        else writer.put(keys.value(change.id), change.value);
      }
    },
  };
};
