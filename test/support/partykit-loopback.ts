// Preloaded into `partykit dev` (node --import) by servers.ts.
//
// partykit 0.0.115 has no flag for its listen addresses, and tests and benchmarks here must
// listen on loopback only, so this module hook rewrites literals in partykit's CLI
// (dist/bin.mjs) while Node loads it:
// - its dev command hands Miniflare `host: "0.0.0.0"`, so workerd would listen on every interface;
// - its devtools inspector proxy (`Inspector`, `useInspector`) takes port 9229 and calls
//   `server.listen(port)`, on every interface. Two `partykit dev` starting together both find
//   9229 free; the one that loses waits 2 s and prints "Failed to start inspector: Error: Timed
//   out waiting for port 9229" into the middle of whatever the server logs next. Port 0 lets the
//   OS pick a free port (partykit's wait for the port skips 0), on 127.0.0.1. The proxy only
//   serves a devtools client; the uncaught exceptions that partykit prints come through its
//   separate connection to workerd's own inspector, which stays.
// If a partykit upgrade changes a literal, the hook fails loudly instead of silently exposing the server.
// tsconfig.json lists only the Workers types; this file runs in Node.
/// <reference types="node" />
import { registerHooks } from "node:module";

const PARTYKIT_CLI = /\/partykit\/dist\/bin\.mjs$/;
const REWRITES: [from: string, to: string][] = [
  ['host: "0.0.0.0"', 'host: "127.0.0.1"'],
  ['getPortForServer("inspector", 9229)', "0"],
  ["server.listen(props.port);", 'server.listen(props.port, "127.0.0.1");'],
];

registerHooks({
  load(url, context, nextLoad) {
    const result = nextLoad(url, context);
    if (!PARTYKIT_CLI.test(url) || result.source === undefined) return result;
    let source = typeof result.source === "string" ? result.source : Buffer.from(result.source).toString("utf8");
    for (const [from, to] of REWRITES) {
      if (source.split(from).length !== 2) {
        throw new Error(`partykit-loopback: ${url} no longer contains ${from} exactly once; update test/support/partykit-loopback.ts`);
      }
      source = source.replace(from, to);
    }
    return { ...result, source };
  },
});
