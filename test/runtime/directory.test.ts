// The room directory in workerd, with real Durable Object storage and alarms: rooms report after
// writes to the directory object of their own class, a report that failed is retried from the
// alarm, one that was lost with the room's memory is sent by the alarm, a DELETE removes the room,
// and reads add nothing.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DIRECTORY_NAME } from "../../party/core/index.ts";
import type { FlakyRoom } from "./worker.ts";
import { routeRoomRequest } from "../../party/worker.ts";
import { signToken } from "../../party/core/room/auth.ts";
import { waitFor } from "../support/wait.ts";
import { at, call, getStore, ORIGIN, postEvents, putStore, roomUrl } from "./helpers.ts";

const listing = async (party: string, query = "") => {
  const answer = await call(`${ORIGIN}/parties/${party}${query}`);
  expect(answer.status).toBe(200);
  return answer.json() as { rooms: { name: string; head: number; cells: number; events: number; created: string | null; lastWrite: string | null }[]; next: string | null };
};
const names = async (party: string, query = "") => (await listing(party, query)).rooms.map((room) => room.name);
const untilListed = (party: string, expected: string[], query = "") =>
  waitFor(() => names(party, query), (seen) => JSON.stringify(seen) === JSON.stringify(expected), { what: `the ${party} rooms ${expected}` });

describe("the room directory in workerd", () => {
  it("lists the rooms written to, with their figures, never one only read", async () => {
    await putStore(at("b"), [{ t: { r: { c: 1, d: 2 } } }, {}]);
    await postEvents(at("a%2F1"), { type: "app" });
    await getStore(at("only-read"));
    await call(roomUrl("only-read", "/stats"));
    await untilListed("main", ["a/1", "b"]);
    const { rooms, next } = await listing("main", "?prefix=b");
    expect(next).toBeNull();
    expect(rooms).toEqual([{ name: "b", head: 1, cells: 2, events: 1, created: expect.any(String), lastWrite: expect.any(String) }]);
    // The object a read touched keeps nothing, no record or alarm of a report included.
    const left = await runInDurableObject(env.Main.getByName("only-read"), async (_room: unknown, state: DurableObjectState) => ({
      keys: [...(await state.storage.list()).keys()],
      alarm: await state.storage.getAlarm(),
    }));
    expect(left).toEqual({ keys: [], alarm: null });
  });

  it("removes a deleted room", async () => {
    await putStore(at("doomed"), [{ t: { r: { c: 1 } } }, {}]);
    await waitFor(() => names("main"), (seen) => seen.includes("doomed"));
    expect((await call(roomUrl("doomed"), { method: "DELETE" })).status).toBe(204);
    await waitFor(() => names("main"), (seen) => !seen.includes("doomed"), { what: "the deleted room gone" });
  });

  it("sends from the alarm a report the room's memory lost, and it lands", async () => {
    const stub = env.Main.getByName("lost");
    await putStore(at("lost"), [{ t: { r: { c: 1 } } }, {}]);
    await waitFor(() => names("main"), (seen) => seen.includes("lost"));
    // As if the report had never landed: the directory forgets it, the room's record says nothing was acknowledged.
    await runInDurableObject(env.Main.getByName(DIRECTORY_NAME), (_room: unknown, state: DurableObjectState) => state.storage.delete("rlost"));
    await runInDurableObject(stub, (_room: unknown, state: DurableObjectState) => state.storage.put("$d", { name: "lost", acked: null, pending: false }));
    expect(await names("main")).not.toContain("lost");
    await evictDurableObject(stub);
    // The alarm the write asked for wakes a new instance (unless it fired by itself already), which sends it.
    await runDurableObjectAlarm(stub);
    await waitFor(() => names("main"), (seen) => seen.includes("lost"), { what: "the lost report sent again" });
  });

  it("retries a refused report from the alarm until the directory takes it", async () => {
    const directory = env.Flaky.getByName(DIRECTORY_NAME);
    await call(`${ORIGIN}/parties/flaky`); // starts the directory object
    await runInDurableObject(directory, (instance: FlakyRoom) => void (instance.failReports = 2));
    const stub = env.Flaky.getByName("retried");
    await putStore(at("retried", "flaky"), [{ t: { r: { c: 1 } } }, {}]);
    await waitFor(() => runInDurableObject(directory, (instance: FlakyRoom) => instance.failReports), (left) => left === 1, { what: "the first report refused" });
    expect(await names("flaky")).toEqual([]);
    // The alarm the write asked for runs (it also fires by itself, in time): each run tries again.
    await waitFor(
      async () => (await runDurableObjectAlarm(stub), names("flaky")),
      (seen) => seen.includes("retried"),
      { what: "the retried report listed" },
    );
    expect(await runInDurableObject(directory, (instance: FlakyRoom) => instance.failReports)).toBe(0);
  });

  it("pages through a party's rooms", async () => {
    const party = "live";
    const all = Array.from({ length: 5 }, (_, i) => `p${i}`);
    await Promise.all(all.map((room) => putStore(at(room, party), [{ t: { r: { c: 1 } } }, {}])));
    await untilListed(party, all);
    const first = await listing(party, "?limit=2");
    expect(first.rooms.map((room) => room.name)).toEqual(["p0", "p1"]);
    expect(first.next).toBe("p1");
    const last = await listing(party, "?limit=2&after=p3");
    expect(last).toMatchObject({ rooms: [{ name: "p4" }], next: null });
    expect((await call(`${ORIGIN}/parties/${party}?limit=0`)).json().error.code).toBe("bad_request");
    expect((await call(`${ORIGIN}/parties/nowhere`)).status).toBe(404);
    expect((await call(`${ORIGIN}/parties/${party}`, { method: "POST" })).status).toBe(405);
    // The directory's object is no room: no URL reaches it.
    for (const path of ["/rooms", "/report", ""]) expect((await call(`${ORIGIN}/parties/${party}/%00directory${path}`)).status).toBe(400);
  });

  it("lists only with the write token or a signed token for every room", async () => {
    const secured = { ...env, AUTH_WRITE_TOKEN: "writer", AUTH_READ_TOKEN: "reader", AUTH_SECRET: "secret" } as never;
    const exp = Math.floor(Date.now() / 1000) + 60;
    const statusWith = async (token?: string) => {
      const response = await routeRoomRequest(new Request(`${ORIGIN}/parties/main`, { headers: token ? { Authorization: `Bearer ${token}` } : {} }), secured);
      await response.text();
      return response.status;
    };
    expect(await statusWith()).toBe(401);
    expect(await statusWith("reader")).toBe(403);
    expect(await statusWith("wrong")).toBe(403);
    expect(await statusWith(await signToken("secret", { room: "b", role: "write", exp }))).toBe(403);
    expect(await statusWith("writer")).toBe(200);
    expect(await statusWith(await signToken("secret", { room: "*", role: "read", exp }))).toBe(200);
  });
});
