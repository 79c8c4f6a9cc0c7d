// Preloaded into `partykit dev` (node --import) by servers.ts.
//
// partykit 0.0.115 has no flag for the listen address: its dev command hands
// Miniflare `host: "0.0.0.0"` (dist/bin.mjs), so workerd would listen on every
// interface. Tests and benchmarks here must listen on loopback only, so this
// module hook rewrites that one literal while Node loads partykit's CLI. If a
// partykit upgrade changes the literal, it fails loudly instead of silently
// exposing the server.
// tsconfig.json lists only the Workers types; this file runs in Node.
/// <reference types="node" />
import { registerHooks } from "node:module";

const PARTYKIT_CLI = /\/partykit\/dist\/bin\.mjs$/;
const ALL_INTERFACES = 'host: "0.0.0.0"';
const LOOPBACK = 'host: "127.0.0.1"';

registerHooks({
  load(url, context, nextLoad) {
    const result = nextLoad(url, context);
    if (!PARTYKIT_CLI.test(url) || result.source === undefined) return result;
    const source = typeof result.source === "string" ? result.source : Buffer.from(result.source).toString("utf8");
    if (!source.includes(ALL_INTERFACES)) {
      throw new Error(`partykit-loopback: ${url} no longer contains ${ALL_INTERFACES}; update test/support/partykit-loopback.ts`);
    }
    return { ...result, source: source.replace(ALL_INTERFACES, LOOPBACK) };
  },
});
