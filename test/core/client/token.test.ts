// The client library's tokens (client/token.ts), with no server: `exp` read from a signed token,
// when to refresh, and the refresh a room's socket sends before its token expires.
import { describe, expect, it } from "vitest";
import { signToken } from "../../../party/core/room/auth.ts";
import { createTokenRefresh, refreshDelayMs, TOKEN_REFRESH_MARGIN_MS, tokenExpiryMs } from "../../../client/token.ts";
import { waitFor } from "../../support/wait.ts";

describe("tokenExpiryMs", () => {
  it("reads exp from a signed token, whatever its room's characters, and nothing from other tokens", async () => {
    expect(tokenExpiryMs(await signToken("s", { room: "café ☕", role: "read", exp: 1_800_000_000.5 }))).toBe(1_800_000_000_500);
    for (const token of ["shared-secret", "a.b.c", "!!!.sig", `${btoa('{"exp":"soon"}')}.sig`]) expect(tokenExpiryMs(token)).toBeUndefined();
  });
});

describe("refreshDelayMs", () => {
  it.each([
    ["an hour out: the margin before it", 3_600_000, 3_600_000 - TOKEN_REFRESH_MARGIN_MS],
    ["four seconds out: half-way", 4_000, 2_000],
    ["already past: never", -1, undefined],
  ])("refreshes a token %s", (_name, left, delay) => {
    expect(refreshDelayMs(1_000_000 + left, 1_000_000)).toBe(delay);
  });
});

describe("createTokenRefresh", () => {
  const signedIn = (ms: number) => signToken("s", { room: "r", role: "write", exp: (Date.now() + ms) / 1000 });

  it("sends a fresh token before the one in use expires, and takes it on ok", async () => {
    const sent: { t: string; mid: string; token: string }[] = [];
    const issued = [await signedIn(400), await signedIn(60_000)];
    let calls = 0;
    const refresh = createTokenRefresh(async () => issued[Math.min(calls++, 1)], { send: (message) => void sent.push(message), isOpen: true });
    expect(await refresh.next()).toBe(issued[0]);
    refresh.opened();
    await waitFor(() => sent.length, (count) => count === 1, { timeoutMs: 2_000, what: "the auth frame" });
    expect(sent[0]).toMatchObject({ t: "auth", token: issued[1] });
    refresh.answer({ t: "ok", mid: sent[0].mid });
    refresh.stop();
    expect(calls).toBe(2);
  });

  it("sends nothing when the function gives a token that expires no later, or the token does not expire", async () => {
    const sent: unknown[] = [];
    const token = await signedIn(200);
    const same = createTokenRefresh(() => token, { send: (message) => void sent.push(message), isOpen: true });
    await same.next();
    same.opened();
    const shared = createTokenRefresh(() => "shared", { send: (message) => void sent.push(message), isOpen: true });
    await shared.next();
    shared.opened();
    await waitFor(() => Date.now(), (now) => now > tokenExpiryMs(token)! + 100, { what: "the token to expire" });
    expect(sent).toEqual([]);
  });
});
