// The official Durable Streams conformance suite (@durable-streams/server-conformance-tests 0.3.6)
// against one room under a real `wrangler dev`: baseUrl is the room, so its streams are
// `{room}/v1/stream/<name>`. The suite's long-poll tests need a server timeout under about 4 s.
// Every group runs (core, idempotent producers, closure, forks) but the opt-in subscription APIs.
import { runConformanceTests } from "@durable-streams/server-conformance-tests";
import { afterAll, beforeAll } from "vitest";
import { startServer, type RunningServer } from "../support/servers.ts";

const LONG_POLL_TIMEOUT_MS = 2_000;
// Read by the suite when each test runs, so the port can be known only once the server is up.
const options = { baseUrl: "", longPollTimeoutMs: LONG_POLL_TIMEOUT_MS };
let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ kind: "wrangler", vars: { LONG_POLL_TIMEOUT_MS: String(LONG_POLL_TIMEOUT_MS) } });
  options.baseUrl = `${server.origin}/parties/main/conformance-${Date.now()}`;
});
afterAll(() => server?.stop());

runConformanceTests(options);
