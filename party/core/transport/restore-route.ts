// `POST {room}/restore`: the store becomes its content as of a log position again (log/time-travel.ts;
// `GET {storePath}?at=` reads it, in routes.ts). A restore is a replacing PUT of the content
// at `at`: one `$replace` event, through the hooks and the validation webhook, broadcast to every
// client kind as a replacing PUT is; bad input is refused before anything changes.
import { etagOf, RESTORE_PATH, type RestoreResult } from "../../protocol.ts";
import { RoomError } from "../common/errors.ts";
import { storeAtPosition, type TimeTravelPort } from "../log/time-travel.ts";
import { jsonResponse, readBody, readIfMatch } from "../room/http.ts";
import type { PutResult, RoomContext } from "../room/types.ts";
import { parseJson, type Content } from "../store/changes.ts";
import type { Resource } from "./routes.ts";

const EMPTY_CONTENT: Content = [{}, {}];

/** The position a restore body names: `{"at": <seq>}`. */
const parseRestoreBody = (body: unknown): number => {
  const at = (body as { at?: unknown } | null)?.at;
  if (typeof body !== "object" || body === null || Array.isArray(body) || typeof at !== "number" || !Number.isSafeInteger(at) || at < 0) {
    throw new RoomError("bad_request", 'A restore takes {"at": <seq>}, a log position from 0 to the head.');
  }
  return at;
};

/** What a restore uses of the room: a read at a position, and a replacing PUT (`"*"`: whatever the store's seq). */
export interface RestorePort extends TimeTravelPort {
  readonly options: Pick<RoomContext, "config">;
  putStore(content: Content, origin: unknown, ifMatch?: number | "*"): Promise<PutResult>;
}

/** `POST {room}/restore`: `200 {"seq","restoredFrom"}`; `If-Match` makes it conditional on the store's seq. */
export const restoreResource = (core: RestorePort): [string, Resource] => [
  RESTORE_PATH,
  {
    POST: async (request, headers) => {
      const ifMatch = readIfMatch(request);
      const at = parseRestoreBody(parseJson(await readBody(request, core.options.config.limits.maxBodyBytes)));
      // Refused before the replay where the room already knows the answer; the PUT's job decides.
      if (!core.model.hasStore) throw new RoomError("conflict", "This room has no store to restore.");
      if (ifMatch !== undefined && ifMatch !== core.log.storeSeq) throw new RoomError("precondition_failed", `The store is at seq ${core.log.storeSeq}, not ${ifMatch}.`);
      const { at: position, json } = await storeAtPosition(core, at);
      if (!core.model.hasStore) throw new RoomError("conflict", "This room has no store to restore.");
      const content = json === undefined ? EMPTY_CONTENT : (JSON.parse(json) as Content);
      const { seq } = await core.putStore(content, request, ifMatch ?? "*");
      headers.set("ETag", etagOf(seq));
      return jsonResponse(200, { seq, restoredFrom: position } satisfies RestoreResult, headers);
    },
  },
];
