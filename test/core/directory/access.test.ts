// The listing's admission at the edge: origin, preflight, method, and who may list.
import { describe, expect, it } from "vitest";
import { admitListing, listedParty } from "../../../party/core/directory/access.ts";
import { signToken } from "../../../party/core/room/auth.ts";

const ENV = { AUTH_WRITE_TOKEN: "writer", AUTH_READ_TOKEN: "reader", AUTH_SECRET: "secret", ALLOWED_ORIGINS: "https://app.example" };
const directoryUrl = (resource: string) => `https://directory.invalid/${resource}`;
const admit = (init: RequestInit & { url?: string } = {}, env: Record<string, unknown> = ENV) =>
  admitListing(new Request(init.url ?? "https://host/parties/main?prefix=a", init), env, directoryUrl);
const statusOf = async (admitted: Request | Response) => (admitted instanceof Response ? admitted.status : "admitted");

describe("the listing's admission", () => {
  it("takes /parties/<party> and nothing else", () => {
    expect(listedParty("/parties/main")).toBe("main");
    expect(listedParty("/parties/main/")).toBeUndefined();
    expect(listedParty("/parties/main/room")).toBeUndefined();
    expect(listedParty("/parties")).toBeUndefined();
  });

  it("admits the write token and tokens signed for room *, of either role", async () => {
    const exp = Math.floor(Date.now() / 1000) + 60;
    const cases: [string | undefined, number | string][] = [
      [undefined, 401],
      ["reader", 403],
      ["nobody", 403],
      [await signToken("secret", { room: "a", role: "write", exp }), 403],
      [await signToken("secret", { room: "*", role: "read", exp: Math.floor(Date.now() / 1000) - 1 }), 401],
      ["writer", "admitted"],
      [await signToken("secret", { room: "*", role: "read", exp }), "admitted"],
      [await signToken("secret", { room: "*", role: "write", exp }), "admitted"],
    ];
    for (const [token, expected] of cases) {
      expect([token, await statusOf(await admit({ headers: token ? { Authorization: `Bearer ${token}` } : {} }))]).toEqual([token, expected]);
    }
    expect(await statusOf(await admit({}, {}))).toBe("admitted");
  });

  it("sends the query on to the directory's rooms, without the token", async () => {
    const admitted = await admit({ url: "https://host/parties/main?prefix=a&token=writer&limit=5" });
    expect(admitted).toBeInstanceOf(Request);
    expect((admitted as Request).url).toBe("https://directory.invalid/rooms?prefix=a&limit=5");
    expect((admitted as Request).headers.get("Authorization")).toBeNull();
  });

  it("answers preflights, and refuses other origins and methods", async () => {
    const preflight = await admit({ method: "OPTIONS", headers: { Origin: "https://app.example", "Access-Control-Request-Headers": "authorization" } });
    expect(await statusOf(preflight)).toBe(204);
    expect(await statusOf(await admit({ headers: { Origin: "https://evil.example", Authorization: "Bearer writer" } }))).toBe(403);
    const post = (await admit({ method: "POST", body: "x", headers: { Authorization: "Bearer writer" } })) as Response;
    expect([post.status, ((await post.json()) as { error: { code: string } }).error.code]).toEqual([405, "method_not_allowed"]);
  });
});
