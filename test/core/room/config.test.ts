import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../../party/core/index.ts";

describe("configuration from variables", () => {
  it.each([
    ["MAX_BODY_BYTES", "lots"],
    ["MAX_BODY_BYTES", "0"],
    ["MAX_BODY_BYTES", "1.5"],
    ["MAX_BODY_BYTES", ""],
    ["RETENTION_MAX_EVENTS", "10O"],
    ["RETENTION_MAX_AGE_SECONDS", "-5"],
    ["MAX_PAGE_LIMIT", "1e3"],
  ])("refuses to start a room whose %s is %j, naming the variable", (name, value) => {
    expect(() => resolveConfig({ [name]: value })).toThrow(new RegExp(`^${name} must be a whole number greater than 0`));
  });

  it("takes well-formed numbers, and the defaults for variables not set", () => {
    const config = resolveConfig({ MAX_BODY_BYTES: "1024", RETENTION_MAX_EVENTS: " 50 ", MAX_PAGE_LIMIT: 20 });
    expect(config.limits.maxBodyBytes).toBe(1024);
    expect(config.limits.maxPageLimit).toBe(20);
    expect(config.retention).toEqual({ maxEvents: 50 });
    expect(resolveConfig({}).limits.maxBodyBytes).toBe(16 * 1024 * 1024);
  });
});
