// The commit queue says when it is idle: no job queued and no group being prepared or written, so
// that a read can skip the trip through it (core.settled) only when memory is what storage holds.
import { describe, expect, it } from "vitest";
import { createCommitQueue } from "../../../party/core/storage/commit-queue.ts";
import { createMemoryStorage } from "../../../party/core/storage/room-storage.ts";

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
