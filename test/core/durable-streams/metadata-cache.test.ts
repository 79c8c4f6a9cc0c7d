// Streams' metadata is read through a cache (durable-streams/store.ts): reads and appends never see
// a value that storage does not hold, whatever fails or interleaves, and the cache is bounded.
import { describe, expect, it } from "vitest";
import { MAX_CACHED_METAS } from "../../../party/core/durable-streams/store.ts";
import { createMemoryStorage } from "../../../party/core/storage/room-storage.ts";
import { createTestRoom, type TestRoom } from "../support/harness.ts";

const META_PREFIX = "d";

/** In-memory storage that counts reads of streams' metadata, can fail its next write, and can hold one metadata read back. */
const createObservedStorage = () => {
  const inner = createMemoryStorage();
  const control = { metaReads: 0, failNextWrite: false, held: undefined as Promise<void> | undefined };
  const storage: typeof inner = {
    ...inner,
    async get(keys) {
      const meta = keys.some((key) => key.startsWith(META_PREFIX));
      if (meta) control.metaReads++;
      const found = await inner.get(keys);
      const held = meta ? control.held : undefined;
      if (held) {
        control.held = undefined;
        await held;
      }
      return found;
    },
    async write(puts, deletes) {
      if (control.failNextWrite) {
        control.failNextWrite = false;
        throw new Error("injected write failure");
      }
      return inner.write(puts, deletes);
    },
  };
  return { storage, control };
};

const text = { "Content-Type": "text/plain" };
const read = async (test: TestRoom, name = "s") => (await test.request("GET", `/v1/stream/${name}?offset=-1`)).text();

describe("the streams' metadata cache", () => {
  it("keeps nothing of a write that failed (an append that closes): the stream reads and appends as storage has it", async () => {
    const { storage, control } = createObservedStorage();
    const test = await createTestRoom({ storage });
    expect((await test.request("PUT", "/v1/stream/s", "a", text)).status).toBe(201);
    control.failNextWrite = true;
    expect((await test.request("POST", "/v1/stream/s", "b", { ...text, "Stream-Closed": "true" })).status).toBe(500);
    expect(await read(test)).toBe("a");
    expect((await test.request("HEAD", "/v1/stream/s")).headers.get("Stream-Closed")).toBeNull();
    expect((await test.request("POST", "/v1/stream/s", "c", text)).status).toBe(204);
    expect(await read(test)).toBe("ac");
    expect(await read(await test.restart())).toBe("ac");
  });

  it("does not keep a value read from storage while an append committed a newer one", async () => {
    const { storage, control } = createObservedStorage();
    const first = await createTestRoom({ storage });
    expect((await first.request("PUT", "/v1/stream/s", "a", text)).status).toBe(201);
    const test = await first.restart();
    let release!: () => void;
    control.held = new Promise((resolve) => (release = resolve));
    // This read takes the metadata from storage before the append below and gets it after.
    const slowRead = read(test);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect((await test.request("POST", "/v1/stream/s", "b", text)).status).toBe(204);
    release();
    expect(await slowRead).toBe("a");
    expect(await read(test)).toBe("ab");
  });

  it(`reads storage once per stream, for at most ${MAX_CACHED_METAS} streams: the least recently used is read again`, async () => {
    const { storage, control } = createObservedStorage();
    const first = await createTestRoom({ storage });
    for (let i = 0; i <= MAX_CACHED_METAS; i++) expect((await first.request("PUT", `/v1/stream/s${i}`, `m${i}`, text)).status).toBe(201);
    const test = await first.restart();
    const reads = async (name: string) => {
      const before = control.metaReads;
      expect(await read(test, name)).toBe(`m${name.slice(1)}`);
      return control.metaReads - before;
    };
    expect(await reads("s0")).toBe(1);
    expect(await reads("s0")).toBe(0);
    for (let i = 1; i < MAX_CACHED_METAS; i++) expect(await reads(`s${i}`)).toBe(1);
    expect(await reads("s0")).toBe(0);
    expect(await reads(`s${MAX_CACHED_METAS}`)).toBe(1);
    expect(await reads("s1")).toBe(1);
    expect(await reads("s0")).toBe(0);
  });
});
