// A commit group's parts (Batch.part): what one module keeps for a group lives in its batch.
import { describe, expect, it } from "vitest";
import { createCommitQueue, type GroupPart } from "../../../party/core/storage/commit-queue.ts";
import { createMemoryStorage } from "../../../party/core/storage/room-storage.ts";

const queueOver = () => createCommitQueue({ storage: createMemoryStorage(), head: () => 0, seal: () => {}, log: () => {} });

/** A part that records its items, and the lists it flushed on commit. */
const recordingPart = (flushed: string[][]): GroupPart<string[]> => ({
  create(batch) {
    const list: string[] = [];
    batch.onCommit(() => flushed.push(list));
    return list;
  },
});

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
