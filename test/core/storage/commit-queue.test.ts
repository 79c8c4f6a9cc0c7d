// A commit group's parts (Batch.part): what one module keeps for a group lives in its batch. And the
// queue says when it is idle: no job queued and no group being prepared or written, so that a read
// can skip the trip through it (core.settled) only when memory is what storage holds.
import { describe, expect, it } from "vitest";
import { createCommitQueue, listPart, type GroupPart } from "../../../party/core/storage/commit-queue.ts";
import { createMemoryStorage } from "../../../party/core/storage/room-storage.ts";

const queueOver = () => createCommitQueue({ storage: createMemoryStorage(), head: () => 0, seal: () => {}, log: () => {} });

/** A list part (the broadcaster's and the synchronizer's kind) that records the lists it flushed on commit. */
const recordingPart = (flushed: string[][]): GroupPart<string[]> => listPart((list) => void flushed.push(list));

describe("commit queue: a group's parts", () => {
  it("makes a part once per group, shared by the group's jobs, and a new one for the next group", async () => {
    const flushed: string[][] = [];
    const part = recordingPart(flushed);
    const queue = queueOver();
    await Promise.all(["a", "b"].map((item) => queue.run((batch) => void batch.part(part).push(item))));
    await queue.run((batch) => void batch.part(part).push("c"));
    expect(flushed).toEqual([["a", "b"], ["c"]]);
  });

  it("takes back a part made by a job that fails, with its effects: the next job of the group makes it again", async () => {
    const flushed: string[][] = [];
    const part = recordingPart(flushed);
    const queue = queueOver();
    const failing = queue.run((batch) => {
      batch.part(part).push("failed");
      throw new Error("refused");
    });
    const kept = queue.run((batch) => void batch.part(part).push("kept"));
    await expect(failing).rejects.toThrow("refused");
    await kept;
    expect(flushed).toEqual([["kept"]]);
  });
});

describe("the commit queue", () => {
  it("is idle only before a job is queued and once its group's write has resolved", async () => {
    const storage = createMemoryStorage();
    let release = () => {};
    const write = storage.write.bind(storage);
    storage.write = (puts, deletes) => new Promise<void>((resolve) => (release = () => resolve(write(puts, deletes))));
    const queue = createCommitQueue({ storage, head: () => 0, seal: () => undefined, log: () => undefined });
    expect(queue.idle()).toBe(true);
    const done = queue.run((batch) => batch.put("k", 1));
    // Queued: its group waits for the frames already delivered.
    expect(queue.idle()).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 5));
    // Prepared, its write not yet resolved.
    expect(storage.entries.has("k")).toBe(false);
    expect(queue.idle()).toBe(false);
    release();
    await done;
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(queue.idle()).toBe(true);
    expect(storage.entries.get("k")).toBe(1);
  });
});
