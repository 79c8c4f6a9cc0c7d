import { describe, expect, it } from "vitest";
import type { ClientMessage, ServerMessage } from "../../../party/protocol.ts";
import { createRoomPresence } from "../../../client/presence.ts";

/** A link to no room: what the client sends is recorded, and the test plays the room. */
const fakeLink = () => {
  const sent: ClientMessage[] = [];
  const messageListeners = new Set<(message: ServerMessage) => void>();
  const openListeners = new Set<() => void>();
  let open = false;
  return {
    sent,
    link: {
      send: (message: ClientMessage) => void (open && sent.push(message)),
      onMessage: (listener: (message: ServerMessage) => void) => (messageListeners.add(listener), () => void messageListeners.delete(listener)),
      onOpen: (listener: () => void) => (openListeners.add(listener), () => void openListeners.delete(listener)),
    },
    open() {
      open = true;
      for (const listener of openListeners) listener();
    },
    drop: () => void (open = false),
    hear: (message: ServerMessage) => messageListeners.forEach((listener) => listener(message)),
  };
};

describe("the client's presence", () => {
  it("follows the hello and the changes, leaving itself out of its peers", () => {
    const room = fakeLink();
    const presence = createRoomPresence(room.link);
    const heard: unknown[] = [];
    const stop = presence.onChange((peers) => heard.push(peers));
    room.open();
    room.hear({ t: "presence", self: "me", peers: { a: { n: 1 }, me: { old: true } } });
    expect([presence.self, presence.peers]).toEqual(["me", { a: { n: 1 } }]);
    room.hear({ t: "presence", set: { b: { n: 2 }, a: null, me: { n: 3 } }, left: [] });
    expect(presence.peers).toEqual({ b: { n: 2 } });
    room.hear({ t: "presence", set: {}, left: ["b"] });
    expect(presence.peers).toEqual({});
    stop();
    room.hear({ t: "presence", set: { c: {} }, left: [] });
    expect(heard).toEqual([{ a: { n: 1 } }, { b: { n: 2 } }, {}]);
  });

  it("sends its state again after a reconnect, and the new hello replaces every peer", () => {
    const room = fakeLink();
    const presence = createRoomPresence(room.link);
    presence.set({ name: "early" }); // before the socket opens: kept, sent on open
    room.open();
    room.hear({ t: "presence", self: "first", peers: { gone: { n: 1 } } });
    room.drop();
    room.open();
    room.hear({ t: "presence", self: "second", peers: { first: { name: "early" } } });
    expect(room.sent).toEqual([
      { t: "presence", state: { name: "early" } },
      { t: "presence", state: { name: "early" } },
    ]);
    expect([presence.self, presence.peers]).toEqual(["second", { first: { name: "early" } }]);
  });

  it("refuses what the room would refuse, and sends nothing", () => {
    const room = fakeLink();
    const presence = createRoomPresence(room.link);
    room.open();
    expect(() => presence.set([1] as never)).toThrow(TypeError);
    expect(() => presence.set({ text: "x".repeat(5_000) })).toThrow(RangeError);
    expect(room.sent).toEqual([]);
  });
});
