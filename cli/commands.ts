// The commands. Each takes the room's HTTP options and its parsed options, writes data to stdout
// (or a file), progress to stderr, and throws on failure: a UsageError (exit 2) for bad usage,
// anything else (exit 1) when the room refused or could not be reached.
import { createReadStream, createWriteStream } from "node:fs";
import { unlink } from "node:fs/promises";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { HttpOptions } from "../client/http.ts";
import {
  DEFAULT_EVENTS_PATH,
  DEFAULT_STORE_PATH,
  EXPORT_PATH,
  IMPORT_PATH,
  NDJSON_TYPE,
  SSE_CAUGHT_UP,
  SSE_ERROR,
  type ErrorBody,
  type ExportHeader,
  type RoomEvent,
} from "../party/protocol.ts";
import { roomRequest } from "./http.ts";
import { createProgress, type Progress } from "./progress.ts";
import { readSseRecords } from "./sse.ts";
import { UsageError } from "./usage.ts";

export type Values = Record<string, string | boolean | undefined>;

export interface CommandContext {
  room: HttpOptions;
  values: Values;
  /** Positionals after the room URL. */
  rest: string[];
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

const out = (text: string) =>
  new Promise<void>((resolve, reject) => process.stdout.write(text, (error?: Error | null) => (error ? reject(error) : resolve())));

const noMore = (rest: string[]) => {
  if (rest.length > 0) throw new UsageError(`Unexpected argument: ${rest[0]}.`);
};

const seqOption = (values: Values, name: string, also: string[] = []): string | undefined => {
  const value = values[name] as string | undefined;
  if (value === undefined || also.includes(value) || /^\d{1,16}$/.test(value)) return value;
  throw new UsageError(`--${name} takes a seq${also.length ? ` or ${also.join(", ")}` : ""}, not ${JSON.stringify(value)}.`);
};

export const snapshot = async ({ room, rest }: CommandContext) => {
  noMore(rest);
  const text = await (await roomRequest(room, DEFAULT_STORE_PATH)).text();
  if (text !== "") await out(text + "\n");
};

export const append = async ({ room, values, rest }: CommandContext) => {
  noMore(rest);
  if (typeof values.type !== "string") throw new UsageError("append needs --type T.");
  const event: Record<string, unknown> = { type: values.type, stream: values.stream, id: values.id };
  if (values.data !== undefined) {
    try {
      event.data = JSON.parse(values.data as string);
    } catch {
      throw new UsageError(`--data must be JSON, e.g. --data '{"n":1}' or --data '"text"'.`);
    }
  }
  const response = await roomRequest(room, DEFAULT_EVENTS_PATH, {
    method: "POST",
    body: JSON.stringify(event),
    headers: { "Content-Type": "application/json" },
  });
  const { events } = (await response.json()) as { events: RoomEvent[] };
  await out(JSON.stringify(events[0]) + "\n");
};

/** How long `tail` waits before it reconnects after the room dropped the stream. */
const TAIL_RECONNECT_MS = 1_000;

export const tail = async ({ room, values, rest, signal }: CommandContext) => {
  noMore(rest);
  if (values.from !== undefined && values.after !== undefined) throw new UsageError("Give --from or --after, not both.");
  const until = seqOption(values, "until", ["caught-up"]);
  const params: Record<string, string | undefined> = {
    stream: values.stream as string | undefined,
    types: values.types as string | undefined,
    from: seqOption(values, "from"),
    after: seqOption(values, "after", ["past-events"]),
    until,
  };
  let caughtUp = false;
  for (;;) {
    let response: Response;
    try {
      response = await roomRequest(room, DEFAULT_EVENTS_PATH, { params, headers: { Accept: "text/event-stream" }, signal });
    } catch (error) {
      // Before the history was read, a failure is the answer; after it, the tail goes on.
      if (signal.aborted) return;
      if (!caughtUp) throw error;
      await new Promise((resolve) => setTimeout(resolve, TAIL_RECONNECT_MS));
      continue;
    }
    try {
      for await (const record of readSseRecords(response.body!)) {
        if (record.id !== undefined) {
          await out(record.data + "\n");
          // Resume after the last event printed, if the room drops the stream.
          params.from = undefined;
          params.after = record.id;
        } else if (record.event === SSE_CAUGHT_UP) {
          caughtUp = true;
        } else if (record.event === SSE_ERROR) {
          throw new Error((JSON.parse(record.data) as ErrorBody).error.message);
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      if (!(error instanceof TypeError)) throw error;
    }
    // A closed range (--until) ends with the stream; an open one reconnects.
    if (until !== undefined || signal.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, TAIL_RECONNECT_MS));
  }
};

/**
 * Counts the lines of an export as its bytes pass (export or import), reads its header for the
 * total, and says whether it was whole: header, base when the log was trimmed, stream lines, every event.
 */
const createExportCounter = (progress: Progress) => {
  const decoder = new TextDecoder();
  let lines = 0;
  let headerText = "";
  let headerLines = 1;
  let expected: number | undefined;
  return {
    see(chunk: Uint8Array) {
      let from = 0;
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) {
        if (lines === 0) {
          headerText += decoder.decode(chunk.subarray(from, i));
          expected = headerLinesOf(headerText, (header) => {
            headerLines = (header.first > 1 ? 2 : 1) + (header.streams ?? 0);
            progress.total(header.head - header.first + 1);
            return headerLines + header.head - header.first + 1;
          });
        }
        if (++lines > headerLines) progress.add(1);
        from = i + 1;
      }
      if (lines === 0) headerText += decoder.decode(chunk.subarray(from), { stream: true });
    },
    /** True when every line the header announced went by. */
    whole: () => expected !== undefined && lines === expected,
    lines: () => lines,
  };
};

/** What `count` says of the header, or undefined when line 1 is not an export's header (TinyBase content). */
const headerLinesOf = (text: string, count: (header: ExportHeader) => number): number | undefined => {
  try {
    const header = JSON.parse(text) as Partial<ExportHeader>;
    return typeof header.head === "number" && typeof header.first === "number" ? count(header as ExportHeader) : undefined;
  } catch {
    return undefined;
  }
};

export const exportRoom = async ({ room, values, rest, signal }: CommandContext) => {
  noMore(rest);
  const file = values.output as string | undefined;
  const progress = createProgress("exported");
  const counter = createExportCounter(progress);
  const response = await roomRequest(room, EXPORT_PATH, { signal });
  const target = file ? createWriteStream(file) : process.stdout;
  try {
    const counted = Readable.fromWeb(response.body! as never).map((chunk: Uint8Array) => (counter.see(chunk), chunk));
    await pipeline(counted, target as Writable, { end: file !== undefined });
    if (!counter.whole()) throw new Error(`The export ended early, after ${counter.lines()} lines: it is incomplete.`);
  } catch (error) {
    if (file) await unlink(file).catch(() => undefined);
    throw error;
  } finally {
    progress.done();
  }
};

export const importRoom = async ({ room, rest, signal }: CommandContext) => {
  if (rest.length > 1) throw new UsageError(`Unexpected argument: ${rest[1]}.`);
  const [file] = rest;
  if (file === undefined && process.stdin.isTTY) throw new UsageError("import reads an export from FILE or from stdin: give a file, or pipe one in.");
  const input = file ? createReadStream(file) : process.stdin;
  const progress = createProgress("imported");
  const counter = createExportCounter(progress);
  const body = Readable.toWeb(input.map((chunk: Buffer) => (counter.see(chunk), chunk)) as Readable);
  let result: unknown;
  try {
    const response = await roomRequest(room, IMPORT_PATH, {
      method: "POST",
      body: body as unknown as BodyInit,
      headers: { "Content-Type": NDJSON_TYPE },
      duplex: "half",
      signal,
    } as RequestInit);
    result = await response.json();
  } finally {
    progress.done();
  }
  await out(JSON.stringify(result) + "\n");
};

export const deleteRoom = async ({ room, values, rest }: CommandContext) => {
  noMore(rest);
  if (values.yes !== true) throw new UsageError("delete erases the room for good: confirm with --yes.");
  await roomRequest(room, "", { method: "DELETE" });
};
