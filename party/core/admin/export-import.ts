// A whole room out and in: `GET {room}/export` and `POST {room}/import` (format: export-format.ts).
//
// Export: the header, the base when retention trimmed the log, the Durable Streams' metadata
// (durable-streams/export.ts), then the events of [first, head] as stored, read a page at a time
// as the reader takes them: memory is one page, whatever the log. The head, the base and the
// streams' metadata are read in one commit-queue job, so that they are of the same moment.
//
// Import, into a room with no store and no events. Postconditions: on success, storage holds what
// the room would hold had it lived through those events itself (events with their seq, id, stream,
// type, data, ts and tz; indexes; idempotency keys, so producer ids stay idempotent; audit entries;
// the store, folded from the base and the `$store` events; a snapshot; every Durable Stream's
// metadata as exported, checked against its events) and the next append follows the imported
// head. On failure, at any line, the room is empty again.
// How: a first job in the commit queue takes the write lock and stores it in the meta
// (storage/write-lock.ts), so nothing else writes meanwhile; the events are then written in bounded batches
// outside the queue as they are read, and the store is folded into storage as they go
// (import-fold.ts), never held in memory; the meta without the lock comes last. The room then
// loads its store from the log, in its ids' order, and writes its snapshot, as a room with none does. A failure erases the
// room's storage; a room that stops mid-import finds the lock at its next start and erases itself.
// Either way the adapter's room is then rebuilt from storage (`reload`).
import { EXPORT_FORMAT, EXPORT_VERSION, EXPORT_VERSION_WITHOUT_STREAMS, STORE_STREAM, type ExportHeader, type ImportResult } from "../../protocol.ts";
import { readBase, putBase } from "../log/base.ts";
import { parseContent, parseJson } from "../store/changes.ts";
import { RoomError } from "../common/errors.ts";
import { putEvent } from "../storage/event-log.ts";
import { readRange } from "../log/reads.ts";
import { parseExportBase, parseExportEvent, parseExportHeader, readLines, storeEventData } from "./export-format.ts";
import { checkImportedStreams, importStreamLines, readStreamLines, streamsWroteIn, EXPORT_STREAM_BUFFER_CHARS } from "../durable-streams/export.ts";
import { createImportWriter, createStorageFold } from "./import-fold.ts";
import { orderedContentWrites } from "../store/ordered-content.ts";
import type { LogReader, Meta, PutResult, RoomContext } from "../room/types.ts";
import type { Content } from "../store/changes.ts";
import type { Job } from "../storage/commit-queue.ts";
import type { Keys } from "../storage/keys.ts";
import type { WriteLock } from "../storage/write-lock.ts";

/** What an export, an import and a DELETE use of the room. */
export interface AdminPort {
  readonly options: Pick<RoomContext, "name" | "config" | "storage" | "importBatchEvents">;
  readonly keys: Keys;
  readonly log: LogReader;
  /** Runs a job in the next commit group: the export reads where no group is being written. */
  run<T>(job: Job<T>): Promise<T>;
  /** Takes the write lock after every write queued before it (write/lock.ts). */
  lockWrites(lock: WriteLock, options?: { ifEmpty?: boolean }): Promise<void>;
  putStore(content: Content, origin: unknown, ifMatch?: number): Promise<PutResult>;
}

/** Events read per page while exporting. */
export const EXPORT_PAGE_EVENTS = 1_000;
/**
 * An import writes after this many events, or this many characters of entries, whichever first.
 * Every write is a storage transaction with a commit of its own: a few thousand small events per
 * write keep the commits' share of an import small, and the characters bound keeps the memory a
 * batch holds within IMPORT_BATCH_CHARS of entries whatever the events.
 */
export const IMPORT_BATCH_EVENTS = 8_192;
export const IMPORT_BATCH_CHARS = 2 * 1024 * 1024;

const encoder = new TextEncoder();
const line = (json: string) => encoder.encode(json + "\n");

/** The room's export as a stream; pinned to the head, first seq and streams of the moment it starts. */
export const exportStream = async (core: AdminPort, streamBufferChars = EXPORT_STREAM_BUFFER_CHARS): Promise<ReadableStream<Uint8Array>> => {
  const { storage } = core.options;
  const { head, first, base, streams, streamEvents } = await core.run(async () => {
    const { head, first } = core.log;
    return {
      head,
      first,
      base: first > 1 ? await readBase(storage, core.keys) : undefined,
      streams: await readStreamLines({ storage, keys: core.keys, storagePrefix: core.options.config.storagePrefix, run: core.run }, head, streamBufferChars),
      streamEvents: await streamsWroteIn(storage, core.keys, first, head),
    };
  });
  if (first > 1 && base?.seq !== first - 1) {
    throw new RoomError("conflict", "This room's log was trimmed before it kept a base of its store: it cannot be exported whole.");
  }
  const room = core.options.name;
  // Version 1 when there is no stream to carry, so that importers from before version 2 read it.
  const header: ExportHeader =
    streams.count > 0 || streamEvents
      ? { format: EXPORT_FORMAT, version: EXPORT_VERSION, room, head, first, streams: streams.count }
      : { format: EXPORT_FORMAT, version: EXPORT_VERSION_WITHOUT_STREAMS, room, head, first };
  let next = first;
  let streamsDone = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(line(JSON.stringify(header)));
      // The content's text as stored, so that its ids keep their order (see store/ordered-content.ts).
      if (base) controller.enqueue(line(`{"base":{"seq":${base.seq},"content":${base.json}}}`));
      for (const text of streams.buffered) controller.enqueue(line(text));
      streams.buffered.length = 0;
    },
    async pull(controller) {
      if (!streamsDone) {
        const text = await streams.more().catch((error: unknown) => (controller.error(error), undefined));
        if (text === undefined) return;
        if (text !== "") return controller.enqueue(encoder.encode(text));
        streamsDone = true;
      }
      if (next > head) return controller.close();
      const read = await readRange(storage, core.keys, { selection: {}, lower: next, upper: head, limit: EXPORT_PAGE_EVENTS });
      // Retention may have trimmed what this export had yet to read: end it broken, not with a gap.
      if (read.events[0]?.seq !== next) return controller.error(new Error(`Seq ${next} is gone from the log (retention).`));
      controller.enqueue(encoder.encode(read.events.map(({ json }) => json + "\n").join("")));
      next = read.events.at(-1)!.seq + 1;
    },
  });
};

/**
 * Imports `body` (an export, or TinyBase `[tables, values]` content) into the empty room `core`.
 * `reload` rebuilds the room from storage; it runs after the import, successful or not.
 */
export const importRoom = async (
  core: AdminPort,
  body: ReadableStream<Uint8Array> | null,
  origin: Request,
  reload: () => Promise<void>,
): Promise<{ status: number; result: ImportResult }> => {
  const { limits } = core.options.config;
  if (!body) throw new RoomError("bad_request", "Send an export (NDJSON) or TinyBase content as the body.");
  const lines = readLines(body, limits.maxBodyBytes);
  const first = await lines.next();
  if (first.done) throw new RoomError("bad_request", "The body is empty.");
  if (first.value.trimStart().startsWith("[")) return importContent(core, first.value, lines, origin);
  const header = parseExportHeader(first.value);
  await core.lockWrites("import", { ifEmpty: true });
  try {
    const result = await importLog(core, header, lines);
    await reload();
    return { status: 201, result };
  } catch (error) {
    // What the import wrote goes. Should the erase itself fail, the import's error is still the
    // answer: the room's storage keeps the write lock, and the reload erases a room it finds locked.
    await core.options.storage.deleteAll().catch(() => undefined);
    await reload();
    throw error;
  }
};

/** TinyBase's own server's content: a first save, as a PUT of the store would make it. */
const importContent = async (core: AdminPort, firstLine: string, rest: AsyncGenerator<string>, origin: Request) => {
  const { maxBodyBytes } = core.options.config.limits;
  let text = firstLine;
  for await (const more of rest) {
    text += "\n" + more;
    if (text.length > maxBodyBytes) throw new RoomError("too_large", `TinyBase content is imported whole: at most ${maxBodyBytes} bytes.`);
  }
  const content = parseContent(parseJson(text));
  if (core.log.head !== 0) throw new RoomError("conflict", "This room has data: import only into a new room.");
  const { status, seq } = await core.putStore(content, origin);
  if (status === 205) throw new RoomError("conflict", "This room has a store: import only into a new room.");
  return { status: 201, result: { head: seq, first: 1, events: 1 } };
};

/** Writes the events and the store they fold to, then the meta that unlocks the room. */
const importLog = async (core: AdminPort, header: ExportHeader, lines: AsyncGenerator<string>): Promise<ImportResult> => {
  const { keys } = core;
  const writer = createImportWriter(core.options.storage, keys);
  const fold = createStorageFold(core.options.storage, keys, writer, IMPORT_BATCH_CHARS);
  let created = false;
  let storeSeq = 0;
  if (header.first > 1) {
    // The store's position, until a $store event moves it: the base's seq.
    storeSeq = header.first - 1;
    const next = await lines.next();
    if (next.done) throw new RoomError("bad_request", "The export ended before its base line.");
    const base = parseExportBase(next.value, header.first - 1);
    fold.putBase(orderedContentWrites(base.json));
    created = Object.keys(base.content[0]).length > 0 || Object.keys(base.content[1]).length > 0;
    putBase(writer, keys, { seq: header.first - 1, json: base.json, created });
  }
  const batchEvents = core.options.importBatchEvents ?? IMPORT_BATCH_EVENTS;
  let inBatch = 0;
  let batchChars = 0;
  /** Counts one line written; true once the batch holds enough to be written. */
  const counted = (chars: number) => {
    batchChars += chars;
    return ++inBatch >= batchEvents || writer.size() + batchChars >= IMPORT_BATCH_CHARS;
  };
  const flush = async () => {
    await writer.flush();
    [inBatch, batchChars] = [0, 0];
  };
  const written = async (chars: number) => {
    if (counted(chars)) await flush();
  };
  const storagePrefix = core.options.config.storagePrefix;
  await importStreamLines(lines, { count: header.streams ?? 0, head: header.head, storagePrefix }, writer.put, written);
  let seq = header.first;
  // The room goes on with the exported room's history, so its stats' `created` and `lastWrite`
  // are the times of the first and the last event imported (room/stats.ts), not the import's.
  let firstTs: string | undefined;
  let lastTs: string | undefined;
  for await (const text of lines) {
    if (seq > header.head) throw new RoomError("bad_request", `The export has events past its head, ${header.head}.`);
    const event = parseExportEvent(text, seq, header.version === EXPORT_VERSION);
    firstTs ??= event.ts;
    lastTs = event.ts;
    const context = { keys, room: core.options.name, seq, ts: event.ts, newId: () => event.id, put: writer.put };
    // Every id is written as a producer's would be: the export cannot tell them apart, and an
    // idempotency key for an id nobody sends again is only a key.
    putEvent(context, { stream: event.stream, type: event.type, data: event.data, id: event.id, tz: event.tz });
    if (event.stream === STORE_STREAM) {
      await fold.apply(seq, storeEventData(event));
      storeSeq = seq;
      created = true;
    }
    seq++;
    // Not `await written(0)`: an await per event costs more than some of its entries.
    if (counted(0)) await flush();
  }
  if (seq !== header.head + 1) throw new RoomError("bad_request", `The export ended at seq ${seq - 1}, before its head ${header.head}.`);
  await writer.flush();
  await checkImportedStreams(core.options.storage, keys, storagePrefix, header.first);
  const times = firstTs === undefined ? {} : { createdAt: firstTs, lastWrite: lastTs };
  const meta: Meta = { head: header.head, storeSeq, created, first: header.first, ...times };
  await core.options.storage.write(new Map([[keys.meta, meta]]), []);
  return { head: header.head, first: header.first, events: header.head - header.first + 1 };
};
