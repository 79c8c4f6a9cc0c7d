import { describe, expect, it } from "vitest";
import { changesFrame, createTestRoom, settle } from "../support/harness.ts";


type TestRoom = Awaited<ReturnType<typeof createTestRoom>>;
const content = async (room: TestRoom) => (await room.request("GET", "/store")).json();
const snapshotWritten = async (room: TestRoom) => {
  for (let i = 0; i < 50 && !room.storage.entries.has("k"); i++) await settle();
  return room.storage.entries.has("k");
};
const cellListings = (room: TestRoom) => {
  const calls: string[] = [];
  const list = room.storage.list;
  room.storage.list = (range) => (calls.push(range.prefix ?? ""), list(range));
  return calls;
};

describe("store snapshots", () => {
  it("loads a woken room from its snapshot and the changes since, to the same store", async () => {
    const first = await createTestRoom();
    await first.request("PUT", "/store", [{ pets: { fido: { legs: 4, tags: "\uFFFD[1]" } } }, { open: true }]);
    const send = (room: TestRoom, changes: unknown) => room.room.handleMessage(room.connect("w"), changesFrame(changes));
    await send(first, [{ pets: { felix: { legs: 4 } } }, { open: null }, 1]);
    const second = await first.restart();
    expect(await snapshotWritten(second)).toBe(true);
    await send(second, [{ pets: { fido: "\uFFFC", rex: { legs: 3 } } }, { open: "\uFFFC", n: 1 }, 1]);
    await send(second, [{ toys: { ball: { colour: "red" } } }, {}, 1]);
    const expected = await content(second);

    const third = await second.restart();
    expect(await content(third)).toEqual(expected);
    const calls = cellListings(third);
    const fourth = await third.restart();
    expect(await content(fourth)).toEqual(expected);
    // The woken room listed no cell keys: it read the snapshot and replayed two events.
    expect(calls.filter((prefix) => prefix === "c" || prefix === "v")).toEqual([]);
  });

  it("loads from the base retention keeps when it trimmed the events a snapshot needs", async () => {
    const first = await createTestRoom({ config: { retention: { maxEvents: 2 } } });
    await first.request("PUT", "/store", [{}, { n: 0 }]);
    const second = await first.restart();
    expect(await snapshotWritten(second)).toBe(true);
    for (let n = 1; n <= 5; n++) await second.room.handleMessage(second.connect("w"), changesFrame([{}, { n }, 1]));
    await second.room.handleAlarm();
    const calls = cellListings(second);
    const third = await second.restart();
    expect(await content(third)).toEqual([{}, { n: 5 }]);
    // No cell listing: cells list in key order, the base and the log in the store's own.
    expect(calls.filter((prefix) => prefix === "c" || prefix === "v")).toEqual([]);
  });
});
