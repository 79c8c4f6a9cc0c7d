import { describe, expect, it } from "vitest";
import { createOpenConnections, socketIdOf } from "../../../party/core/live/connections.ts";
import { createConnection, type TestConnection } from "../support/harness.ts";

const withState = (id: string, readyState: number) => Object.assign(createConnection(id), { readyState }) as TestConnection & { readyState: number };

describe("open connections", () => {
  it("asks the runtime once per wake-up, then follows connects and closes", () => {
    const runtime = [withState("a", 1), withState("b", 1)];
    let loads = 0;
    const open = createOpenConnections(() => {
      loads++;
      return runtime;
    });
    // Recorded even when the runtime does not list it (a runtime's map by `_pk` lists one socket per id).
    open.add(withState("early", 1));
    expect([...open].map((c) => c.id)).toEqual(["a", "b", "early"]);
    const c = withState("c", 1);
    open.add(c);
    open.delete(runtime[0]);
    expect([...open].map((connection) => connection.id)).toEqual(["b", "early", "c"]);
    expect([...open].map((connection) => connection.id)).toEqual(["b", "early", "c"]);
    expect(loads).toBe(1);
  });

  it("keeps every socket that shares a client's id, and drops only the one that closed", () => {
    const before = withState("client", 1);
    const open = createOpenConnections(() => [before]);
    expect([...open]).toEqual([before]);
    const after = withState("client", 1);
    open.add(after);
    expect([...open]).toEqual([before, after]);
    open.delete(before);
    expect([...open]).toEqual([after]);
    expect(socketIdOf(after)).not.toBe(socketIdOf(before));
  });

  it("drops a socket that is no longer open", () => {
    const b = withState("b", 1);
    const open = createOpenConnections(() => [withState("a", 1), b]);
    b.readyState = 3;
    expect([...open].map((c) => c.id)).toEqual(["a"]);
    b.readyState = 1; // gone for good: a closed socket never reopens
    expect([...open].map((c) => c.id)).toEqual(["a"]);
  });
});
