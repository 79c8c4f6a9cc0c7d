// The dev servers that the e2e tests and benchmarks start (test/support/servers.ts) listen on
// 127.0.0.1 only, every socket of every process they spawn, and two `partykit dev` started at
// once do not race for one port: partykit's devtools inspector proxy would take 9229 on every
// interface, and the one that lost would print a failure into the middle of a test's output
// (test/support/partykit-loopback.ts). Nor do two `wrangler dev`: each would take 9229 for its
// inspector when it looks free, and the one that lost exits, also on a restart.
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

  it("two wrangler dev started and restarted at once each serve, with an inspector port of their own, on 127.0.0.1 only", async () => {
    const pair = await Promise.all([startServer({ kind: "wrangler" }), startServer({ kind: "wrangler" })]);
    servers.push(...pair);
    await Promise.all(pair.map((server) => server.restart()));
    const inspectorPorts = new Set<string>();
    for (const server of pair) {
      expect((await fetch(`${server.origin}/parties/main/dev-servers/store`)).status).toBe(200);
      const started = server.output().match(/--inspector-port (\d+)/g) ?? [];
      expect(started).toHaveLength(2);
      for (const flag of started) inspectorPorts.add(flag);
      expect(listenersOf(server.processGroup()!).filter((listener) => listener.address !== "127.0.0.1")).toEqual([]);
    }
    expect(inspectorPorts.size).toBe(4);
  });
});
