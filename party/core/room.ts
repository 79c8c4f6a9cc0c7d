// The room: the authoritative store and its event log, transport-free. Adapters give it storage,
// config, hooks and the open connections; it gives them `handleRequest` and `handleMessage`.
// Postconditions of every write operation: the store update and its event are in one atomic
// storage write; nothing is broadcast, acknowledged or answered before that write is durable; a
// rejected or failed operation leaves memory and storage as they were.
import { changesForLog, encodeChangesFrame, EVENT_CHANGES, EVENT_INIT, EVENT_REPLACE, STORE_STREAM } from "../protocol.ts";
import { loadFromLog } from "./base.ts";
import { createBroadcaster } from "./broadcast.ts";
import type { Changes } from "./changes.ts";
import { isEmptyChanges, parseChanges } from "./changes.ts";
import { createCommitQueue, type Batch } from "./commit-queue.ts";
import { socketIdOf } from "./connections.ts";
import { RoomError } from "./errors.ts";
import { DEFAULT_STREAM, putAudit, putEvent, type StoredEvent } from "./event-log.ts";
import { readEventsBySeq } from "./event-reads.ts";
import { filterChanges } from "./hooks.ts";
import { createKeys } from "./keys.ts";
import { createMemoryGauge } from "./memory.ts";
import { hasRetention, RETENTION_DELAY_MS, RETENTION_RETRY_MS, runRetention, type RetentionPort } from "./retention.ts";
import type { LogReader, Meta, PutResult, RoomConnection, RoomContext, RoomCore, RoomOptions } from "./room-types.ts";
import { loadSnapshot, putSnapshot, SNAPSHOT_EVERY_CELLS, SNAPSHOT_EVERY_EVENTS, SNAPSHOT_REWRITE_EVENTS } from "./snapshot.ts";
import { stampWrite } from "./stats.ts";
import { changesOf, createStoreModel, type StoreWrite } from "./store.ts";
import { lockableQueue } from "./write-lock.ts";
import { validateWrite } from "./validate-webhook.ts";
import { deliverFromAlarm } from "./webhook-delivery.ts";

export * from "./room-types.ts";

/** Most keys read per listing while loading the store. */
const LOAD_PAGE_KEYS = 10_000;

/** Resolves the options once: the clock, the id source and the logger every module uses. */
const createRoomContext = (options: RoomOptions): RoomContext => ({
  ...options,
  now: options.now ?? Date.now,
  newId: options.newId ?? (() => crypto.randomUUID()),
  logger: options.logger ?? { error: () => {} },
});

export const createRoomCore = (rawOptions: RoomOptions): RoomCore => {
  const options = createRoomContext(rawOptions);
  const { storage, config, hooks, now, newId } = options;
  const keys = createKeys(config.storagePrefix);
  const model = createStoreModel();
  const meta: Meta = { head: 0, storeSeq: 0, created: false, first: 1 };
  const listeners = new Set<(events: StoredEvent[]) => void>();
  const log = (error: unknown) => options.logger.error("roomstore: storage write failed", error);

  const queue = lockableQueue(createCommitQueue({
    storage,
    head: () => meta.head,
    seal(batch) {
      const previous = { ...meta };
      meta.head = batch.nextSeq - 1;
      meta.created = model.hasStore;
      stampWrite(batch, meta, previous.head, now());
      batch.put(keys.meta, { ...meta });
      batch.onUndo(() => Object.assign(meta, previous));
    },
    log,
  }), meta);

  /** Sends frames to every connection but those listed. */
  const sendToAll = (frames: string[], except: ReadonlySet<string>) => {
    for (const connection of options.connections()) {
      if (!except.has(socketIdOf(connection))) for (const frame of frames) connection.send(frame);
    }
  };

  const changesFrame = (changes: Changes) => encodeChangesFrame(config.messagePrefix, changes);
  const broadcaster = createBroadcaster({
    prefix: config.messagePrefix,
    sendToAll,
    currentOf: (changes) => model.currentOf(changes),
    now,
  });
  /** Changesets to broadcast once each commit group is durable. */
  const groupBroadcasts = new WeakMap<Batch, ReturnType<typeof broadcaster.entry>[]>();
  const queueBroadcast = (batch: Batch, changes: Changes, writes: StoreWrite[], sender?: RoomConnection) => {
    let list = groupBroadcasts.get(batch);
    if (!list) {
      groupBroadcasts.set(batch, (list = []));
      batch.onCommit(() => broadcaster.flush(list!));
    }
    list.push(broadcaster.entry(changes, writes, sender));
  };

  /** Records store writes and one $store event in the batch; returns the event. */
  const commitStore = (batch: Batch, writes: StoreWrite[], type: string, data: unknown, id?: string, stamps?: unknown): StoredEvent => {
    const previous = model.read(writes);
    const hadStore = model.hasStore;
    const previousStoreSeq = meta.storeSeq;
    model.commit(writes);
    batch.onUndo(() => {
      model.revert(writes, previous, hadStore);
      meta.storeSeq = previousStoreSeq;
    });
    for (const write of writes) {
      const key = write.kind === "cell" ? keys.cell(...write.path) : keys.value(write.id);
      if (write.value === undefined) batch.delete(key);
      else batch.put(key, write.value);
    }
    const context = { keys, room: options.name, seq: batch.nextSeq, ts: new Date(now()).toISOString(), newId, put: batch.put };
    const stored = putEvent(context, { stream: STORE_STREAM, type, data, id });
    batch.nextSeq = context.seq;
    putAudit(keys, stored.event.seq, writes, batch.put);
    options.onStoreWrite?.(batch, writes, stamps);
    meta.storeSeq = stored.event.seq;
    emitAfterCommit(batch, [stored]);
    // Keep the snapshot close behind the store, so that waking up stays cheap.
    sinceSnapshot.events++;
    sinceSnapshot.cells += writes.length;
    if (sinceSnapshot.events >= SNAPSHOT_EVERY_EVENTS || sinceSnapshot.cells >= SNAPSHOT_EVERY_CELLS) batch.onCommit(scheduleSnapshot);
    return stored;
  };

  let alarmRequested = false;
  const emitAfterCommit = (batch: Batch, events: StoredEvent[]) =>
    batch.onCommit(() => {
      for (const listener of listeners) listener(events);
      if (!alarmRequested && hasRetention(config.retention) && options.scheduleAlarm) {
        alarmRequested = true;
        void Promise.resolve(options.scheduleAlarm(now() + RETENTION_DELAY_MS)).catch(log);
      }
    });

  /** The whole-changeset hook: may reject, pass or rewrite (a rewrite is validated again). */
  const vet = async (changes: Changes, initialSave: boolean, origin: unknown): Promise<Changes | undefined> => {
    const answer = hooks.canApplyChanges ? await hooks.canApplyChanges(changes, initialSave, origin) : true;
    return answer === true ? changes : answer === false ? undefined : parseChanges(answer);
  };

  let snapshotChunks = 0;
  let snapshotScheduled = false;
  const sinceSnapshot = { events: 0, cells: 0 };

  /** Writes a snapshot soon, off the path of the write or load that asked for it. */
  const scheduleSnapshot = () => {
    if (snapshotScheduled) return;
    snapshotScheduled = true;
    setTimeout(() => {
      void queue
        .run((batch) => {
          snapshotScheduled = false;
          sinceSnapshot.events = sinceSnapshot.cells = 0;
          snapshotChunks = putSnapshot(batch, keys, model, meta.storeSeq, snapshotChunks);
        })
        .catch(log);
    }, 0);
  };

  /** Loads the store cell by cell: the path when no usable snapshot exists. */
  const loadCells = async () => {
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
        model.commit(writes);
        if (page.size < LOAD_PAGE_KEYS) break;
      }
    }
  };

  /** The log as readers see it: positions and committed events, nothing to change. */
  const logReader: LogReader = {
    storage,
    keys,
    get head() {
      return meta.head;
    },
    get first() {
      return meta.first;
    },
    get storeSeq() {
      return meta.storeSeq;
    },
    get createdAt() {
      return meta.createdAt;
    },
    get lastWrite() {
      return meta.lastWrite;
    },
    onEvents(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };

  /** What retention may do: read the log, and move what the room retains, in a commit group. */
  const retentionPort: RetentionPort = {
    log: logReader,
    get auditCursor() {
      return meta.auditCursor;
    },
    run: (job) => queue.run(job),
    retain(batch, retained) {
      const previous = { first: meta.first, auditCursor: meta.auditCursor };
      Object.assign(meta, retained);
      batch.onUndo(() => Object.assign(meta, previous));
      batch.put(keys.meta, { ...meta });
    },
  };

  const core: RoomCore = {
    options,
    log: logReader,
    keys,
    model,
    get head() {
      return meta.head;
    },
    get storeSeq() {
      return meta.storeSeq;
    },

    run: (job) => queue.run(job),

    lockWrites(lock, { ifEmpty = false } = {}) {
      return queue.run((batch) => {
        if (ifEmpty && (batch.nextSeq - 1 !== 0 || model.hasStore)) {
          throw new RoomError("conflict", "This room has data: import only into a new room (DELETE it first to replace it).");
        }
        meta.writeLock = lock;
        batch.onUndo(() => delete meta.writeLock);
        // An import's lock is stored, so that a room that stops mid-import is erased on restart.
        if (lock === "import") batch.put(keys.meta, { ...meta });
      });
    },

    async load() {
      const stored = (await storage.get([keys.meta])).get(keys.meta) as Meta | undefined;
      if (stored) Object.assign(meta, stored);
      const snapshot = await loadSnapshot(storage, keys, model, meta);
      snapshotChunks = snapshot.chunks;
      // Cells list in key order, not the store's: load them only when the log cannot give the order.
      if (!snapshot.loaded && !(await loadFromLog(storage, keys, model, meta))) await loadCells();
      model.markCreated(meta.created);
      if (meta.created && (!snapshot.loaded || snapshot.replayed > SNAPSHOT_REWRITE_EVENTS)) scheduleSnapshot();
    },

    applyChanges(changes, origin, { sender, allOrNothing = false, id, stamps, resolve, ifMatch } = {}) {
      return queue.run(async (batch) => {
        if (id !== undefined) {
          const key = keys.eventId(STORE_STREAM, id);
          const known = batch.pending(key) ?? (await storage.get([key])).get(key);
          if (known !== undefined) return { seq: known as number, accepted: [{}, {}, 1] as Changes, rejected: false, duplicate: true };
        }
        if (!model.hasStore) throw new RoomError("conflict", "The room has no store yet: PUT it first.");
        if (ifMatch !== undefined && ifMatch !== meta.storeSeq) throw new RoomError("precondition_failed", `The store is at seq ${meta.storeSeq}, not ${ifMatch}.`);
        if (resolve) changes = resolve(changes);
        const vetted = await vet(await validateWrite(core, sender ? "changes" : "patch", changes, origin), false, origin);
        const { accepted, rejected } = vetted
          ? await filterChanges(hooks, vetted, false, origin, model)
          : { accepted: [{}, {}, 1] as Changes, rejected: true };
        if (allOrNothing && (rejected || vetted !== changes)) {
          throw new RoomError("forbidden", "The room's rules did not accept this changeset as sent.");
        }
        let seq: number | undefined;
        if (!isEmptyChanges(accepted)) {
          const writes = model.plan(accepted);
          seq = commitStore(batch, writes, EVENT_CHANGES, changesForLog(accepted), id, stamps).event.seq;
          queueBroadcast(batch, accepted, writes, sender);
        }
        if ((rejected || vetted !== changes) && sender) {
          // Reconverge the sender: it applied its whole changeset locally, not what the room kept.
          // Its own next write to these cells is then echoed too (see broadcast.ts).
          broadcaster.noteCorrection(model.plan(changes), socketIdOf(sender));
          batch.onCommit(() => {
            sender.send(changesFrame(model.currentOf(changes)));
            if (vetted && vetted !== changes) sender.send(changesFrame(model.currentOf(accepted)));
          });
        }
        return { seq, accepted, rejected };
      });
    },

    putStore(content, origin, ifMatch) {
      return queue.run(async (batch) => {
        const replacing = ifMatch !== undefined;
        if (!replacing && model.hasStore) return { status: 205 as const, seq: meta.storeSeq };
        if (replacing && ifMatch !== meta.storeSeq) {
          throw new RoomError("precondition_failed", `The store is at seq ${meta.storeSeq}, not ${ifMatch}.`);
        }
        await validateWrite(core, "put", content, origin);
        const initialSave = !model.hasStore;
        const asChanges: Changes = initialSave
          ? [content[0], content[1], 1]
          : changesOf(model.planReplace(content));
        const vetted = await vet(asChanges, initialSave, origin);
        if (!vetted) throw new RoomError("forbidden", "The room's rules did not accept this store.");
        const { accepted, rejected } = await filterChanges(hooks, vetted, initialSave, origin, model);
        if (rejected && (replacing || isEmptyChanges(accepted) !== isEmptyChanges(asChanges))) {
          throw new RoomError("forbidden", "The room's rules did not accept this store.");
        }
        if (!initialSave && vetted !== asChanges) {
          throw new RoomError("forbidden", "The room's rules would rewrite this store; a replace is all or nothing.");
        }
        const writes = initialSave ? model.plan(accepted) : model.planReplace(content);
        const diff = changesOf(writes);
        // The content as stored: no deletion of what was not there, no empty table or row.
        const stored = changesOf(writes.filter((write) => write.value !== undefined));
        const data = [stored[0], stored[1]];
        const { event } = commitStore(batch, writes, initialSave ? EVENT_INIT : EVENT_REPLACE, data);
        if (!isEmptyChanges(diff)) queueBroadcast(batch, diff, writes);
        return { status: replacing ? (initialSave ? 201 : 200) : 201, seq: event.seq } as PutResult;
      });
    },

    appendEvents(inputs, ifMatch, mid) {
      return queue.run(async (batch) => {
        const midKey = mid === undefined ? undefined : keys.messageId(mid);
        if (midKey !== undefined) {
          const seqs = (batch.pending(midKey) ?? (await storage.get([midKey])).get(midKey)) as number[] | undefined;
          if (seqs !== undefined) return [...(await readEvents(seqs, batch)).values()];
        }
        const withStream = inputs.map((input) => ({ ...input, stream: input.stream ?? DEFAULT_STREAM }));
        const idKeys = withStream.filter((input) => input.id !== undefined).map((input) => keys.eventId(input.stream, input.id!));
        const known = idKeys.length > 0 ? await storage.get(idKeys) : new Map<string, unknown>();
        for (const key of idKeys) if (batch.pending(key) !== undefined) known.set(key, batch.pending(key));
        const existingSeqs = [...new Set(known.values())] as number[];
        const existing = existingSeqs.length > 0 ? await readEvents(existingSeqs, batch) : new Map<number, StoredEvent>();
        await validateWrite(core, "append", withStream.filter((input) => input.id === undefined || !known.has(keys.eventId(input.stream, input.id))), undefined);
        // From here on: synchronous, no await.
        // A retry of an append that was stored (every event's id known) answers as the first time did,
        // although its own append moved the head past If-Match.
        const retry = withStream.every((input) => input.id !== undefined && known.has(keys.eventId(input.stream, input.id)));
        if (ifMatch !== undefined && !retry && ifMatch !== batch.nextSeq - 1) {
          throw new RoomError("precondition_failed", `The log head is at seq ${batch.nextSeq - 1}, not ${ifMatch}.`);
        }
        const context = { keys, room: options.name, seq: batch.nextSeq, ts: new Date(now()).toISOString(), newId, put: batch.put };
        const appended: StoredEvent[] = [];
        const result: StoredEvent[] = [];
        const seenInCall = new Map<string, StoredEvent>();
        for (const input of withStream) {
          const idKey = input.id === undefined ? undefined : keys.eventId(input.stream, input.id);
          const duplicate = idKey === undefined ? undefined : seenInCall.get(idKey) ?? existing.get(known.get(idKey) as number);
          if (duplicate) {
            result.push(duplicate);
            continue;
          }
          const stored = putEvent(context, input);
          if (idKey) seenInCall.set(idKey, stored);
          appended.push(stored);
          result.push(stored);
        }
        batch.nextSeq = context.seq;
        if (appended.length > 0) emitAfterCommit(batch, appended);
        if (midKey !== undefined) batch.put(midKey, result.map(({ event }) => event.seq));
        return result;
      });
    },

    memory: createMemoryGauge(),

    putEvents(batch, inputs) {
      const context = { keys, room: options.name, seq: batch.nextSeq, ts: new Date(now()).toISOString(), newId, put: batch.put };
      const stored = inputs.map((input) => putEvent(context, input));
      batch.nextSeq = context.seq;
      emitAfterCommit(batch, stored);
      return stored;
    },

    async handleAlarm() {
      alarmRequested = false;
      if (await runRetention(retentionPort, config.retention, now(), await deliverFromAlarm(core))) {
        alarmRequested = true;
        await options.scheduleAlarm?.(now() + RETENTION_RETRY_MS);
      }
    },

    onEvents: logReader.onEvents,
  };

  /** Reads stored events by seq, including ones put by earlier jobs of the same batch. */
  const readEvents = async (seqs: number[], batch: Batch): Promise<Map<number, StoredEvent>> => {
    const found = new Map<number, StoredEvent>();
    const missing: number[] = [];
    for (const seq of seqs) {
      const pending = batch.pending(keys.events.at(seq));
      if (typeof pending === "string") found.set(seq, { event: JSON.parse(pending), json: pending });
      else missing.push(seq);
    }
    for (const { seq, json } of await readEventsBySeq(storage, keys, missing)) found.set(seq, { event: JSON.parse(json), json });
    return found;
  };

  return core;
};
