// The room directory under both dev servers: `GET /parties/main` lists the rooms written to
// (never one only read), pages, filters by prefix, needs the write token or a token signed for
// room `*`, drops a deleted room, and a room's report still lands when the server restarts in the
// middle of its reports. One server start per runtime, with auth on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../party/core/room/auth.ts";
import { cli } from "../support/cli-run.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";

const WRITE = "directory-writer";
const READ = "directory-reader";
const SECRET = "directory-secret";
const auth = { Authorization: `Bearer ${WRITE}` };

interface Listing {
  rooms: { name: string; head: number; cells: number; events: number; created: string | null; lastWrite: string | null }[];
  next: string | null;
}

describe.each(["wrangler", "partykit"] as const)("the room directory under %s dev", (kind) => {
  let server: RunningServer;
  // Names unique to this run, so that a listing by prefix sees only this file's rooms.
  const run = `d${Date.now().toString(36)}`;
  beforeAll(async () => {
    server = await startServer({ kind, vars: { AUTH_WRITE_TOKEN: WRITE, AUTH_READ_TOKEN: READ, AUTH_SECRET: SECRET } });
  }, 120_000);
  afterAll(async () => server?.stop());

  const room = (name: string) => `${server.origin}/parties/main/${encodeURIComponent(name)}`;
  const put = async (name: string, content: unknown) => {
    const response = await fetch(`${room(name)}/store`, { method: "PUT", headers: auth, body: JSON.stringify(content) });
    expect(response.status).toBeLessThan(300);
  };
  const list = async (query = "", headers: Record<string, string> = auth) => {
    const response = await fetch(`${server.origin}/parties/main${query}`, { headers });
    const body = await response.json();
    return { status: response.status, body: body as Listing & { error?: { code: string } } };
  };
  const names = async (prefix: string) => (await list(`?prefix=${encodeURIComponent(prefix)}`)).body.rooms.map((listed) => listed.name);
  const untilNames = (prefix: string, expected: string[]) =>
    waitFor(() => names(prefix), (seen) => JSON.stringify(seen) === JSON.stringify(expected), { what: `rooms ${expected.join(", ")}`, timeoutMs: 20_000 });

  it("lists the rooms written to, in name order with their figures, and never one only read", async () => {
    const written = [`${run}/b`, `${run}/a/1`, `${run}/é`];
    for (const name of written) await put(name, [{ pets: { fido: { legs: 4, name: "Fido" } } }, { open: true }]);
    await fetch(`${room(`${run}/read-only`)}/store`, { headers: auth });
    await fetch(`${room(`${run}/read-only`)}/stats`, { headers: auth });
    await fetch(`${room(`${run}/read-only`)}/events`, { headers: auth });
    await untilNames(`${run}/`, [`${run}/a/1`, `${run}/b`, `${run}/é`]);
    const { body } = await list(`?prefix=${encodeURIComponent(`${run}/b`)}`);
    expect(body).toEqual({ rooms: [{ name: `${run}/b`, head: 1, cells: 2, events: 1, created: expect.any(String), lastWrite: expect.any(String) }], next: null });
  });

  it("pages through the rooms with limit and next", async () => {
    const all = Array.from({ length: 5 }, (_, i) => `${run}-page-${i}`);
    await Promise.all(all.map((name) => put(name, [{ t: { r: { c: 1 } } }, {}])));
    await untilNames(`${run}-page-`, all);
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const query: string = `?prefix=${run}-page-&limit=2${after ? `&after=${encodeURIComponent(after)}` : ""}`;
      const { body } = await list(query);
      expect(body.rooms.length).toBeLessThanOrEqual(2);
      seen.push(...body.rooms.map((listed) => listed.name));
      after = body.next;
    } while (after !== null);
    expect(seen).toEqual(all);
    // The directory's own object is no room: no URL reaches it.
    const reached = await fetch(`${server.origin}/parties/main/%00directory/rooms`, { headers: auth });
    expect([reached.status, ((await reached.json()) as { error: { code: string } }).error.code]).toEqual([400, "bad_request"]);
    for (const query of ["?limit=0", "?limit=1001", "?limit=x", "?sort=name"]) {
      const { status, body } = await list(query);
      expect([query, status, body.error?.code]).toEqual([query, 400, "bad_request"]);
    }
  });

  it("needs the write token or a token signed for every room", async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    const statusWith = async (token?: string) => (await list("?limit=1", token ? { Authorization: `Bearer ${token}` } : {})).status;
    expect(await statusWith()).toBe(401);
    expect(await statusWith(READ)).toBe(403);
    expect(await statusWith(await signToken(SECRET, { room: `${run}/b`, role: "write", exp }))).toBe(403);
    expect(await statusWith(WRITE)).toBe(200);
    expect(await statusWith(await signToken(SECRET, { room: "*", role: "read", exp }))).toBe(200);
    const query = await fetch(`${server.origin}/parties/main?limit=1&token=${WRITE}`);
    expect(query.status).toBe(200);
  });

  it("lists them on the command line, every page, as NDJSON", async () => {
    const party = `${server.origin}/parties/main`;
    const run1 = await cli(["rooms", party, "--prefix", `${run}-page-`, "--token", WRITE]);
    expect([run1.code, run1.stderr]).toEqual([0, ""]);
    const lines = run1.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(lines.map((listed) => listed.name)).toEqual(Array.from({ length: 5 }, (_, i) => `${run}-page-${i}`));
    expect(lines[0]).toEqual({ name: `${run}-page-0`, head: 1, cells: 1, events: 1, created: expect.any(String), lastWrite: expect.any(String) });
    const refused = await cli(["rooms", party, "--token", READ]);
    expect([refused.code, refused.stdout, refused.stderr]).toEqual([1, "", expect.stringContaining("(forbidden)")]);
    const usage = await cli(["rooms", `${party}/some-room`]);
    expect(usage.code).toBe(2);
  });

  it("drops a deleted room", async () => {
    const name = `${run}-deleted`;
    await put(name, [{ t: { r: { c: 1 } } }, {}]);
    await untilNames(name, [name]);
    expect((await fetch(room(name), { method: "DELETE", headers: auth })).status).toBe(204);
    await untilNames(name, []);
  });

  it("lands a room's report when the server restarts in the middle of its reports", async () => {
    const names = Array.from({ length: 3 }, (_, i) => `${run}-restart-${i}`);
    for (const name of names) await put(name, [{ t: { r: { c: 1 } } }, {}]);
    await untilNames(`${run}-restart-`, names);
    // A second write each: its report waits out the interval between reports, and the restart comes first.
    for (const name of names) {
      const response = await fetch(`${room(name)}/store`, { method: "PATCH", headers: auth, body: JSON.stringify([{ t: { r: { d: 2 } } }, {}, 1]) });
      expect(response.status).toBe(200);
    }
    await server.restart();
    // wrangler dev keeps the rooms' alarms across its restarts, and the alarms send the reports.
    // partykit dev 0.0.115 does not (seen here: no alarm runs after a restart), so there a room's
    // report lands when the room next wakes: a read wakes it (and, as it adds nothing, lists nothing new).
    if (kind === "partykit") for (const name of names) await fetch(`${room(name)}/stats`, { headers: auth });
    const heads = await waitFor(
      async () => (await list(`?prefix=${run}-restart-`)).body.rooms.map((listed) => listed.head),
      (seen) => seen.length === 3 && seen.every((head) => head === 2),
      { what: "every room's second report listed after the restart", timeoutMs: 40_000 },
    );
    expect(heads).toEqual([2, 2, 2]);
  }, 120_000);
});
