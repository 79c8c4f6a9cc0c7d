// PATCH and both webhooks under `partykit dev`, with real Node receivers on 127.0.0.1: as far as
// its runtime goes (see docs/webhooks.md, "Under partykit dev").
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoomHttp, expectError } from "../support/room-http.ts";
import { startServer, type RunningServer } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";
import { expectCorrectedAfterRefusal, startReceiver, verifyRoomstoreSignature, type Receiver } from "../support/webhook-receiver.ts";

const SECRET = "e2e-partykit-secret";
const run = Date.now().toString(36);

describe("PATCH and webhooks under partykit dev", () => {
  let validator: Receiver;
  let receiver: Receiver;
  let server: RunningServer;

  beforeAll(async () => {
    // Refuses every write but a store's first PUT in rooms named "reject-…".
    validator = await startReceiver(({ json }) =>
      String(json?.room).startsWith("reject-") && json?.kind !== "put" ? { body: { accept: false, reason: "read-only room" } } : { body: { accept: true } },
    );
    receiver = await startReceiver();
    server = await startServer({
      kind: "partykit",
      vars: { VALIDATE_URL: `${validator.origin}/validate`, WEBHOOK_URL: `${receiver.origin}/deliver`, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_MS: "200" },
    });
  });
  afterAll(async () => {
    await server?.stop();
    await Promise.all([validator?.close(), receiver?.close()]);
  });

  const patch = (room: ReturnType<typeof createRoomHttp>, changes: unknown, headers: Record<string, string> = {}) =>
    room.request("/store", { method: "PATCH", body: JSON.stringify(changes), headers });

  it("applies PATCH with If-Match, asks the validation service, and delivers every event signed and in order", async () => {
    const name = `patch-${run}`;
    const room = createRoomHttp(server.origin, name);
    expect((await room.putStore([{ t: { r: { a: 1 } } }, {}])).status).toBe(201);
    expect((await patch(room, [{ t: { r: { a: 2, b: 3 } } }, {}, 1], { "If-Match": '"1"' })).body).toEqual({ seq: 2 });
    expectError(await patch(room, [{ t: { r: { a: 4 } } }, {}, 1], { "If-Match": '"1"' }), 412, "precondition_failed");
    expect((await patch(room, [{ t: { r: { b: null } } }, {}, 1])).body).toEqual({ seq: 3 });
    await room.appendOk([{ type: "placed" }, { type: "paid" }]);
    expect((await room.getStore()).body).toEqual([{ t: { r: { a: 2 } } }, {}]);
    expect(validator.requests.filter((request) => request.json.room === name).map((request) => request.json.kind)).toEqual(["put", "patch", "patch", "append"]);

    const expected = await room.allEvents();
    await waitFor(() => receiver.delivered(name).length, (count) => count >= expected.length, { what: "every delivery" });
    expect(receiver.delivered(name)).toEqual(expected);
    for (const request of receiver.deliveries(name)) {
      expect(verifyRoomstoreSignature(SECRET, request.headers["roomstore-signature"] as string, request.body)).toBe(true);
    }
  });

  it("refuses what the validation service refuses, and corrects a TinyBase client", async () => {
    const name = `reject-${run}`;
    const room = createRoomHttp(server.origin, name);
    expect((await room.putStore([{ t: { r: { c: "kept" } } }, {}])).status).toBe(201);
    expectError(await patch(room, [{ t: { r: { c: "no" } } }, {}, 1]), 403, "forbidden");
    await expectCorrectedAfterRefusal(server.host, name, validator, "kept");
    expect(await room.head()).toBe(1);
  });
});
