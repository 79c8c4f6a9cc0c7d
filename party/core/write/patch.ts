// `PATCH {storePath}`: a server-side write of a TinyBase changeset `[tables, values, 1]`, where
// `null` deletes, as in `$changes` data (a real null is "\uFFFDnull", TinyBase's encoding). It is
// applied as a client's changeset, all or nothing: validation, the validation webhook, the hooks,
// one `$changes` event, a broadcast to every connection. With `If-Match: "<seq>"` it applies only
// while the store is still at that seq (412 otherwise). Answers `200 {"seq"}`.
import { changesFromLog, etagOf } from "../../protocol.ts";
import { countChanges, isPlainObject, parseChanges, parseJson, type Changes } from "../store/changes.ts";
import { fail } from "../common/errors.ts";
import { readBody, readIfMatch, respond } from "../room/http.ts";
import type { ApplyOptions, ChangesResult, LogReader, RoomContext } from "../room/types.ts";

/** A changeset in `$changes` data's encoding (null deletes), validated as client input. */
export const parseLoggedChanges = (thing: unknown, maxCells: number): Changes => {
  if (!Array.isArray(thing) || thing.length !== 3 || thing[2] !== 1 || !isPlainObject(thing[0]) || !isPlainObject(thing[1])) {
    fail("invalid_content", "A changeset must be a JSON array [tables, values, 1], with null for a deletion.");
  }
  const changes = parseChanges(changesFromLog(thing as Changes));
  if (countChanges(changes) > maxCells) fail("too_large", `A changeset may change at most ${maxCells} cells and values.`);
  return changes;
};

/** What a PATCH uses of the room: its limits, the store's seq, and the changeset write. */
export interface PatchPort {
  readonly options: Pick<RoomContext, "config">;
  readonly log: Pick<LogReader, "storeSeq">;
  applyChanges(changes: Changes, origin: unknown, options?: ApplyOptions): Promise<ChangesResult>;
}

export const patchStore = async (core: PatchPort, request: Request, headers: Headers): Promise<Response> => {
  const { limits } = core.options.config;
  const ifMatch = readIfMatch(request);
  const changes = parseLoggedChanges(parseJson(await readBody(request, limits.maxBodyBytes)), limits.maxCellsPerChange);
  const result = await core.applyChanges(changes, request, { allOrNothing: true, ifMatch });
  // Nothing to change is no event: the answer is the seq the store is at.
  const seq = result.seq ?? core.log.storeSeq;
  headers.set("ETag", etagOf(seq));
  return respond(200, JSON.stringify({ seq }), headers);
};
