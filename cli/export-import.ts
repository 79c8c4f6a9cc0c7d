// `export` and `import`: a room's export streamed to stdout or a file, and back into an empty room,
// with progress on a terminal. An import checks its input and the room before it sends a byte: a
// file that cannot be read and a room that has data are refused at once, not after an upload
// (the room still refuses atomically, 409, should data arrive between the check and the upload).
import { createWriteStream } from "node:fs";
import { open, unlink } from "node:fs/promises";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { EXPORT_PATH, IMPORT_PATH, NDJSON_TYPE, STATS_PATH, type ExportHeader, type RoomStats } from "../party/protocol.ts";
import { noMore, out, type CommandContext } from "./commands.ts";
import { roomRequest } from "./http.ts";
import { createProgress, type Progress } from "./progress.ts";
import { UsageError } from "./usage.ts";

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

/** A local file the command cannot read: exit status 1, with the file named (not the room). */
class FileError extends Error {
  override name = "FileError";
  constructor(file: string, error: unknown) {
    const { code, message } = error as NodeJS.ErrnoException;
    // Node's message is "ENOENT: no such file or directory, open '/x'": keep the words only.
    const words = code ? message.replace(`${code}: `, "").replace(/, \w+ '.*'$/, "") : message;
    super(`cannot read ${file}: ${words}`);
  }
}

/** FILE opened for reading (a missing file or a directory fails here, before the room is asked). */
const openInput = async (file: string): Promise<Readable> => {
  try {
    const handle = await open(file, "r");
    if ((await handle.stat()).isDirectory()) {
      await handle.close();
      throw Object.assign(new Error("EISDIR: is a directory"), { code: "EISDIR" });
    }
    return handle.createReadStream();
  } catch (error) {
    throw new FileError(file, error);
  }
};

/** Refuses a room with a store or events before anything is uploaded. */
const assertEmpty = async (context: CommandContext) => {
  const stats = (await (await roomRequest(context.room, STATS_PATH, { signal: context.signal })).json()) as RoomStats;
  if (stats.head !== 0) {
    throw new Error(`This room has data (${stats.head} events): import only into a new room (delete it first to replace it).`);
  }
};

export const importRoom = async (context: CommandContext) => {
  const { room, rest, signal } = context;
  if (rest.length > 1) throw new UsageError(`Unexpected argument: ${rest[1]}.`);
  const [file] = rest;
  if (file === undefined && process.stdin.isTTY) throw new UsageError("import reads an export from FILE or from stdin: give a file, or pipe one in.");
  const input = file ? await openInput(file) : process.stdin;
  let readError: unknown;
  input.once("error", (error: Error) => (readError = error));
  try {
    await assertEmpty(context);
  } catch (error) {
    input.destroy();
    throw error;
  }
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
  } catch (error) {
    // A read that failed midway shows up as a failed upload: name the file, not the room.
    throw readError ? new FileError(file ?? "stdin", readError) : error;
  } finally {
    progress.done();
  }
  await out(JSON.stringify(result) + "\n");
};
