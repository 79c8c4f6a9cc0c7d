// Keeps a TinyBase store in sync with a room, with what TinyBase's own PartyKit persister lacks:
// - local changes are acknowledged writes, resent after a reconnect and applied once;
// - remote changes come from the room's `$store` stream, resumed after the last seq seen, so a
//   client that was offline catches up on everything it missed;
// - a refused change is reported (`onRejected`) and the store reloads the room's state.
// Object and array cells travel as TinyBase encodes them ("\uFFFD" + JSON); deletions are "\uFFFC"
// on the wire and null in the log (a real null is logged "\uFFFDnull").
import type { Store } from "tinybase";
import { DELETED, EVENT_CHANGES, JSON_CELL_PREFIX, STORE_STREAM } from "../party/protocol.ts";
import { getSnapshot, putSnapshot, type HttpOptions } from "./http.ts";
import type { RoomClient, RoomEvent, RoomRejection } from "./room.ts";
import type { EventFeed } from "./subscription.ts";

type Things = Record<string, unknown>;

const encodeCell = (cell: unknown) =>
  cell === undefined ? DELETED : typeof cell === "object" && cell !== null ? JSON_CELL_PREFIX + JSON.stringify(cell) : cell;

const decodeCell = (cell: unknown) =>
  typeof cell === "string" && cell.startsWith(JSON_CELL_PREFIX) ? JSON.parse(cell.slice(1)) : cell;

/** Maps the leaves (cells, values) of tables at `depth` 2 or values at depth 0. */
const mapLeaves = (things: Things, depth: number, map: (leaf: unknown) => unknown, mapObject = (thing: unknown) => thing): Things => {
  // No prototype: an id like "__proto__" must stay an id.
  const out: Things = Object.create(null);
  for (const [id, thing] of Object.entries(things)) {
    out[id] = depth === 0 || thing === null || typeof thing !== "object" ? (depth === 0 ? map(thing) : mapObject(thing)) : mapLeaves(thing as Things, depth - 1, map, mapObject);
  }
  return out;
};

/** Log data (`null`: deleted, "\uFFFDnull": null) to TinyBase changes (undefined: deleted). */
const changesFromLog = ([tables, values]: [Things, Things]) => {
  const fromLog = (thing: unknown) => (thing === null ? undefined : decodeCell(thing));
  return [mapLeaves(tables, 2, fromLog, fromLog), mapLeaves(values, 0, fromLog), 1] as const;
};

const decodeContent = ([tables, values]: [Things, Things]) => [mapLeaves(tables, 2, decodeCell), mapLeaves(values, 0, decodeCell)] as const;

export interface StoreSync {
  /** Resolves once the store holds the room's state and follows it. */
  readonly ready: Promise<void>;
  onRejected(listener: (error: RoomRejection) => void): () => void;
  stop(): void;
}

export const syncStore = (client: RoomClient, store: Store, http: Omit<HttpOptions, "host" | "room">): StoreSync => {
  const httpOptions: HttpOptions = { ...http, host: client.options.host, room: client.options.room, party: client.options.party };
  const rejectedListeners = new Set<(error: RoomRejection) => void>();
  /** Own writes not yet seen in the log, with the count of remote changes applied when sent. */
  const own = new Map<string, number>();
  let remoteApplied = 0;
  let applying = false;
  let feed: EventFeed | undefined;
  let stopped = false;

  const apply = (change: () => void) => {
    applying = true;
    try {
      store.transaction(change);
    } finally {
      applying = false;
    }
  };

  const follow = (after: number) => {
    feed?.close();
    feed = client.events({ stream: STORE_STREAM, after });
    void feed.each((event: RoomEvent) => {
      const sentAt = own.get(event.id);
      if (sentAt !== undefined) {
        own.delete(event.id);
        // Our own change: already in the store, unless a remote change landed on top meanwhile.
        if (sentAt === remoteApplied) return;
      } else {
        remoteApplied++;
      }
      const data = event.data as [Things, Things];
      if (event.type === EVENT_CHANGES) apply(() => store.applyChanges(changesFromLog(data) as never));
      else apply(() => store.setContent(decodeContent(data) as never));
    });
  };

  const load = async () => {
    let snapshot = await getSnapshot(httpOptions);
    if (!snapshot.content) {
      const [tables, values] = store.getContent();
      const content = [mapLeaves(tables, 2, encodeCell), mapLeaves(values, 0, encodeCell)];
      if (!(await putSnapshot(httpOptions, content))) snapshot = await getSnapshot(httpOptions);
      else snapshot = await getSnapshot(httpOptions);
    }
    if (stopped) return;
    if (snapshot.content) apply(() => store.setContent(decodeContent(snapshot.content as [Things, Things]) as never));
    follow(snapshot.seq);
  };

  const ready = load();

  const listenerId = store.addDidFinishTransactionListener(() => {
    if (applying || stopped) return;
    const [tables, values] = store.getTransactionChanges();
    if (Object.keys(tables).length === 0 && Object.keys(values).length === 0) return;
    const changes = [mapLeaves(tables as Things, 2, encodeCell, encodeCell), mapLeaves(values as Things, 0, encodeCell), 1];
    const mid = crypto.randomUUID();
    own.set(mid, remoteApplied);
    void ready
      .then(() => client.sendChanges(changes, mid))
      .catch((error: RoomRejection) => {
        own.delete(mid);
        if (stopped) return;
        for (const listener of rejectedListeners) listener(error);
        void load();
      });
  });

  return {
    ready,
    onRejected(listener) {
      rejectedListeners.add(listener);
      return () => void rejectedListeners.delete(listener);
    },
    stop() {
      stopped = true;
      store.delListener(listenerId);
      feed?.close();
    },
  };
};
