import { describe, expect, it } from "vitest";
import { createDirectory, parseListQuery, TOMBSTONE_MS } from "../../../party/core/directory/directory.ts";
import { createDirectoryHost } from "../../../party/core/directory/host.ts";
import { parseReport, type DirectoryReport } from "../../../party/core/directory/reports.ts";
import { resolveConfig } from "../../../party/core/index.ts";
import { createMemoryStorage } from "../../../party/core/storage/room-storage.ts";

const figures = (head: number) => ({ head, cells: head * 2, events: head, created: "2026-01-01T00:00:00.000Z", lastWrite: "2026-01-02T00:00:00.000Z" });
const report = (name: string, v: number, head: number | null): DirectoryReport => ({ name, v, room: head === null ? null : figures(head) });

const newDirectory = (now = () => 1_000) => {
  const storage = createMemoryStorage();
  return { storage, directory: createDirectory({ storage, now }) };
};

const names = async (directory: ReturnType<typeof createDirectory>, query: Partial<Parameters<typeof parseListQuery>[0]> | string = "") =>
  (await directory.list(parseListQuery(new URLSearchParams(typeof query === "string" ? query : "")))).rooms.map((room) => room.name);

describe("the directory of rooms", () => {
  it("lists reported rooms in name order, with their figures", async () => {
    const { directory } = newDirectory();
    for (const name of ["b", "a/b", "é", "a", "B"]) await directory.report(report(name, 1, 3));
    expect(await names(directory)).toEqual(["B", "a", "a/b", "b", "é"]);
    const { rooms, next } = await directory.list(parseListQuery(new URLSearchParams("prefix=a/")));
    expect(rooms).toEqual([{ name: "a/b", ...figures(3) }]);
    expect(next).toBeNull();
    // Names are kept in NFC; a prefix written decomposed (e + combining acute) finds them too.
    expect(await names(directory, "prefix=e%CC%81")).toEqual(["é"]);
  });

  it("pages with after and limit, next naming the last room of a full page", async () => {
    const { directory } = newDirectory();
    const all = Array.from({ length: 7 }, (_, i) => `room-${i}`);
    await Promise.all(all.map((name) => directory.report(report(name, 1, 1))));
    const seen: string[] = [];
    let after: string | null = "";
    let pages = 0;
    while (after !== null) {
      const page = await directory.list(parseListQuery(new URLSearchParams(after ? { limit: "3", after } : { limit: "3" })));
      seen.push(...page.rooms.map((room) => room.name));
      after = page.next;
      pages++;
    }
    expect(seen).toEqual(all);
    expect(pages).toBe(3);
    // A page that ends exactly at the last room says so.
    expect((await directory.list(parseListQuery(new URLSearchParams("limit=7")))).next).toBeNull();
    expect(await names(directory, "prefix=room-&after=room-5")).toEqual(["room-6"]);
    expect(await names(directory, "prefix=room-5&after=room-")).toEqual(["room-5"]);
    expect(await names(directory, "prefix=zzz")).toEqual([]);
  });

  it("applies a report only when its version is higher: a retried or overtaken one changes nothing", async () => {
    const { directory } = newDirectory();
    expect(await directory.report(report("r", 10, 5))).toEqual({ applied: true, v: 10 });
    expect(await directory.report(report("r", 10, 5))).toEqual({ applied: false, v: 10 });
    expect(await directory.report(report("r", 9, 99))).toEqual({ applied: false, v: 10 });
    expect((await directory.list(parseListQuery(new URLSearchParams()))).rooms[0].head).toBe(5);
    expect(await directory.report(report("r", 11, 6))).toEqual({ applied: true, v: 11 });
    expect((await directory.list(parseListQuery(new URLSearchParams()))).rooms[0].head).toBe(6);
  });

  it("removes a deleted room, and a report older than its removal does not list it again", async () => {
    const { directory } = newDirectory();
    await directory.report(report("gone", 1, 4));
    await directory.report(report("kept", 1, 4));
    expect(await directory.report(report("gone", 3, null))).toEqual({ applied: true, v: 3 });
    expect(await directory.report(report("gone", 2, 4))).toEqual({ applied: false, v: 3 });
    expect(await names(directory)).toEqual(["kept"]);
    await directory.report(report("gone", 4, 1));
    expect(await names(directory)).toEqual(["gone", "kept"]);
  });

  it("applies reports that arrive together in order, in one storage write", async () => {
    const { storage, directory } = newDirectory();
    let writes = 0;
    const write = storage.write;
    storage.write = (puts, deletes) => (writes++, write(puts, deletes));
    const answers = await Promise.all([report("a", 1, 1), report("a", 3, 3), report("a", 2, 2), report("b", 1, null)].map((r) => directory.report(r)));
    expect(answers.map((answer) => answer.applied)).toEqual([true, true, false, true]);
    expect((await directory.list(parseListQuery(new URLSearchParams()))).rooms).toEqual([{ name: "a", ...figures(3) }]);
    expect(writes).toBeLessThanOrEqual(2);
  });

  it("fails every report of a group whose write fails, and applies them when they come again", async () => {
    const { storage, directory } = newDirectory();
    const write = storage.write;
    storage.write = () => Promise.reject(new Error("disk full"));
    await expect(directory.report(report("a", 1, 1))).rejects.toThrow("disk full");
    storage.write = write;
    expect(await names(directory)).toEqual([]);
    expect(await directory.report(report("a", 1, 1))).toEqual({ applied: true, v: 1 });
  });

  it("forgets tombstones once they are older than any report in flight can be", async () => {
    let now = 0;
    const { storage, directory } = newDirectory(() => now);
    await directory.report(report("old", 1, 1));
    await directory.report(report("old", 2, null));
    expect([...storage.entries.keys()]).toEqual(["told"]);
    now = TOMBSTONE_MS + 1;
    await directory.report(report("other", 1, 1));
    expect([...storage.entries.keys()]).toEqual(["rother"]);
  });

  it.each([
    ["limit=0"],
    ["limit=1001"],
    ["limit=-1"],
    ["limit=1.5"],
    ["limit=ten"],
    ["limit="],
    ["after="],
    ["limit=1&limit=2"],
    ["cursor=x"],
    [`prefix=${"x".repeat(257)}`],
  ])("refuses the query %s with a 400", (query) => {
    expect(() => parseListQuery(new URLSearchParams(query))).toThrow(expect.objectContaining({ code: "bad_request" }));
  });

  it("takes the default and the largest limit", () => {
    expect(parseListQuery(new URLSearchParams()).limit).toBe(100);
    expect(parseListQuery(new URLSearchParams("limit=1000")).limit).toBe(1000);
  });

  it.each([
    [null],
    [[]],
    [{ name: "", v: 1, room: null }],
    [{ name: "a", v: -1, room: null }],
    [{ name: "a", v: 1.5, room: null }],
    [{ name: "a", v: 1, room: { head: "1", cells: 0, events: 0, created: null, lastWrite: null } }],
    [{ name: "a", v: 1 }],
  ])("refuses the malformed report %j", (json) => {
    expect(() => parseReport(json)).toThrow(expect.objectContaining({ code: "bad_request" }));
  });

  it("answers reports and listings over HTTP, and refuses what it does not serve", async () => {
    const host = createDirectoryHost({ storage: createMemoryStorage(), config: resolveConfig({}) });
    const post = (body: string) => host.handleRequest(new Request("http://d/parties/main/%00directory/report", { method: "POST", body }));
    expect(await (await post(JSON.stringify(report("a", 1, 2)))).json()).toEqual({ applied: true, v: 1 });
    expect((await post("{")).status).toBe(400);
    expect((await post(JSON.stringify({ name: "a" }))).status).toBe(400);
    const listing = await host.handleRequest(new Request("http://d/parties/main/%00directory/rooms?limit=5"));
    expect(await listing.json()).toEqual({ rooms: [{ name: "a", ...figures(2) }], next: null });
    expect((await host.handleRequest(new Request("http://d/x/rooms?limit=0"))).status).toBe(400);
    expect((await host.handleRequest(new Request("http://d/x/rooms", { method: "DELETE" }))).status).toBe(405);
    expect((await host.handleRequest(new Request("http://d/x/other"))).status).toBe(404);
  });
});
