import { describe, expect, it } from "vitest";
import { createTestRoom } from "../support/harness.ts";

const seqsOf = async (room: Awaited<ReturnType<typeof createTestRoom>>, query = "") =>
  ((await (await room.request("GET", `/events?limit=1000${query}`)).json()).events as { seq: number }[]).map((event) => event.seq);

describe("retention", () => {
  it("keeps everything by default", async () => {
    const room = await createTestRoom();
    await room.request("POST", "/events", Array.from({ length: 20 }, () => ({ type: "a" })));
    await room.room.handleAlarm();
    expect((await seqsOf(room)).length).toBe(20);
  });

  it("trims the oldest events by count, with their indexes and audit entries, and never the store", async () => {
    const room = await createTestRoom({ config: { retention: { maxEvents: 5 } } });
    await room.request("PUT", "/store", [{ t: { r: { c: 0 } } }, {}]);
    for (let i = 1; i <= 6; i++) await room.room.handleMessage(room.connect(`c${i}`), "s" + JSON.stringify([{ t: { r: { c: i } } }, {}, 1]));
    await room.request("POST", "/events", [{ type: "a", id: "first" }, { type: "b" }, { type: "a" }]);
    expect((await seqsOf(room)).length).toBe(10);
    await room.room.handleAlarm();
    expect(await seqsOf(room)).toEqual([6, 7, 8, 9, 10]);
    expect(await seqsOf(room, "&types=a")).toEqual([8, 10]);
    expect(await seqsOf(room, "&stream=$store")).toEqual([6, 7]);
    const history = await (await room.request("GET", "/events/history?table=t&row=r&cell=c")).json();
    expect(history.history.map((entry: { seq: number }) => entry.seq)).toEqual([6, 7]);
    expect(await (await room.request("GET", "/store")).json()).toEqual([{ t: { r: { c: 6 } } }, {}]);
    // No key of a trimmed event is left: only kept seqs appear anywhere in storage.
    const seqKeys = [...room.storage.entries.keys()].filter((key) => /\d{16}/.test(key));
    expect(seqKeys.every((key) => Number(key.match(/(\d{16})/)![1]) >= 6)).toBe(true);
    // The seq is never reused.
    const appended = await (await room.request("POST", "/events", { type: "a" })).json();
    expect(appended.events[0].seq).toBe(11);
  });

  it("trims by age and survives a restart", async () => {
    let clock = Date.UTC(2026, 0, 1);
    const room = await createTestRoom({ config: { retention: { maxAgeSeconds: 60 } }, now: () => clock });
    await room.request("POST", "/events", [{ type: "old" }, { type: "old" }]);
    clock += 120_000;
    await room.request("POST", "/events", [{ type: "new" }]);
    await room.room.handleAlarm();
    expect(await seqsOf(room)).toEqual([3]);
    const restarted = await room.restart();
    expect(await seqsOf(restarted)).toEqual([3]);
    expect((await (await restarted.request("POST", "/events", { type: "x" })).json()).events[0].seq).toBe(4);
  });

  it("works through a large backlog in bounded runs", async () => {
    const room = await createTestRoom({ config: { retention: { maxEvents: 10 } } });
    for (let i = 0; i < 12; i++) await room.request("POST", "/events", Array.from({ length: 100 }, () => ({ type: "a" })));
    let runs = 0;
    do {
      await room.room.handleAlarm();
      runs++;
    } while ((await seqsOf(room)).length > 10 && runs < 10);
    expect(runs).toBeGreaterThan(1);
    expect(await seqsOf(room)).toEqual(Array.from({ length: 10 }, (_, i) => 1191 + i));
  });
});
