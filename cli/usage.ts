// What each command takes, as `--help` prints it, and the error for bad usage (exit status 2).

/** Bad usage: the command line itself is wrong. Exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

const URL_HINT = "<room-url> is http(s)://host/parties/<party>/<room>.";
const COMMON = `Options for every command:
  --token T     a token for the room (default: $ROOMSTORE_TOKEN)
  -h, --help    this help`;

export const COMMAND_HELP: Record<string, string> = {
  snapshot: `roomstore snapshot <room-url> [--at N]

Prints the room's store as TinyBase content, [tables, values] JSON (nothing for a room with no store).
With --at N, the store as it was right after log position N (0 to the head).`,
  restore: `roomstore restore <room-url> --at N --yes

Makes the store what it was right after log position N again, as one $replace event that every
client receives. Prints {seq, restoredFrom}. Refuses without --yes.`,
  tail: `roomstore tail <room-url> [--stream S] [--types a,b] [--from N | --after N] [--until caught-up]

Prints the room's events as NDJSON, one event per line: the history the selectors choose, then
live events as they are appended, until interrupted. --until caught-up stops after the history.`,
  append: `roomstore append <room-url> --type T [--stream S] [--id I] [--data JSON]

Appends one event and prints it as stored (with its seq). With --id, appending it again returns
the first append's event and appends nothing.`,
  export: `roomstore export <room-url> [-o FILE]

Writes the room's export (NDJSON: a header, the base of a trimmed log, every event) to stdout or
FILE, with progress on a terminal.`,
  import: `roomstore import <room-url> [FILE]

Loads an export (or TinyBase [tables, values] JSON) from FILE, or stdin, into a room that has no
store and no events, with progress on a terminal. Prints {head, first, events}. A failed import
leaves the room empty.`,
  delete: `roomstore delete <room-url> --yes

Deletes the room: its store, its log and its alarm; open sockets are closed. The room is then new.`,
  rooms: `roomstore rooms <party-url> [--prefix P]

Prints the party's rooms as NDJSON, one room per line in name order: {name, head, cells, events,
created, lastWrite}, every page of the listing. <party-url> is http(s)://host/parties/<party>.
Needs the write token or a token signed for room "*" when auth is on.`,
};

export const MAIN_HELP = `roomstore <command> <room-url> [options]

Commands:
  snapshot   print the store as [tables, values] JSON (--at N: as of a log position)
  restore    make the store what it was at a log position
  tail       print events as NDJSON, live
  append     append one event
  export     write the room's export
  import     load an export into an empty room
  delete     delete the room
  rooms      list a party's rooms as NDJSON (takes <party-url>: http(s)://host/parties/<party>)

${URL_HINT}
Data goes to stdout; progress and errors to stderr. Exit status: 0 done, 1 refused or failed,
2 bad usage. \`roomstore <command> --help\` for a command's options.`;

export const helpOf = (command: string): string => `${COMMAND_HELP[command]}\n\n${URL_HINT}\n${COMMON}`;
