// The routes that act on a whole room: `GET {room}/export`, `POST {room}/import`, `DELETE {room}`.
// Handed to the request table (transport/routes.ts) by the room (index.ts), which rebuilds itself from
// storage after an import or a delete (`reload`).
import { EXPORT_PATH, IMPORT_PATH, NDJSON_TYPE } from "../../protocol.ts";
import { deleteRoom } from "./delete.ts";
import { exportStream, importRoom } from "./export-import.ts";
import { respond } from "../room/http.ts";
import type { RoomConnection } from "../room/types.ts";
import type { AdminPort } from "./export-import.ts";
import type { Resource } from "../transport/routes.ts";

export interface RoomAdminContext {
  connections: () => Iterable<RoomConnection>;
  reload: () => Promise<void>;
}

export const roomAdminResources = (core: AdminPort, context: RoomAdminContext): [string, Resource][] => [
  [
    EXPORT_PATH,
    {
      GET: async (_request, headers) => {
        headers.set("Content-Type", NDJSON_TYPE);
        headers.set("Cache-Control", "no-store");
        return new Response(await exportStream(core), { status: 200, headers });
      },
    },
  ],
  [
    IMPORT_PATH,
    {
      POST: async (request, headers) => {
        const { status, result } = await importRoom(core, request.body, request, context.reload);
        return respond(status, JSON.stringify(result), headers);
      },
    },
  ],
  [
    "/",
    {
      DELETE: async (_request, headers) => {
        await deleteRoom(core, context);
        return respond(204, null, headers);
      },
    },
  ],
];
