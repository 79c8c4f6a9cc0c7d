// Time travel in workerd over real SQLite storage: checkpoints written as the log grows (every
// four seqs in the `travel` party), reads `?at=` at every position kept after retention trimmed the
// log in the alarm, from a cold (evicted) room too; a room stored without checkpoints, healed by
// its reads; a restore.
import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Room } from "../../party/worker.ts";
import { at, call, getStore, logOf, postEvents, putStore, roomUrl, storeOf } from "./helpers.ts";

const storeAt = async (room: string, seq: number) => {
  const answer = await call(roomUrl(room, `/store?at=${seq}`, "travel"));
  return { status: answer.status, etag: answer.headers.get("ETag"), body: answer.status === 200 && answer.text !== "" ? answer.json() : undefined };
};
const checkpointSeqs = (room: string) =>
  runInDurableObject(env.Travel.getByName(room), async (_room: Room, state) =>
    [...(await state.storage.list({ prefix: "t" })).keys()].filter((key) => /^t\d{16}$/.test(key)).map((key) => Number(key.slice(1))),
  );

/** Twelve store changes (a PUT, then replaces) between application events; the content after each seq. */
const writeLog = async (room: string) => {
  const where = at(room, "travel");
  const expected: (unknown | undefined)[] = [undefined];
  const seen = () => expected.at(-1);
  expect((await putStore(where, [{}, { n: 0 }])).status).toBe(201);
  expected.push([{}, { n: 0 }]);
  for (let n = 1; n <= 11; n++) {
    const etag = (await getStore(where)).headers.get("ETag")!;
    expect((await putStore(where, [{ t: { r: { n } } }, {}], { "If-Match": etag })).status).toBe(200);
    expected.push([{ t: { r: { n } } }, {}]);
    if (n % 3 === 0) {
      expect((await postEvents(where, { type: "note" })).status).toBe(201);
      expected.push(seen());
    }
  }
  return expected;
};

describe("time travel over Durable Object storage", () => {
  it("reads every position kept from checkpoints, after retention trimmed the log and from a cold room", async () => {
    const expected = await writeLog("travel-1");
    const head = expected.length - 1;
    expect(head).toBe(15);
    for (let seq = 0; seq <= head; seq++) expect((await storeAt("travel-1", seq)).body, `at ${seq}`).toEqual(expected[seq]);
    expect(await checkpointSeqs("travel-1")).toEqual([4, 8, 12]);

    const stub = env.Travel.getByName("travel-1");
    while (await runDurableObjectAlarm(stub)) {
      // Retention goes on while a run left work.
    }
    const first = (await logOf(at("travel-1", "travel"))).events[0].seq;
    expect(first).toBe(head - 4);
    await evictDurableObject(stub);
    expect((await storeAt("travel-1", first - 2)).status).toBe(410);
    for (let seq = first - 1; seq <= head; seq++) expect((await storeAt("travel-1", seq)).body, `at ${seq}`).toEqual(expected[seq]);
    // Checkpoints before first-1 went with the events they needed.
    expect(await checkpointSeqs("travel-1")).toEqual([12]);
  });

  it("reads a room stored without checkpoints, heals it as it reads, and checkpoints it from its next crossing on", async () => {
    const expected = await writeLog("travel-2");
    const stub = env.Travel.getByName("travel-2");
    await runInDurableObject(stub, async (_room: Room, state) => {
      const keys = [...(await state.storage.list({ prefix: "t" })).keys()];
      await state.storage.delete(keys);
      await state.storage.deleteAlarm();
    });
    await evictDurableObject(stub);
    expect(await checkpointSeqs("travel-2")).toEqual([]);
    for (let seq = 0; seq < expected.length; seq++) expect((await storeAt("travel-2", seq)).body, `at ${seq}`).toEqual(expected[seq]);
    // The reads put the checkpoints they replayed past, as the writes would have.
    expect(await checkpointSeqs("travel-2")).toEqual([4, 8, 12]);
    const where = at("travel-2", "travel");
    for (let n = 0; n < 2; n++) {
      const etag = (await getStore(where)).headers.get("ETag")!;
      await putStore(where, [{}, { again: n }], { "If-Match": etag });
    }
    expect(await checkpointSeqs("travel-2")).toEqual([4, 8, 12, 16]);
  });

  it("restores a position as one $replace that survives an eviction", async () => {
    const expected = await writeLog("travel-3");
    const restored = await call(roomUrl("travel-3", "/restore", "travel"), { method: "POST", body: JSON.stringify({ at: 2 }) });
    expect([restored.status, restored.json()]).toEqual([200, { seq: 16, restoredFrom: 2 }]);
    await evictDurableObject(env.Travel.getByName("travel-3"));
    expect(await storeOf(at("travel-3", "travel"))).toEqual(expected[2]);
    expect((await logOf(at("travel-3", "travel"), "$store")).events.at(-1)).toMatchObject({ seq: 16, type: "$replace", data: expected[2] });
    const bad = await call(roomUrl("travel-3", "/restore", "travel"), { method: "POST", body: JSON.stringify({ at: 99 }) });
    expect([bad.status, bad.json().error.code]).toEqual([400, "bad_request"]);
  });
});
