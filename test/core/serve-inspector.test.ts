// serveInspector's routing from the sources, where the page is not built in (the packed package's
// page is checked by test/e2e/package.test.ts): it answers only its own path, and only GET/HEAD.
import { describe, expect, it } from "vitest";
import { serveInspector } from "../../party/inspector.ts";

describe("serveInspector", () => {
  it("leaves every other path to the worker", () => {
    for (const url of ["http://x/", "http://x/inspector/", "http://x/parties/main/r1/store"]) {
      expect(serveInspector(new Request(url), { path: "/inspector" })).toBeUndefined();
    }
    expect(serveInspector(new Request("http://x/inspector"))).toBeUndefined();
  });

  it("answers its path with GET and HEAD only, and says when the page was not built in", async () => {
    const posted = serveInspector(new Request("http://x/", { method: "POST" }))!;
    expect([posted.status, posted.headers.get("Allow"), ((await posted.json()) as any).error.code]).toEqual([405, "GET, HEAD", "method_not_allowed"]);
    const unbuilt = serveInspector(new Request("http://x/"))!;
    expect([unbuilt.status, ((await unbuilt.json()) as any).error.message]).toEqual([404, expect.stringContaining("npm run build")]);
  });
});
