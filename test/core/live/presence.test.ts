import { describe, expect, it } from "vitest";
import { MAX_PRESENCE_BYTES } from "../../../party/protocol.ts";
import { resolveConfig, type RoomHooks } from "../../../party/core/index.ts";
import { ROLE_HEADER } from "../../../party/core/room/auth.ts";
import { createConnection, createTestRoom, messageFrame, receivedMessages, type TestConnection } from "../support/harness.ts";

/** A clock and timers the test moves by hand. */
const manualTime = () => {
  let time = 1_000;
  const timers: { at: number; run: () => void }[] = [];
  return {
    now: () => time,
    setTimer: (run: () => void, ms: number) => void timers.push({ at: time + ms, run }),
    /** Moves the clock by `ms` and runs every timer due by then. */
    advance(ms: number) {
      time += ms;
      for (;;) {
        const due = timers.filter((timer) => timer.at <= time).sort((a, b) => a.at - b.at)[0];
        if (!due) return;
        timers.splice(timers.indexOf(due), 1);
        due.run();
      }
    },
    get waiting() {
      return timers.length;
    },
  };
};

const presenceFrames = (connection: TestConnection) =>
  [...(connection.greeting ?? []), ...connection.sent]
    .filter((frame) => frame.startsWith("x"))
    .map((frame) => JSON.parse(frame.slice(1)))
    .filter((message) => message.t === "presence");

const setup = async (hooks: RoomHooks = {}, limits = {}) => {
  const time = manualTime();
  const test = await createTestRoom({ now: time.now, setTimer: time.setTimer, hooks, config: { limits } });
  const say = async (connection: TestConnection, state: unknown) => {
    await test.room.handleMessage(connection, messageFrame({ t: "presence", state }));
  };
  return { ...test, time, say };
};

describe("presence", () => {
  it("greets a new socket with its own id and everyone's state, and tells the others of its state", async () => {
    const { connect, say, time, request } = await setup();
    const a = connect("same-pk");
    const [helloA] = presenceFrames(a);
    expect(helloA).toEqual({ t: "presence", self: expect.any(String), peers: {} });
    await say(a, { cursor: [1, 2] });
    const b = connect("same-pk");
    const [helloB] = presenceFrames(b);
    // The room's own ids, never the client's `_pk`.
    expect(helloB.self).not.toBe("same-pk");
    expect(helloB.self).not.toBe(helloA.self);
    expect(helloB.peers).toEqual({ [helloA.self]: { cursor: [1, 2] } });
    time.advance(0);
    expect(presenceFrames(b).at(-1)).toEqual({ t: "presence", set: { [helloA.self]: { cursor: [1, 2] } }, left: [] });
    const c = connect("c");
    expect(presenceFrames(c)[0].peers).toEqual({ [helloA.self]: { cursor: [1, 2] } });
    expect(await (await request("GET", "/presence")).json()).toEqual({ peers: { [helloA.self]: { cursor: [1, 2] } } });
  });

  it("coalesces a flood into at most one frame per interval, the last state winning", async () => {
    const { connect, say, time } = await setup();
    const a = connect("a");
    const b = connect("b");
    const self = presenceFrames(a)[0].self;
    const before = presenceFrames(b).length;
    for (let i = 1; i <= 1_000; i++) {
      await say(a, { i });
      if (i % 100 === 0) time.advance(10);
    }
    time.advance(50);
    const frames = presenceFrames(b).slice(before);
    // 100 ms of sending at one frame per 50 ms, plus the first at once.
    expect(frames.length).toBeLessThanOrEqual(3);
    expect(frames.at(-1).set[self]).toEqual({ i: 1_000 });
    // One pending state per socket, never a queue of them.
    expect(time.waiting).toBe(0);
  });

  it("waits the interval after a frame before the next one", async () => {
    const { connect, say, time } = await setup({}, { presenceIntervalMs: 50 });
    const a = connect("a");
    const b = connect("b");
    await say(a, { n: 1 });
    time.advance(0);
    const count = presenceFrames(b).length;
    await say(a, { n: 2 });
    time.advance(49);
    expect(presenceFrames(b).length).toBe(count);
    time.advance(1);
    expect(presenceFrames(b).length).toBe(count + 1);
  });

  it("clears a state with null, and tells the others when a socket closes", async () => {
    const { connect, say, time, room, request } = await setup();
    const a = connect("a");
    const b = connect("b");
    const self = presenceFrames(a)[0].self;
    await say(a, { x: 1 });
    time.advance(0);
    await say(a, null);
    time.advance(50);
    expect(presenceFrames(b).at(-1)).toEqual({ t: "presence", set: { [self]: null }, left: [] });
    expect(await (await request("GET", "/presence")).json()).toEqual({ peers: {} });
    await say(a, { x: 2 });
    time.advance(50);
    room.handleClose(a);
    time.advance(50);
    expect(presenceFrames(b).at(-1)).toEqual({ t: "presence", set: {}, left: [self] });
    expect(await (await request("GET", "/presence")).json()).toEqual({ peers: {} });
  });

  it.each([
    ["an array", [1, 2], "bad_request"],
    ["a string", "here", "bad_request"],
    ["no state", undefined, "bad_request"],
    ["a state over the limit", { text: "x".repeat(MAX_PRESENCE_BYTES) }, "too_large"],
  ])("refuses %s with an error frame and changes nothing", async (_name, state, code) => {
    const { connect, say, time, request } = await setup();
    const a = connect("a");
    const b = connect("b");
    const before = presenceFrames(b).length;
    await say(a, state);
    time.advance(50);
    expect(receivedMessages(a).filter((message) => message.t === "error").map((message) => message.error.code)).toEqual([code]);
    expect(presenceFrames(b).length).toBe(before);
    expect(a.closed).toBeUndefined();
    expect(await (await request("GET", "/presence")).json()).toEqual({ peers: {} });
  });

  it("counts the limit in UTF-8 bytes, and a room may lower it", async () => {
    const { connect, say } = await setup({}, { maxPresenceBytes: 100 });
    const a = connect("a");
    await say(a, { name: "é".repeat(44) });
    expect(receivedMessages(a).filter((message) => message.t === "error")).toEqual([]);
    await say(a, { name: "é".repeat(45) });
    expect(receivedMessages(a).filter((message) => message.t === "error").map((message) => message.error.code)).toEqual(["too_large"]);
  });

  it("lets canSetPresence refuse a state: an error frame, nothing broadcast", async () => {
    const seen: unknown[] = [];
    const hooks: RoomHooks = {
      canSetPresence: async (state) => {
        seen.push(state);
        return state.name !== "mallory";
      },
    };
    const { connect, say, time, request } = await setup(hooks);
    const a = connect("a");
    const b = connect("b");
    const before = presenceFrames(b).length;
    await say(a, { name: "mallory" });
    time.advance(50);
    expect(receivedMessages(a).filter((message) => message.t === "error").map((message) => message.error.code)).toEqual(["forbidden"]);
    expect(presenceFrames(b).length).toBe(before);
    expect(await (await request("GET", "/presence")).json()).toEqual({ peers: {} });
    await say(a, { name: "alice" });
    expect(seen).toEqual([{ name: "mallory" }, { name: "alice" }]);
  });

  it("lets a read-role socket set presence", async () => {
    const { room, connections, say, request } = await setup();
    const connection = createConnection("reader");
    connections.push(connection);
    room.handleConnect(connection, new Request("http://room.test/parties/main/test-room", { headers: { [ROLE_HEADER]: "read" } }));
    await say(connection, { viewing: true });
    expect(Object.values((await (await request("GET", "/presence")).json()).peers)).toEqual([{ viewing: true }]);
  });

  it("keeps states in the sockets' attachments: a room woken from hibernation still has them, and storage never does", async () => {
    const test = await setup();
    const a = test.connect("a");
    await test.say(a, { here: 1 });
    const self = presenceFrames(a)[0].self;
    expect([...test.storage.entries].some(([, value]) => JSON.stringify(value ?? null).includes('"here"'))).toBe(false);
    const woken = await test.restart([a]);
    const c = woken.connect("c");
    expect(presenceFrames(c)[0].peers).toEqual({ [self]: { here: 1 } });
  });

  it("refuses a configured limit above the default: the attachment has 16 KiB", () => {
    expect(() => resolveConfig({ MAX_PRESENCE_BYTES: String(MAX_PRESENCE_BYTES + 1) })).toThrow(/MAX_PRESENCE_BYTES/);
  });
});
