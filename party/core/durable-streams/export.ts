// Durable Streams in a room's export and import (admin/export-import.ts; the lines: format.ts).
// An export carries every stream's metadata key as it is: the events alone do not hold a stream's
// producers, `Stream-Seq`, closing producer or fork sub-offset, nor anything of a stream whose
// `$create` retention trimmed.
//
// Export. The metadata must be that of the export's head, not of a later moment. It is read in the
// commit queue, where no write runs between reading the head and the keys: the lines are kept in
// memory up to EXPORT_STREAM_BUFFER_CHARS, and those beyond are read as the reader takes them,
// each page again in the queue, and only while no `$create`, `$append`, `$close` or `$delete` has
// been written after the head. Those are the only writes that change a stream's metadata (a fork's
// create and delete change its source's too), and only streams write those types (clients cannot
// append `$` types). If one was, the export ends broken rather than mixing two moments.
//
// Import. The lines are written as they come, in the import's bounded batches; once the events are
// in, each key is checked against them, a page at a time: its `created` must be a `$create` and its
// `tail` (when after `created`) an `$append` of its own log stream, where retention kept those seqs.
import { EXPORT_STREAM_KEY } from "../../protocol.ts";
import type { Job } from "../storage/commit-queue.ts";
import { RoomError } from "../common/errors.ts";
import type { Keys } from "../storage/keys.ts";
import type { RoomStorage } from "../storage/room-storage.ts";
import { parseStreamLine } from "./format.ts";
import { EVENT_APPEND, EVENT_CLOSE, EVENT_CREATE, EVENT_DELETE, logStreamOf, streamMetaKey, streamMetaPrefix, type StreamMeta } from "./model.ts";

/** Characters of stream lines an export holds from its start; the rest are read as they are sent. */
export const EXPORT_STREAM_BUFFER_CHARS = 4 * 1024 * 1024;
/** Metadata keys read per page: each one value, of at most a few KiB (100 producers). */
const STREAM_PAGE_KEYS = 128;
const STREAM_WRITE_TYPES = [EVENT_CREATE, EVENT_APPEND, EVENT_CLOSE, EVENT_DELETE];

const nameOf = (prefix: string, key: string) => JSON.parse(key.slice(prefix.length)) as string;

/** True when a stream wrote anything in [from, to]. */
export const streamsWroteIn = async (storage: RoomStorage, keys: Keys, from: number, to: number): Promise<boolean> => {
  for (const type of STREAM_WRITE_TYPES) {
    if ((await storage.list({ ...keys.byType(type).range(from, to), limit: 1 })).size > 0) return true;
  }
  return false;
};

export interface StreamLines {
  /** Stream lines of the export: one per metadata key. */
  count: number;
  /** The first lines, read with the head. */
  buffered: string[];
  /** The next lines (text ending in a line end), "" once all are read; rejects if streams wrote since the head. */
  more(): Promise<string>;
}

/** What reading the stream lines needs of the room: its storage, and its commit queue for the pages read later. */
export interface StreamLinesContext {
  storage: RoomStorage;
  keys: Keys;
  storagePrefix: string;
  run<T>(job: Job<T>): Promise<T>;
}

/** The stream lines of an export; call in the commit queue, where the head is `head`. */
export const readStreamLines = async (
  { storage, keys, storagePrefix, run }: StreamLinesContext,
  head: number,
  bufferChars = EXPORT_STREAM_BUFFER_CHARS,
): Promise<StreamLines> => {
  const prefix = streamMetaPrefix(storagePrefix);
  const lineOf = (key: string, meta: unknown) => JSON.stringify({ [EXPORT_STREAM_KEY]: { name: nameOf(prefix, key), meta } });
  const buffered: string[] = [];
  let chars = 0;
  let count = 0;
  /** The first key not buffered. */
  let resumeAt: string | undefined;
  for (let start = prefix; ; ) {
    const page = await storage.list({ start, prefix, limit: STREAM_PAGE_KEYS });
    for (const [key, meta] of page) {
      count++;
      start = key + "\0";
      if (resumeAt !== undefined || chars >= bufferChars) {
        resumeAt ??= key;
        continue;
      }
      const line = lineOf(key, meta);
      buffered.push(line);
      chars += line.length;
    }
    if (page.size < STREAM_PAGE_KEYS) break;
  }
  let sent = buffered.length;
  const more = () =>
    resumeAt === undefined
      ? Promise.resolve("")
      : run(async () => {
          if (await streamsWroteIn(storage, keys, head + 1, Number.MAX_SAFE_INTEGER - 1)) {
            throw new RoomError("conflict", "The room's Durable Streams changed while the export read them: export again.");
          }
          const page = await storage.list({ start: resumeAt, prefix, limit: STREAM_PAGE_KEYS });
          const lines = [...page].map(([key, meta]) => lineOf(key, meta) + "\n");
          sent += lines.length;
          resumeAt = page.size < STREAM_PAGE_KEYS ? undefined : [...page.keys()].at(-1)! + "\0";
          if (resumeAt === undefined && sent !== count) throw new RoomError("conflict", "The room's Durable Streams changed while the export read them: export again.");
          return lines.join("");
        });
  return { count, buffered, more };
};

/**
 * Reads an export's `count` stream lines from `lines` and puts each stream's metadata key;
 * `written(chars)` after each, so that the import flushes its batch when it holds enough.
 */
export const importStreamLines = async (
  lines: AsyncIterator<string>,
  { count, head, storagePrefix }: { count: number; head: number; storagePrefix: string },
  put: (key: string, value: unknown) => void,
  written: (chars: number) => Promise<void>,
): Promise<void> => {
  let lastKey = "";
  for (let left = count; left > 0; left--) {
    const next = await lines.next();
    if (next.done) throw new RoomError("bad_request", `The export ended before its ${count} stream lines.`);
    const { name, meta } = parseStreamLine(next.value, head);
    const key = streamMetaKey(storagePrefix, name);
    // In key order, as exported: a stream listed twice would be two writes of one key.
    if (key <= lastKey) throw new RoomError("bad_request", `Stream ${JSON.stringify(name)}: stream lines come once each, in the order of their names' JSON.`);
    lastKey = key;
    put(key, meta);
    // A writer counts a value that is not text as a few characters: its line's length stands for it.
    await written(next.value.length);
  }
};

/**
 * Checks every imported metadata key against the imported events (`first`: the oldest seq kept);
 * throws at the first that does not match.
 */
export const checkImportedStreams = async (storage: RoomStorage, keys: Keys, storagePrefix: string, first: number): Promise<void> => {
  const prefix = streamMetaPrefix(storagePrefix);
  for (let start = prefix; ; ) {
    const page = await storage.list({ start, prefix, limit: STREAM_PAGE_KEYS });
    const wanted: [name: string, what: string, key: string][] = [];
    for (const [key, value] of page) {
      start = key + "\0";
      const name = nameOf(prefix, key);
      const { created, tail } = value as StreamMeta;
      const log = logStreamOf(name);
      if (created >= first) wanted.push([name, `seq ${created}, its created, is no ${EVENT_CREATE}`, keys.byStreamType(log, EVENT_CREATE).at(created)]);
      if (tail > created && tail >= first) wanted.push([name, `seq ${tail}, its tail, is no ${EVENT_APPEND}`, keys.byStreamType(log, EVENT_APPEND).at(tail)]);
    }
    const found = await storage.get(wanted.map(([, , key]) => key));
    const missing = wanted.find(([, , key]) => !found.has(key));
    if (missing) throw new RoomError("bad_request", `Stream ${JSON.stringify(missing[0])}: ${missing[1]} of its own in the export's events.`);
    if (page.size < STREAM_PAGE_KEYS) return;
  }
};
