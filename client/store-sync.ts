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

export const syncStore = (room: SyncLink, store: StoreLike, options: StoreSyncOptions = {}): StoreSync => {
  const rejectedListeners = new Set<(error: Error) => void>();
  if (options.onRejected) rejectedListeners.add(options.onRejected);
  /** Local changes not yet seen in the log: `external` when made, and their seq once acknowledged. */
  const own = new Map<string, { madeAt: number; seq?: number }>();
  /** Local changes made before the first load, sent after it. */
  let queued: [mid: string, changes: Changes][] | undefined = [];
  /** The room has no store and this sync did not create one (`createOnLoad: false`). */
  let absent = false;
  /** That store's creation, while it is on its way: true once it exists. */
  let creating: Promise<boolean> | undefined;
  let external = 0;
  let applying = false;
  let stopped = false;
  let feed: EventFeed | undefined;
  /** The current feed delivers events after this seq only. */
  let followedFrom = 0;
  let loading: Promise<void> | undefined;
  /** TinyBase frames since the last roomstore message, and those that came right before a nack. */
  let heldFrames: unknown[] = [];
  const corrections = new Map<string, unknown[]>();

  const write = (change: () => void) => {
    external++;
    applying = true;
    try {
      store.transaction(change);
    } finally {
      applying = false;
    }
  };

  const report = (error: Error) => {
    for (const listener of rejectedListeners) listener(error);
  };

  const onStoreEvent = (event: RoomEvent) => {
    absent = false;
    const mine = own.get(event.id);
    if (mine) {
      own.delete(event.id);
      if (mine.madeAt === external) return;
    }
    const data = event.data;
    if (!isTablesAndValues(data)) return;
    if (event.type === EVENT_CHANGES) write(() => store.applyChanges(decodeLoggedChanges([data[0], data[1]]) as never));
    else write(() => store.setContent(decodeContent([data[0], data[1]]) as never)); // $init, $replace
  };

  const follow = (after: number) => {
    feed?.close();
    followedFrom = after;
    const current = (feed = room.events({ stream: STORE_STREAM, after }));
    current.each(onStoreEvent).catch((error: Error) => {
      // The room ended the subscription (e.g. too many on this connection): start again.
      if (current === feed && !stopped) {
        report(error);
        void reload().catch(report);
      }
    });
  };

  const load = async () => {
    let snapshot = await getSnapshot(room.http);
    if (!snapshot.content && options.createOnLoad !== false) {
      // No store yet: this one is the first (201), or another client's PUT won the race (205).
      await putSnapshot(room.http, store.getContent() as never);
      snapshot = await getSnapshot(room.http);
    }
    absent = !snapshot.content;
    if (stopped) return;
    const { content, seq } = snapshot;
    if (content && options.onSnapshot) {
      await options.onSnapshot(content);
      if (stopped) return;
    }
    if (content) write(() => store.setContent(content as never));
    for (const [mid, change] of own) if (change.seq !== undefined && change.seq <= seq) own.delete(mid);
    follow(seq);
    const waiting = queued ?? [];
    queued = undefined;
    for (const [mid, changes] of waiting) send(mid, changes);
  };

  /** Loads until it works, or until the room says no for good (a 4xx other than 408/429). */
  const reload = (): Promise<void> =>
    (loading ??= (async () => {
      for (let delay = RETRY_MIN_MS; !stopped; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
        try {
          return await load();
        } catch (error) {
          if (!isTransient(error)) throw error;
          await sleep(delay);
        }
      }
    })().finally(() => (loading = undefined)));

  const undo = (mid: string, error: Error) => {
    own.delete(mid);
    const frames = corrections.get(mid) ?? [];
    corrections.delete(mid);
    if (stopped || room.closed) return;
    report(error);
    const changes = frames.filter((frame) => isTablesAndValues(frame));
    if (changes.length > 0) write(() => changes.forEach((frame) => store.applyChanges(decodeChanges(frame) as never)));
    else void reload().catch(report); // no correction came (the change was malformed): take the room's state
  };

  /** The first local change to a room with no store creates it: a PUT of the whole local store. */
  // Changes made while that PUT is on its way wait for it: the room refuses changes to no store.
  const create = (mid: string, changes: Changes) => {
    absent = false;
    own.delete(mid); // a PUT is logged as $init, with no id to recognise
    creating = putSnapshot(room.http, store.getContent() as never).then(
      (created) => {
        if (!created) send(mid, changes); // another client created it first: send the change
        return true;
      },
      (error: Error) => {
        absent = true;
        report(error);
        if (!stopped) write(() => store.setContent([{}, {}]));
        return false;
      },
    );
    const current = creating;
    void current.finally(() => creating === current && (creating = undefined));
  };

  const send = (mid: string, changes: Changes) => {
    if (absent) return create(mid, changes);
    if (creating) return void creating.then((created) => (created ? send(mid, changes) : own.delete(mid)));
    room.sendChanges(encodeChanges(changes), mid).then((seq) => {
      const change = own.get(mid);
      if (!change) return;
      // No event (nothing changed), or one the current feed will never deliver.
      if (seq === null || seq <= followedFrom) own.delete(mid);
      else change.seq = seq;
    }, (error: Error) => undo(mid, error));
  };

  const stopFrames = room.onChangesFrame((frame) => {
    heldFrames.push(frame);
    if (heldFrames.length > MAX_HELD_FRAMES) heldFrames.shift();
  });
  const stopMessages = room.onMessage((message) => {
    if (message.t === "nack" && own.has(message.mid)) corrections.set(message.mid, heldFrames);
    heldFrames = [];
  });

  // After a reconnect the feed resumes after its last seq by itself; if retention has trimmed
  // events after that seq (the log's seqs have no holes), it missed some: reload instead.
  const stopOpen = room.onOpen(() => {
    const seen = feed?.lastSeq;
    if (seen === undefined || loading) return;
    readEventPage(room.http, { after: seen, limit: 1 }).then(
      (page) => {
        if (page.head > seen && page.events[0]?.seq !== seen + 1) void reload().catch(report);
      },
      () => {}, // offline again: the next open checks again
    );
  });

  const listenerId = store.addDidFinishTransactionListener(() => {
    if (applying || stopped) return;
    const [tables, values] = store.getTransactionChanges();
    if (Object.keys(tables).length === 0 && Object.keys(values).length === 0) return;
    const mid = newId();
    const changes: Changes = [tables, values, 1];
    own.set(mid, { madeAt: external });
    if (queued) queued.push([mid, changes]);
    else send(mid, changes);
  });

  const ready = reload();
  ready.catch(() => {}); // also reported through `ready` itself

  return {
    ready,
    onRejected(listener) {
      rejectedListeners.add(listener);
      return () => void rejectedListeners.delete(listener);
    },
    stop() {
      stopped = true;
      store.delListener(listenerId);
      stopFrames();
      stopMessages();
      stopOpen();
      feed?.close();
    },
  };
};
