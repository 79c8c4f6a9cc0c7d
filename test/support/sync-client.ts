// Real, unmodified TinyBase synchronizer clients in Node: createWsSynchronizer over a MergeableStore
// and a `ws` WebSocket to `{room}/sync`, as TinyBase's own docs connect them.
/// <reference types="node" />
import { createMergeableStore, type MergeableStore } from "tinybase";
import { createWsSynchronizer, type WsSynchronizer } from "tinybase/synchronizers/synchronizer-ws-client";
import { WebSocket } from "ws";

export interface SyncClient {
  store: MergeableStore;
  synchronizer: WsSynchronizer<WebSocket>;
  /** Errors TinyBase passed over (`onIgnoredError`): a request of the client's that timed out is one. */
  ignored: unknown[];
  close(): Promise<void>;
}

export const syncUrl = (host: string, room: string) => `ws://${host}/parties/main/${room}/sync`;

/** Connects a synchronizer client and waits for its first load and save; `store` may hold offline edits. */
export const connectSync = async (host: string, room: string, store = createMergeableStore()): Promise<SyncClient> => {
  const ignored: unknown[] = [];
  const synchronizer = await createWsSynchronizer(store, new WebSocket(syncUrl(host, room)), undefined, undefined, undefined, (error) => ignored.push(error));
  await synchronizer.startSync();
  return { store, synchronizer, ignored, close: async () => void (await synchronizer.destroy()) };
};

/** JSON with object keys sorted: contents compared regardless of insertion order. */
export const canonical = (thing: unknown): string =>
  JSON.stringify(thing, (_key, value) =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)))
      : value,
  );
