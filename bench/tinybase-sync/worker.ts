// Baseline for `npm run bench`: TinyBase's own Durable Object synchronizer server, unmodified
// (WsServerDurableObject), persisting with its Durable Object SQL storage persister in fragmented
// mode, as TinyBase recommends for production. Clients connect to any path; the path names the room.
import { createMergeableStore } from "tinybase";
import { createDurableObjectSqlStoragePersister } from "tinybase/persisters/persister-durable-object-sql-storage";
import { getWsServerDurableObjectFetch, WsServerDurableObject } from "tinybase/synchronizers/synchronizer-ws-server-durable-object";

export class TinyBaseSync extends WsServerDurableObject {
  override createPersister() {
    return createDurableObjectSqlStoragePersister(createMergeableStore(), this.ctx.storage.sql, { mode: "fragmented" });
  }
}

export default { fetch: getWsServerDurableObjectFetch("TinyBaseSync") };
