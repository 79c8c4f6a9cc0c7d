// The client's event feed (client/event-feed.ts) against a scripted room connection, in Node with
// no server: the credit it grants, and how it resumes after a reconnect, a reset and a timeout.
import { describe, expect, it } from "vitest";
import { openFeed, type FeedLink } from "../../../client/event-feed.ts";
import type { ClientMessage, ServerMessage } from "../../../party/protocol.ts";

describe("an event feed, against a scripted room connection", () => {
  /** A connection whose frames the test writes, recording what the feed sends. */
  const scriptedLink = () => {
    const sent: ClientMessage[] = [];
    const messageListeners = new Set<(message: ServerMessage) => void>();
    const openListeners = new Set<() => void>();
    const link: FeedLink & { sent: ClientMessage[]; receive(message: ServerMessage): void; reopen(): void } = {
      sent,
      isOpen: true,
      send: (message) => void sent.push(message),
      onMessage: (listener) => (messageListeners.add(listener), () => void messageListeners.delete(listener)),
      onOpen: (listener) => (openListeners.add(listener), () => void openListeners.delete(listener)),
      receive: (message) => messageListeners.forEach((listener) => listener(message)),
      reopen: () => openListeners.forEach((listener) => listener()),
    };
    return link;
  };
  const event = (seq: number) => ({ seq, id: String(seq), stream: "s", type: "t", data: null, ts: "", room: "r" });

  it("grants credit as the caller consumes, never more than the window in flight or buffered", async () => {
    const link = scriptedLink();
    const feed = openFeed(link, { stream: "s" }, { window: 4 });
    const [sub] = link.sent as Extract<ClientMessage, { t: "sub" }>[];
    expect(sub).toMatchObject({ t: "sub", selectors: { stream: "s" }, credit: 4 });
    for (let seq = 1; seq <= 4; seq++) link.receive({ t: "ev", sid: sub.sid, e: event(seq) });
    const iterator = feed[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.seq).toBe(1);
    expect(link.sent).toHaveLength(1); // one consumed: half the window not reached yet
    expect((await iterator.next()).value?.seq).toBe(2);
    expect(link.sent.at(-1)).toEqual({ t: "ack", sid: sub.sid, credit: 2 });
    feed.close();
    expect(link.sent.at(-1)).toEqual({ t: "unsub", sid: sub.sid });
  });

  it("subscribes again after the last seq it saw on reconnect and on reset, and after a timeout once the caller reads", async () => {
    const link = scriptedLink();
    const feed = openFeed(link, { from: 1, types: ["t"] }, { window: 10 });
    const sid = (link.sent[0] as { sid: string }).sid;
    link.receive({ t: "ev", sid, e: event(3) });
    link.receive({ t: "caught-up", sid, seq: 7 });
    expect(await feed.caughtUp).toBe(7);

    link.reopen(); // a new socket
    expect(link.sent.at(-1)).toMatchObject({ t: "sub", sid, selectors: { types: ["t"], after: 7, from: undefined }, credit: 9 });
    link.receive({ t: "ev", sid, e: event(3) }); // an overlap is dropped
    link.receive({ t: "ev", sid, e: event(8) });
    link.receive({ t: "end", sid, reason: "reset" }); // the room woke without the subscription
    expect(link.sent.at(-1)).toMatchObject({ t: "sub", selectors: { after: 8 }, credit: 8 });

    link.receive({ t: "end", sid, reason: "timeout" });
    const sentBefore = link.sent.length;
    const iterator = feed[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.seq).toBe(3);
    expect((await iterator.next()).value?.seq).toBe(8);
    expect(link.sent).toHaveLength(sentBefore); // buffered events first, no new subscription yet
    const waiting = iterator.next();
    expect(link.sent.at(-1)).toMatchObject({ t: "sub", selectors: { after: 8 }, credit: 10 });
    link.receive({ t: "end", sid, reason: "error", error: { code: "internal", message: "The room could not read its log." } });
    await expect(waiting).rejects.toThrow("could not read its log");
  });
});
