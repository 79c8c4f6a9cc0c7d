// Export, import and DELETE of a whole room in workerd, with real Durable Object storage: a
// deleted room has no key and no alarm left and its hibernated sockets are closed; a room whose
// log retention trimmed exports its base and imports to the same store.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { waitFor } from "../support/wait.ts";
import { at, call, changesFrame, changesIn, openSocket, postEvents, putStore, roomUrl } from "./helpers.ts";

describe("DELETE of a room", () => {
  it("erases every key and the alarm, closes hibernated sockets, and the room is new", async () => {
    const room = at("admin-delete", "retaining");
    const stub = env.Retaining.getByName("admin-delete");
    await putStore(room, [{ t: { r: { c: 0 } } }, {}]);
    await postEvents(room, { type: "app" });
    const socket = await openSocket(room);
    await evictDurableObject(stub); // the socket hibernates
    expect(await runInDurableObject(stub, (_room: unknown, state: DurableObjectState) => state.storage.getAlarm())).not.toBeNull();

    expect((await call(roomUrl("admin-delete", "", "retaining"), { method: "DELETE" })).status).toBe(204);
    expect(await socket.closed()).toBe(1001);
    // Until the party's directory has the room's removal, the room keeps its report's record and
    // the alarm that retries it (docs/directory.md); once it landed, and that alarm ran, nothing is left.
    const left = () =>
      runInDurableObject(stub, async (_room: unknown, state: DurableObjectState) => ({
        keys: [...(await state.storage.list()).keys()],
        alarm: await state.storage.getAlarm(),
      }));
    await waitFor(left, ({ keys }) => keys.length === 0, { what: "the removal's record gone" });
    await runDurableObjectAlarm(stub);
    expect(await left()).toEqual({ keys: [], alarm: null });
    expect((await call(roomUrl("admin-delete", "/store", "retaining"))).text).toBe("");
    expect((await postEvents(room, { type: "again" })).json().events[0].seq).toBe(1);
  });
});

describe("export of a trimmed log", () => {
  it("carries the base, and imports to the same store and events", async () => {
    const room = at("admin-trimmed", "retaining");
    const stub = env.Retaining.getByName("admin-trimmed");
    await putStore(room, [{ t: { seed: { c: 0 } } }, {}]);
    const writer = await openSocket(room);
    const listener = await openSocket(room);
    for (const id of ["r1", "10", "r0", "2", "r9", "1"]) {
      writer.send(changesFrame([{ t: { [id]: { c: id } } }, {}, 1]));
      await listener.frame((frame) => changesIn(frame)?.[0]?.t?.[id] !== undefined);
    }
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const text = (await call(roomUrl("admin-trimmed", "/export", "retaining"))).text;
    const [header, base, ...events] = text.trim().split("\n").map((line) => JSON.parse(line));
    expect(header).toMatchObject({ head: 7, first: 3 });
    expect(base.base.seq).toBe(2);
    expect(events.map((event) => event.seq)).toEqual([3, 4, 5, 6, 7]);
    expect((await call(roomUrl("admin-copy", "/import"), { method: "POST", body: text })).status).toBe(201);
    const store = (await call(roomUrl("admin-trimmed", "/store", "retaining"))).text;
    expect((await call(roomUrl("admin-copy", "/store"))).text).toBe(store);
    await evictDurableObject(env.Main.getByName("admin-copy"));
    expect((await call(roomUrl("admin-copy", "/store"))).text).toBe(store);
    expect((await call(roomUrl("admin-copy", "/export"))).text).toBe(text.replaceAll('"room":"admin-trimmed"', '"room":"admin-copy"'));
  });
});
