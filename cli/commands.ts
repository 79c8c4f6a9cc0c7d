// The commands (export and import are in export-import.ts). Each takes the room's HTTP options and
// its parsed options, writes data to stdout (or a file), progress to stderr, and throws on failure:
// a UsageError (exit 2) for bad usage, anything else (exit 1) when the room refused or could not be
// reached.
import type { HttpOptions } from "../client/http.ts";
import {
  AT_PARAM,
  DEFAULT_EVENTS_PATH,
  DEFAULT_STORE_PATH,
  isSeqText,
  RESTORE_PATH,
  SSE_CAUGHT_UP,
  SSE_ERROR,
  type ErrorBody,
  type RestoreResult,
  type RoomEvent,
} from "../party/protocol.ts";
import { roomRequest } from "./http.ts";
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

/** Writes to stdout; rejects with EPIPE once the reader closed the pipe (main.ts ends then, status 0). */
export const out = (text: string) =>
  new Promise<void>((resolve, reject) => process.stdout.write(text, (error?: Error | null) => (error ? reject(error) : resolve())));

export const noMore = (rest: string[]) => {
  if (rest.length > 0) throw new UsageError(`Unexpected argument: ${rest[0]}.`);
};

const seqOption = (values: Values, name: string, also: string[] = []): string | undefined => {
  const value = values[name] as string | undefined;
  if (value === undefined || also.includes(value) || isSeqText(value)) return value;
  throw new UsageError(`--${name} takes a seq${also.length ? ` or ${also.join(", ")}` : ""}, not ${JSON.stringify(value)}.`);
};

export const snapshot = async ({ room, values, rest, signal }: CommandContext) => {
  noMore(rest);
  const params = { [AT_PARAM]: seqOption(values, "at") };
  const text = await (await roomRequest(room, DEFAULT_STORE_PATH, { params, signal })).text();
  if (text !== "") await out(text + "\n");
};

export const restore = async ({ room, values, rest, signal }: CommandContext) => {
  noMore(rest);
  const at = seqOption(values, "at");
  if (at === undefined) throw new UsageError("restore needs --at N, the log position to restore the store to.");
  if (values.yes !== true) throw new UsageError("restore replaces the whole store: confirm with --yes.");
  const response = await roomRequest(room, RESTORE_PATH, {
    method: "POST",
    body: JSON.stringify({ at: Number(at) }),
    headers: { "Content-Type": "application/json" },
    signal,
  });
  await out(JSON.stringify((await response.json()) as RestoreResult) + "\n");
};

export const append = async ({ room, values, rest, signal }: CommandContext) => {
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
    signal,
  });
  const { events } = (await response.json()) as { events: RoomEvent[] };
  await out(JSON.stringify(events[0]) + "\n");
};

/** How long `tail` waits before it reconnects after the room dropped the stream. */
const TAIL_RECONNECT_MS = 1_000;

/** Waits `ms`, or less when `signal` aborts (Ctrl-C ends a tail at once, not after its pause). */
const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });

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
      await pause(TAIL_RECONNECT_MS, signal);
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
    await pause(TAIL_RECONNECT_MS, signal);
  }
};

export const deleteRoom = async ({ room, values, rest, signal }: CommandContext) => {
  noMore(rest);
  if (values.yes !== true) throw new UsageError("delete erases the room for good: confirm with --yes.");
  await roomRequest(room, "", { method: "DELETE", signal });
};
