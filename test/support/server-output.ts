// What a dev server printed that is an error of ours: its output with the runtime's own log of a
// client that went away taken out.
//
// Why that log is not ours: `partykit dev` (0.0.115) runs its facade worker (node_modules/partykit/
// dist/generated.js, `source_default.fetch`) in front of each room's Durable Object and answers a
// request with `return await targetDurable.get(id).fetch(...)`, so a streamed response (SSE) is
// piped from the object through the facade to the client. When the client disconnects, the
// workerd that PartyKit pins (miniflare 3.20240718.0, workerd 1.20240718.0) can print, for that
// pipe, "Uncaught (in promise)" and "Uncaught (in response)" (workerd's REQUEST_HANDLER source)
// "Error: Network connection lost.", and "Uncaught exception ... disconnected: remote.jsg.Error:
// Network connection lost." followed by a stack of addresses in the workerd binary. A bare
// Party.Server with no roomstore code, whose onRequest returns an endless ReadableStream, prints
// the same lines when 50 readers abort (4 rounds in 30); `wrangler dev` (workerd 1.20261102.1)
// prints none for roomstore under the same churn (0 rounds in 30).
//
// Only those exact lines are taken out (the stack after them names no error): an error with
// another message, from our code or the runtime, or any `roomstore:` line stays.

const ANSI_ESCAPE = /\x1b\[[0-9;]*m/g;

const CLIENT_WENT_AWAY = [
  /^Uncaught \(in (promise|response)\) Error: Network connection lost\.$/,
  /^(✘ \[ERROR\] )?workerd\/server\/server\.c\+\+:\d+: error: Uncaught exception: \S+: disconnected: remote\.jsg\.Error: Network connection lost\.$/,
];

/** The lines of `output` that name an error (`roomstore:`, `Uncaught`, `Error:`), except the runtime's client-disconnect log. */
export const errorLines = (output: string): string[] =>
  output
    .replace(ANSI_ESCAPE, "")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => /roomstore:|Uncaught|Error:/.test(line) && !CLIENT_WENT_AWAY.some((pattern) => pattern.test(line)));
