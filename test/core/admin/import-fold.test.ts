// An import folds the store into storage as it goes: the cells, values and audit entries it writes
// are those the room wrote living through the same events, and no write of it holds the whole store.
import { describe, expect, it } from "vitest";
import { MAX_STORED_CHARS } from "../../../party/core/storage/event-log.ts";
import { IMPORT_BATCH_CHARS } from "../../../party/core/admin/export-import.ts";
import { createMemoryStorage } from "../../../party/core/storage/room-storage.ts";
import { changesFrame, createTestRoom, settle, type TestRoom } from "../support/harness.ts";

const DELETED = "\uFFFC";
/** Events per write of the imports here, fewer than a room's, so that a few hundred events cross batches. */
const BATCH_EVENTS = 500;
const storeText = async (room: TestRoom) => (await room.request("GET", "/store")).text();
const exportText = async (room: TestRoom) => (await room.request("GET", "/export")).text();

/** The keys a room writes as it lives, and an import must write the same: cells, values, events, indexes, audit. */
const livedEntries = (room: TestRoom) =>
  new Map([...room.storage.entries].filter(([key]) => /^[cveysz]|^a[rv]/.test(key)).sort(([a], [b]) => (a < b ? -1 : 1)));

/** A deterministic walk over sets, cell, row and table deletions, values and replaces. */
const liveThrough = async (room: TestRoom, steps: number) => {
  const writer = room.connect("w");
  await room.request("PUT", "/store", [{ t0: { r0: { a: 0 } } }, { v0: 0 }]);
  for (let step = 1; step < steps; step++) {
    const table = `t${step % 3}`;
    const row = `r${step % 7}`;
    const kind = step % 11;
    const changes =
      kind === 0
        ? [{ [table]: { [row]: DELETED } }, {}, 1]
        : kind === 5
          ? [{ [table]: DELETED }, { [`v${step % 4}`]: DELETED }, 1]
          : [{ [table]: { [row]: { [`c${step % 5}`]: step, ...(kind === 3 ? { c0: DELETED } : {}) } } }, { [`v${step % 4}`]: step }, 1];
    await room.room.handleMessage(writer, changesFrame(changes));
    if (step % 97 === 0) await room.request("POST", "/events", { type: "tick", data: step });
    if (step === Math.floor(steps / 2)) {
      const etag = (await room.request("GET", "/store")).headers.get("ETag")!;
      expect((await room.request("PUT", "/store", [{ t1: { r1: { a: "replaced" } } }, {}], { "If-Match": etag })).status).toBe(200);
    }
  }
  await settle();
};

describe("an import folds the store into storage", () => {
  it("writes the cells, values, audit entries and indexes that the room wrote living through the same events, across batches", async () => {
    const source = await createTestRoom();
    await liveThrough(source, BATCH_EVENTS + 100);
    const text = await exportText(source);
    const target = await createTestRoom({ storage: createMemoryStorage(), importBatchEvents: BATCH_EVENTS });
    expect((await target.request("POST", "/import", text)).status).toBe(201);
    await settle();
    expect(livedEntries(target)).toEqual(livedEntries(source));
    expect(await storeText(target)).toBe(await storeText(source));
    expect(await storeText(await target.restart())).toBe(await storeText(source));
  });

  it("writes in batches bounded in characters, whatever the size of the store", async () => {
    // 160 cells of 50,000 characters: a store of 8 MB, each cell set by its own event.
    const source = await createTestRoom();
    await source.request("PUT", "/store", [{}, {}]);
    const writer = source.connect("w");
    for (let i = 0; i < 160; i++) await source.room.handleMessage(writer, changesFrame([{ t: { [`r${i}`]: { c: String(i).padEnd(50_000, "x") } } }, {}, 1]));
    await settle();
    const storage = createMemoryStorage();
    const write = storage.write.bind(storage);
    let largest = 0;
    let importing = true;
    storage.write = async (puts, deletes) => {
      let chars = 0;
      for (const [key, value] of puts) chars += key.length + (typeof value === "string" ? value.length : 16);
      // The import's last write is the meta without its lock: what follows is the room's own (its snapshot).
      if (importing) largest = Math.max(largest, chars);
      if (puts.size === 1 && puts.has("m") && !(puts.get("m") as { writeLock?: string }).writeLock) importing = false;
      return write(puts, deletes);
    };
    const target = await createTestRoom({ storage });
    expect((await target.request("POST", "/import", await exportText(source))).status).toBe(201);
    // One event's entries (its text, its cell, its audit entry) may cross the bound, never the store.
    expect(largest).toBeLessThanOrEqual(IMPORT_BATCH_CHARS + 3 * MAX_STORED_CHARS);
    expect(await storeText(target)).toBe(await storeText(source));
  });
});
