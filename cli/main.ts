#!/usr/bin/env node
// The `roomstore` command line: `roomstore <command> <room-url> [options]`. Node 22+.
// stdout carries data only; progress and errors go to stderr. Exit status: 0 done, 1 refused or
// failed (one line on stderr), 2 bad usage.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { append, deleteRoom, restore, snapshot, tail, type CommandContext } from "./commands.ts";
import { exportRoom, importRoom } from "./export-import.ts";
import { describeFailure } from "./http.ts";
import { parseRoomUrl } from "./room-url.ts";
import { parsePartyUrl, rooms } from "./rooms.ts";
import { helpOf, MAIN_HELP, UsageError } from "./usage.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

const COMMON: Options = { token: { type: "string" }, help: { type: "boolean", short: "h" } };

const COMMANDS: Record<string, { options: Options; run: (context: CommandContext) => Promise<void>; partyUrl?: boolean }> = {
  snapshot: { options: { at: { type: "string" } }, run: snapshot },
  tail: {
    options: { stream: { type: "string" }, types: { type: "string" }, from: { type: "string" }, after: { type: "string" }, until: { type: "string" } },
    run: tail,
  },
  append: { options: { type: { type: "string" }, stream: { type: "string" }, id: { type: "string" }, data: { type: "string" } }, run: append },
  export: { options: { output: { type: "string", short: "o" } }, run: exportRoom },
  import: { options: {}, run: importRoom },
  restore: { options: { at: { type: "string" }, yes: { type: "boolean" } }, run: restore },
  delete: { options: { yes: { type: "boolean" } }, run: deleteRoom },
  // Its URL names a party, not a room: `roomstore rooms <party-url>`.
  rooms: { options: { prefix: { type: "string" } }, run: rooms, partyUrl: true },
};

/** Exit statuses. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

// A reader that stops early (`roomstore tail … | head -1`) closes the pipe, and the next write to
// stdout fails with EPIPE (Node ignores SIGPIPE). The reader has what it wanted: the command ends
// with status 0. The listener also keeps the stream's 'error' event from crashing the process.
let stdoutClosed = false;
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") stdoutClosed = true;
});

// Ctrl-C and SIGTERM abort the command: `tail` ends with status 0, a transfer fails (1). Every
// signal is handled, not just the first: under `npx`, a terminal's Ctrl-C reaches both npm and
// this process, and npm forwards it once more; a second, unhandled SIGINT would kill the process
// (status 130) before it ends cleanly.
const interrupt = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => interrupt.abort());

const main = async (argv: string[]): Promise<number> => {
  const [command, ...args] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    (command === undefined ? process.stderr : process.stdout).write(MAIN_HELP + "\n");
    return command === undefined ? EXIT_USAGE : 0;
  }
  const spec = COMMANDS[command];
  let hasToken = false;
  try {
    if (!spec) throw new UsageError(`Unknown command ${JSON.stringify(command)}.`);
    let parsed;
    try {
      parsed = parseArgs({ args, options: { ...COMMON, ...spec.options }, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      process.stdout.write(helpOf(command) + "\n");
      return 0;
    }
    const token = (values.token as string | undefined) ?? process.env.ROOMSTORE_TOKEN;
    const [url, ...rest] = positionals;
    const room = (spec.partyUrl ? parsePartyUrl : parseRoomUrl)(url, token || undefined);
    hasToken = Boolean(token);
    await spec.run({ room, values: values as CommandContext["values"], rest, signal: interrupt.signal });
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`roomstore: ${error.message}\n${spec ? `See: roomstore ${command} --help` : "See: roomstore --help"}\n`);
      return EXIT_USAGE;
    }
    if (stdoutClosed) return 0;
    const reason = interrupt.signal.aborted ? "interrupted" : describeFailure(error, { token: hasToken });
    process.stderr.write(`roomstore ${command}: ${reason}\n`);
    return EXIT_FAILED;
  }
};

process.exitCode = await main(process.argv.slice(2));
