// The dev servers that the e2e tests and benchmarks start (test/support/servers.ts) listen on
// 127.0.0.1 only, every socket of every process they spawn, and two `partykit dev` started at
// once do not race for one port: partykit's devtools inspector proxy would take 9229 on every
// interface, and the one that lost would print a failure into the middle of a test's output
// (test/support/partykit-loopback.ts).
import { afterAll, describe, expect, it } from "vitest";
import { listenersOf } from "../support/listeners.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

/** partykit's CLI listens twice once it is up: Miniflare's loopback server and the inspector proxy. */
const CLI_LISTENERS = 2;

describe("dev servers", () => {
  const servers: RunningServer[] = [];
  afterAll(async () => Promise.all(servers.map((server) => server.stop())));

  it("listen on 127.0.0.1 only, two partykit dev started at once included, and neither fails to start its inspector", async () => {
    servers.push(...(await Promise.all([startServer({ kind: "partykit" }), startServer({ kind: "partykit" })])));
    for (const server of servers) {
      const group = server.processGroup()!;
      const listeners = await waitFor(
        () => listenersOf(group),
        (found) => found.filter((listener) => listener.pid === group).length === CLI_LISTENERS,
        { what: `partykit dev on ${server.port} and its inspector proxy listening` },
      );
      expect(listeners.map((listener) => listener.port)).toContain(server.port);
      expect(listeners.filter((listener) => listener.address !== "127.0.0.1")).toEqual([]);
      // The proxy is up, so no failure to start it can follow.
      expect(server.output()).not.toContain("Failed to start inspector");
    }
  });
});
