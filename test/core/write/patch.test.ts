// PATCH {storePath} with bad input: a clear 4xx, and nothing changed.
import { describe, expect, it } from "vitest";
import { createTestRoom } from "../support/harness.ts";

describe("PATCH with bad input", () => {
  it.each([
    ["not JSON", "{", {}, 400, "invalid_json"],
    ["not a changeset", { t: 1 }, {}, 400, "invalid_content"],
    ["a changeset without its 1", [{}, {}], {}, 400, "invalid_content"],
    ["a row that is not an object", [{ t: { r: "x" } }, {}, 1], {}, 400, "invalid_content"],
    ["too many cells", [{ t: { r: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`c${i}`, i])) } }, {}, 1], {}, 413, "too_large"],
    ["a body over maxBodyBytes", [{ t: { r: { c: "x".repeat(2_000) } } }, {}, 1], {}, 413, "too_large"],
    ["an If-Match that is not a seq", [{ t: { r: { c: 2 } } }, {}, 1], { "If-Match": "soon" }, 400, "bad_request"],
  ])("%s answers a 4xx error and changes nothing", async (_name, body, headers, status, code) => {
    const room = await createTestRoom({ config: { limits: { maxCellsPerChange: 10, maxBodyBytes: 1_000 } } });
    expect((await room.request("PUT", "/store", [{ t: { r: { c: 1 } } }, {}])).status).toBe(201);
    const before = [room.room.core.log.head];
    const response = await room.request("PATCH", "/store", body, headers as Record<string, string>);
    expect(response.status).toBe(status);
    expect((await response.json()).error.code).toBe(code);
    expect(room.room.core.log.head).toBe(before[0]);
    expect(await (await room.request("GET", "/store")).json()).toEqual([{ t: { r: { c: 1 } } }, {}]);
  });
});
