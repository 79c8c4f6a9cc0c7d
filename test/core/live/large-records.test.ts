// Large records written in pieces: an SSE reader that stops reading holds its queue budget plus one
// storage value, whatever one event or the store weighs, and gets every record whole once it reads.
// Held bytes are the room's own gauge (the bytes in each stream's queue).
import { describe, expect, it } from "vitest";
import { MAX_STORED_CHARS } from "../../../party/core/storage/event-log.ts";
import { createTestRoom, messageFrame, receivedMessages, settle, type TestRoom } from "../support/harness.ts";
import { createSseReader } from "../support/sse-reader.ts";
import { waitFor } from "../../support/wait.ts";

const KIB = 1024;
const BUDGET_BYTES = 64 * KIB;
/** A store of 40 cells of 50,000 characters: its `$init` event is about 2 MB, 34 stored chunks. */
const CELLS = 40;
const CELL_CHARS = 50_000;
const READERS = 4;
/** The bound: the queue's budget, plus one storage value (ASCII text: one byte per character). */
const HELD_AT_MOST = BUDGET_BYTES + MAX_STORED_CHARS;

const config = { limits: { maxSseQueueBytes: BUDGET_BYTES, maxSubscriptionBytes: BUDGET_BYTES } };
const largeContent = () => {
  const row: Record<string, string> = {};
  for (let i = 0; i < CELLS; i++) row[`c${i}`] = String(i).padEnd(CELL_CHARS, "x");
  return [{ t: { r: row } }, { v: 1 }];
};
const sse = (room: TestRoom, query = "") => room.request("GET", `/events${query}`, undefined, { Accept: "text/event-stream" });

/** Waits until every reader's queue is full: the feed has written all it may. */
const untilFull = (room: TestRoom, readers: number) =>
  waitFor(() => room.room.core.memory.heldBytes(), (held) => held.readers === readers && held.total >= readers * BUDGET_BYTES, { what: "full queues" });

describe("large records in pieces", () => {
  it("stalled readers of a 2 MB event hold their budget plus one storage value, live and from history, and then read it whole", async () => {
    const room = await createTestRoom({ config });
    const live = await Promise.all(Array.from({ length: READERS }, () => sse(room, "?after=past-events")));
    const content = largeContent();
    expect((await room.request("PUT", "/store", content)).status).toBe(201);
    const fromHistory = await sse(room);
    await untilFull(room, READERS + 1);
    for (let i = 0; i < 5; i++) await settle();
    const held = room.room.core.memory.heldBytes();
    expect(held.largest).toBeLessThanOrEqual(HELD_AT_MOST);
    expect(held.total).toBeLessThanOrEqual((READERS + 1) * HELD_AT_MOST);

    for (const response of [live[0], fromHistory]) {
      const reader = createSseReader(response);
      const records = await reader.take(2);
      const record = records.find((one) => one.event !== "caught-up")!;
      expect([record.id, record.event]).toEqual(["1", "$init"]);
      expect(JSON.parse(record.data).data).toEqual(content);
      await reader.cancel();
    }
    for (const response of live.slice(1)) await response.body!.cancel();
    await waitFor(() => room.room.core.memory.heldBytes().readers, (readers) => readers === 0, { what: "readers gone" });
  });

  it("writes the snapshot record of a 2 MB store in pieces too", async () => {
    const room = await createTestRoom({ config });
    const content = largeContent();
    await room.request("PUT", "/store", content);
    const response = await sse(room, "?snapshot=1&after=past-events");
    await untilFull(room, 1);
    for (let i = 0; i < 5; i++) await settle();
    expect(room.room.core.memory.heldBytes().largest).toBeLessThanOrEqual(HELD_AT_MOST);
    const reader = createSseReader(response);
    const [snapshot, caughtUp] = await reader.take(2);
    expect(snapshot.event).toBe("snapshot");
    expect(JSON.parse(snapshot.data)).toEqual({ seq: 1, content });
    expect(caughtUp.event).toBe("caught-up");
    // Then live, as before.
    await room.request("POST", "/events", { type: "after" });
    expect((await reader.take(1))[0]).toMatchObject({ id: "2", event: "after" });
    await reader.cancel();
  });

  it("breaks the stream, rather than end half a record, when a piece left the log meanwhile", async () => {
    const room = await createTestRoom({ config });
    await room.request("PUT", "/store", largeContent());
    const response = await sse(room);
    await untilFull(room, 1);
    // As retention would: the event's last chunk goes while the reader is still in the middle of it.
    const chunkKeys = [...room.storage.entries.keys()].filter((key) => /^e\d{16}\.\d+$/.test(key));
    room.storage.entries.delete(chunkKeys.at(-1)!);
    const reader = response.body!.getReader();
    let text = "";
    const decoder = new TextDecoder();
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return text;
          text += decoder.decode(value, { stream: true });
        }
      })(),
    ).rejects.toThrow();
    expect(text).not.toContain("event: error");
    expect(text.endsWith("\n\n")).toBe(false);
  });

  it("sends a subscription a large event once, as one frame, only when nothing else is unacknowledged", async () => {
    const room = await createTestRoom({ config });
    const socket = room.connect("reader");
    await room.room.handleMessage(socket, messageFrame({ t: "sub", sid: "s", credit: 100, selectors: { after: "past-events" } }));
    await room.request("POST", "/events", { type: "small" });
    const content = largeContent();
    await room.request("PUT", "/store", content);
    await settle();
    const events = () => receivedMessages(socket).filter((message) => message.t === "ev");
    // The small event is unacknowledged: the large one waits, and the room holds nothing for it.
    expect(events().map((message) => message.e.seq)).toEqual([1]);
    expect(room.room.core.memory.heldBytes().largest).toBeLessThan(KIB);
    await room.room.handleMessage(socket, messageFrame({ t: "ack", sid: "s", credit: 1 }));
    await waitFor(() => events().length, (count) => count === 2, { what: "the large event" });
    expect(events()[1].e.data).toEqual(content);
  });
});
