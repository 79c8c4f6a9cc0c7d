// Keeps a TinyBase store in sync with a room, with what TinyBase's own PartyKit persister lacks:
// - it loads the store over HTTP, and the snapshot's ETag is the log seq it reflects;
// - local changes are acknowledged writes (`{t:"changes", mid}`), resent after a reconnect and
//   applied once (the room keeps the mid as the `$changes` event id);
// - remote changes come from the room's `$store` stream after that seq, so after a reconnect it
//   resumes where it was and nothing that happened offline is lost; when retention trimmed what it
//   missed, it reloads the snapshot instead;
// - a refused change is reported (`onRejected`) and undone with the values the room sends back.
//
// Convergence: the store ends as the log's fold, in log order. A local change is in the store
// before the room orders it; when its own event comes back it is skipped only if nothing else was
// written into the store since the change was made, else applied again in its place in the log.
// So every write the sync makes (remote events, snapshots, corrections) counts as one `external`.
import type { Store } from "tinybase";
import { EVENT_CHANGES, STORE_STREAM, type RoomEvent, type ServerMessage } from "../party/protocol.ts";
import type { EventFeed, EventSelectors } from "./event-feed.ts";
import { getSnapshot, putSnapshot, readEventPage, RoomHttpError, type HttpOptions } from "./http.ts";
import { newId } from "./ids.ts";
import { decodeChanges, decodeContent, decodeLoggedChanges, encodeChanges, isTablesAndValues, type Changes, type Content } from "./tinybase-encoding.ts";

/** The TinyBase store a sync works on (a MergeableStore is a Store too). */
export type StoreLike = Store;

/** What a sync uses of its room (room.ts's `Room`, which documents each member). */
export interface SyncLink {
  readonly http: HttpOptions;
  readonly closed: boolean;
  events(selectors: EventSelectors): EventFeed;
  sendChanges(changes: unknown, mid: string): Promise<number | null>;
  onMessage(listener: (message: ServerMessage) => void): () => void;
  onChangesFrame(listener: (changes: unknown) => void): () => void;
  onOpen(listener: () => void): () => void;
}

export interface StoreSyncOptions {
  /** A change the room refused, or could not be sent; the store is put back as the room has it. */
  onRejected?: (error: Error) => void;
  /**
   * False: loading a room that has no store creates none (viewers, such as the inspector, leave an
   * unknown room as it was); the first local change creates it, with a PUT of the local content.
   * Default true: the first load saves the (empty) local store, as TinyBase's persister does.
   */
  createOnLoad?: boolean;
  /**
   * Hears each snapshot loaded, decoded, before the store takes it: TinyBase's `setContent` is most
   * of a large store's load (about 200 ms for 50,000 cells in Chromium), so a viewer can show the
   * first rows from the snapshot meanwhile. The load waits for a promise it returns (to let a
   * frame paint); nothing is applied to the store, and local changes wait, until it settles.
   */
  onSnapshot?: (content: Content) => void | Promise<void>;
}

export interface StoreSync {
  /** Resolves once the store holds the room's state and follows it (rejects if the room refuses to load). */
  readonly ready: Promise<void>;
  onRejected(listener: (error: Error) => void): () => void;
  stop(): void;
}

/** Retry delays of a load that failed for a transient reason (network, 5xx), in ms. */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;
/** TinyBase frames kept while waiting for a nack (the room sends its correction right before it). */
const MAX_HELD_FRAMES = 64;

const isTransient = (error: unknown) => !(error instanceof RoomHttpError) || error.status >= 500 || error.status === 408 || error.status === 429;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A sync's state: the store and its room, the local changes on their way, and the feed it follows. */
interface Sync {
  readonly room: SyncLink;
  readonly store: StoreLike;
  readonly options: StoreSyncOptions;
  readonly rejectedListeners: Set<(error: Error) => void>;
  /** Local changes not yet seen in the log: `external` when made, and their seq once acknowledged. */
  readonly own: Map<string, { madeAt: number; seq?: number }>;
  /** Local changes made before the first load, sent after it. */
  queued: [mid: string, changes: Changes][] | undefined;
  /** The room has no store and this sync did not create one (`createOnLoad: false`). */
  absent: boolean;
  /** That store's creation, while it is on its way: true once it exists. */
  creating: Promise<boolean> | undefined;
  /** Writes the sync made into the store (remote events, snapshots, corrections). */
  external: number;
  /** The sync is writing into the store: its transaction is not a local change. */
  applying: boolean;
  stopped: boolean;
  feed: EventFeed | undefined;
  /** The current feed delivers events after this seq only. */
  followedFrom: number;
  loading: Promise<void> | undefined;
  /** TinyBase frames since the last roomstore message, and those that came right before a nack. */
  heldFrames: unknown[];
  readonly corrections: Map<string, unknown[]>;
}

const write = (sync: Sync, change: () => void): void => {
  sync.external++;
  sync.applying = true;
  try {
    sync.store.transaction(change);
  } finally {
    sync.applying = false;
  }
};

const report = (sync: Sync, error: Error): void => {
  for (const listener of sync.rejectedListeners) listener(error);
};

const onStoreEvent = (sync: Sync, event: RoomEvent): void => {
  sync.absent = false;
  const mine = sync.own.get(event.id);
  if (mine) {
    sync.own.delete(event.id);
    if (mine.madeAt === sync.external) return;
  }
  const data = event.data;
  if (!isTablesAndValues(data)) return;
  const { store } = sync;
  if (event.type === EVENT_CHANGES) write(sync, () => store.applyChanges(decodeLoggedChanges([data[0], data[1]]) as never));
  else write(sync, () => store.setContent(decodeContent([data[0], data[1]]) as never)); // $init, $replace
};

const follow = (sync: Sync, after: number): void => {
  sync.feed?.close();
  sync.followedFrom = after;
  const current = (sync.feed = sync.room.events({ stream: STORE_STREAM, after }));
  current.each((event) => onStoreEvent(sync, event)).catch((error: Error) => {
    // The room ended the subscription (e.g. too many on this connection): start again.
    if (current === sync.feed && !sync.stopped) {
      report(sync, error);
      reloadReporting(sync);
    }
  });
};

const load = async (sync: Sync): Promise<void> => {
  const { room, store } = sync;
  let snapshot = await getSnapshot(room.http);
  if (!snapshot.content && sync.options.createOnLoad !== false) {
    // No store yet: this one is the first (201), or another client's PUT won the race (205).
    await putSnapshot(room.http, store.getContent() as never);
    snapshot = await getSnapshot(room.http);
  }
  sync.absent = !snapshot.content;
  if (sync.stopped) return;
  const { content, seq } = snapshot;
  if (content && sync.options.onSnapshot) {
    await sync.options.onSnapshot(content);
    if (sync.stopped) return;
  }
  if (content) write(sync, () => store.setContent(content as never));
  for (const [mid, change] of sync.own) if (change.seq !== undefined && change.seq <= seq) sync.own.delete(mid);
  follow(sync, seq);
  const waiting = sync.queued ?? [];
  sync.queued = undefined;
  for (const [mid, changes] of waiting) send(sync, mid, changes);
};

/** Loads until it works, or until the room says no for good (a 4xx other than 408/429). */
const reload = (sync: Sync): Promise<void> =>
  (sync.loading ??= (async () => {
    for (let delay = RETRY_MIN_MS; !sync.stopped; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
      try {
        return await load(sync);
      } catch (error) {
        if (!isTransient(error)) throw error;
        await sleep(delay);
      }
    }
  })().finally(() => (sync.loading = undefined)));

/** A reload whose failure is reported, not thrown. */
const reloadReporting = (sync: Sync): void => void reload(sync).catch((error: Error) => report(sync, error));

const undo = (sync: Sync, mid: string, error: Error): void => {
  sync.own.delete(mid);
  const frames = sync.corrections.get(mid) ?? [];
  sync.corrections.delete(mid);
  if (sync.stopped || sync.room.closed) return;
  report(sync, error);
  const changes = frames.filter((frame) => isTablesAndValues(frame));
  if (changes.length > 0) write(sync, () => changes.forEach((frame) => sync.store.applyChanges(decodeChanges(frame) as never)));
  else reloadReporting(sync); // no correction came (the change was malformed): take the room's state
};

/** The first local change to a room with no store creates it: a PUT of the whole local store. */
// Changes made while that PUT is on its way wait for it: the room refuses changes to no store.
const create = (sync: Sync, mid: string, changes: Changes): void => {
  sync.absent = false;
  sync.own.delete(mid); // a PUT is logged as $init, with no id to recognise
  const current = (sync.creating = putSnapshot(sync.room.http, sync.store.getContent() as never).then(
    (created) => {
      if (!created) send(sync, mid, changes); // another client created it first: send the change
      return true;
    },
    (error: Error) => {
      sync.absent = true;
      report(sync, error);
      if (!sync.stopped) write(sync, () => sync.store.setContent([{}, {}]));
      return false;
    },
  ));
  void current.finally(() => sync.creating === current && (sync.creating = undefined));
};

const send = (sync: Sync, mid: string, changes: Changes): void => {
  if (sync.absent) return create(sync, mid, changes);
  if (sync.creating) return void sync.creating.then((created) => (created ? send(sync, mid, changes) : sync.own.delete(mid)));
  sync.room.sendChanges(encodeChanges(changes), mid).then((seq) => {
    const change = sync.own.get(mid);
    if (!change) return;
    // No event (nothing changed), or one the current feed will never deliver.
    if (seq === null || seq <= sync.followedFrom) sync.own.delete(mid);
    else change.seq = seq;
  }, (error: Error) => undo(sync, mid, error));
};

/** A transaction on the store: a local change, sent (or queued until the first load) unless the sync made it. */
const onTransaction = (sync: Sync): void => {
  if (sync.applying || sync.stopped) return;
  const [tables, values] = sync.store.getTransactionChanges();
  if (Object.keys(tables).length === 0 && Object.keys(values).length === 0) return;
  const mid = newId();
  const changes: Changes = [tables, values, 1];
  sync.own.set(mid, { madeAt: sync.external });
  if (sync.queued) sync.queued.push([mid, changes]);
  else send(sync, mid, changes);
};

// After a reconnect the feed resumes after its last seq by itself; if retention has trimmed
// events after that seq (the log's seqs have no holes), it missed some: reload instead.
const onReconnect = (sync: Sync): void => {
  const seen = sync.feed?.lastSeq;
  if (seen === undefined || sync.loading) return;
  readEventPage(sync.room.http, { after: seen, limit: 1 }).then(
    (page) => {
      if (page.head > seen && page.events[0]?.seq !== seen + 1) reloadReporting(sync);
    },
    () => {}, // offline again: the next open checks again
  );
};

export const syncStore = (room: SyncLink, store: StoreLike, options: StoreSyncOptions = {}): StoreSync => {
  const sync: Sync = {
    room,
    store,
    options,
    rejectedListeners: new Set(options.onRejected ? [options.onRejected] : []),
    own: new Map(),
    queued: [],
    absent: false,
    creating: undefined,
    external: 0,
    applying: false,
    stopped: false,
    feed: undefined,
    followedFrom: 0,
    loading: undefined,
    heldFrames: [],
    corrections: new Map(),
  };
  const stopFrames = room.onChangesFrame((frame) => {
    sync.heldFrames.push(frame);
    if (sync.heldFrames.length > MAX_HELD_FRAMES) sync.heldFrames.shift();
  });
  const stopMessages = room.onMessage((message) => {
    if (message.t === "nack" && sync.own.has(message.mid)) sync.corrections.set(message.mid, sync.heldFrames);
    sync.heldFrames = [];
  });
  const stopOpen = room.onOpen(() => onReconnect(sync));
  const listenerId = store.addDidFinishTransactionListener(() => onTransaction(sync));
  const ready = reload(sync);
  ready.catch(() => {}); // also reported through `ready` itself
  return {
    ready,
    onRejected(listener) {
      sync.rejectedListeners.add(listener);
      return () => void sync.rejectedListeners.delete(listener);
    },
    stop() {
      sync.stopped = true;
      store.delListener(listenerId);
      stopFrames();
      stopMessages();
      stopOpen();
      sync.feed?.close();
    },
  };
};
