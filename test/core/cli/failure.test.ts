// The one line the command line prints for a failure (cli/http.ts describeFailure): a CLI user is
// told about --token and ROOMSTORE_TOKEN, not the HTTP header the room's own 401 names.
import { describe, expect, it } from "vitest";
import { RoomHttpError } from "../../../client/http.ts";
import { describeFailure } from "../../../cli/http.ts";

const NEEDS_TOKEN = { error: { code: "unauthorized", message: "This room needs a token: Authorization: Bearer <token>, or ?token=." } } as const;

describe("describeFailure", () => {
  const cases: [string, unknown, boolean, string][] = [
    ["a 401 with no token given", new RoomHttpError(401, NEEDS_TOKEN), false, "401: This room needs a token: give --token T, or set ROOMSTORE_TOKEN. (unauthorized)"],
    [
      "a 401 for a token given: the room's reason",
      new RoomHttpError(401, { error: { code: "unauthorized", message: "This token expired; ask for a new one." } }),
      true,
      "401: This token expired; ask for a new one. (unauthorized)",
    ],
    [
      "a refusal",
      new RoomHttpError(409, { error: { code: "conflict", message: "This room has data." } }),
      false,
      "409: This room has data. (conflict)",
    ],
    ["an unreachable room", new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } }), false, "cannot reach the room: ECONNREFUSED"],
  ];
  it.each(cases)("describes %s", (_name, error, token, line) => {
    expect(describeFailure(error, { token })).toBe(line);
  });
});
