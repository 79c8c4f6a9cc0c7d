// The room's side: reports after writes, coalesced, kept owed across restarts, retried from the
// alarm, removals after a DELETE; a read never reports.
import { describe, expect, it } from "vitest";
import { createDirectory, parseListQuery } from "../../../party/core/directory/directory.ts";
import { parseReport, type DirectoryReport } from "../../../party/core/directory/reports.ts";
import { REPORT_ALARM_MS, recordedName } from "../../../party/core/directory/reporter.ts";
import { createRoom, resolveConfig } from "../../../party/core/index.ts";
import { createMemoryStorage } from "../../../party/core/storage/room-storage.ts";
import { ADMITTED, settle } from "../support/harness.ts";

const until = async (condition: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await condition()); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(await condition()).toBe(true);
};

/** A room and its party's directory, with the link between them under the test's control. */
const setUp = (storage = createMemoryStorage(), directoryStorage = createMemoryStorage()) => {
  let clock = Date.UTC(2026, 0, 1);
  const directory = createDirectory({ storage: directoryStorage, now: () => clock });
  const sent: DirectoryReport[] = [];
  const alarms: number[] = [];
  const link = {
    failing: false,
    /** Holds the reports until `release` is called (one in flight). */
    held: undefined as undefined | (() => void),
    hold: false,
  };
  const sendReport = async (report: DirectoryReport) => {
    sent.push(report);
    if (link.hold) await new Promise<void>((resolve) => (link.held = resolve));
    if (link.failing) throw new Error("The directory is away.");
    return directory.report(parseReport(JSON.parse(JSON.stringify(report))));
  };
  const start = async () => {
    const room = createRoom(
      {
        name: "a/b",
        storage,
        config: resolveConfig({}),
        hooks: {},
        connections: () => [],
        now: () => clock,
        scheduleAlarm: (at) => void alarms.push(at),
        // The interval between reports passes at once: the clock moves on by it.
        setTimer: (run, ms) => void setTimeout(() => ((clock += ms), run()), 0),
      },
      { sendReport },
    );
    await room.load();
    return room;
  };
  const listed = async () => (await directory.list(parseListQuery(new URLSearchParams()))).rooms;
  const put = (room: Awaited<ReturnType<typeof start>>, content: unknown, method = "PUT") =>
    room.handleRequest(new Request("http://room.test/parties/main/a%2Fb/store", { method, headers: ADMITTED, body: JSON.stringify(content) }));
  return {
    storage, directory, sent, alarms, link, start, listed, put,
    tick: (ms: number) => (clock += ms),
  };
};

describe("a room's reports to its directory", () => {
  it("reports its figures after a write, with an alarm asked for as the write commits", async () => {
    const t = setUp();
    const room = await t.start();
    expect((await t.put(room, [{ t: { r: { c: 1, d: 2 } } }, {}])).status).toBe(201);
    await until(async () => (await t.listed()).length === 1);
    expect(await t.listed()).toEqual([{ name: "a/b", head: 1, cells: 2, events: 1, created: "2026-01-01T00:00:00.000Z", lastWrite: "2026-01-01T00:00:00.000Z" }]);
    expect(t.alarms).toEqual([Date.UTC(2026, 0, 1) + REPORT_ALARM_MS]);
    expect(await recordedName(t.storage, "")).toBe("a/b");
  });

  it("never reports a room that was only read, nor asks for an alarm", async () => {
    const t = setUp();
    const room = await t.start();
    for (const path of ["/store", "/events", "/stats", "/presence"]) {
      await room.handleRequest(new Request(`http://room.test/parties/main/a%2Fb${path}`, { headers: ADMITTED }));
    }
    await room.handleAlarm();
    await settle();
    expect(t.sent).toEqual([]);
    expect(t.alarms).toEqual([]);
    expect(t.storage.entries.size).toBe(0);
  });

  it("keeps one report in flight and follows it with one carrying the latest figures", async () => {
    const t = setUp();
    const room = await t.start();
    t.link.hold = true;
    await t.put(room, [{ t: { r: { c: 1 } } }, {}]);
    await until(() => t.sent.length === 1);
    for (let i = 2; i <= 5; i++) expect((await t.put(room, [{ t: { r: { c: i } } }, {}, 1], "PATCH")).status).toBe(200);
    await settle();
    expect(t.sent.length).toBe(1);
    t.link.hold = false;
    t.link.held!();
    await until(async () => (await t.listed())[0]?.head === 5);
    expect(t.sent.map((report) => report.room?.head)).toEqual([1, 5]);
    expect(t.sent[1].v).toBeGreaterThan(t.sent[0].v);
  });

  it("retries a failed report from the alarm until it lands, and not once it has", async () => {
    const t = setUp();
    const room = await t.start();
    t.link.failing = true;
    await t.put(room, [{ t: { r: { c: 1 } } }, {}]);
    await until(() => t.sent.length === 1);
    await settle();
    expect(t.alarms.length).toBe(2); // the write's, and the retry's (earlier)
    await room.handleAlarm();
    expect(t.sent.length).toBe(2);
    expect(await t.listed()).toEqual([]);
    t.link.failing = false;
    await room.handleAlarm();
    expect((await t.listed()).map((listed) => listed.head)).toEqual([1]);
    const before = t.sent.length;
    await room.handleAlarm();
    expect(t.sent.length).toBe(before);
  });

  it("owes a report across a restart: the next start sends it", async () => {
    const t = setUp();
    const room = await t.start();
    t.link.failing = true;
    await t.put(room, [{ t: { r: { c: 1 } } }, {}]);
    await until(() => t.sent.length === 1);
    t.link.failing = false;
    // A new instance over the same storage (a restart): its load (or its alarm) sends the report.
    await t.start();
    await until(async () => (await t.listed()).length === 1);
    // Once acknowledged, a restart sends nothing more.
    const count = t.sent.length;
    const again = await t.start();
    await again.handleAlarm();
    await settle();
    expect(t.sent.length).toBe(count);
  });

  it("removes itself once deleted, and the erased room keeps nothing once the removal landed", async () => {
    const t = setUp();
    const room = await t.start();
    await t.put(room, [{ t: { r: { c: 1 } } }, {}]);
    await until(async () => (await t.listed()).length === 1);
    expect((await room.handleRequest(new Request("http://room.test/parties/main/a%2Fb", { method: "DELETE", headers: ADMITTED }))).status).toBe(204);
    await until(async () => (await t.listed()).length === 0);
    await until(() => t.storage.entries.size === 0);
    expect(t.sent.at(-1)!.room).toBeNull();
    // Written again, it is listed again (a newer version than its removal).
    t.tick(2_000);
    await t.put(room, [{ t: { r: { c: 2 } } }, {}]);
    await until(async () => (await t.listed()).length === 1);
  });

  it("goes on from the directory's version when an earlier incarnation's clock ran ahead", async () => {
    const t = setUp();
    await t.directory.report({ name: "a/b", v: Date.UTC(2030, 0, 1), room: null });
    const room = await t.start();
    await t.put(room, [{ t: { r: { c: 1 } } }, {}]);
    await until(async () => (await t.listed()).length === 1);
    expect(t.sent.length).toBe(2);
    expect(t.sent[1].v).toBe(Date.UTC(2030, 0, 1) + 1);
  });
});
