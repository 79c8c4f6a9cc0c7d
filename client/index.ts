// roomstore's client: what an application imports, in the browser and in Node (22+, for its global
// WebSocket). Rooms over PartySocket, TinyBase store sync, event feeds, and HTTP/SSE readers.
export { connectRoom, MAX_PENDING_WRITES, RoomRejection, type Room, type RoomEvent, type RoomOptions } from "./room.ts";
export { CREDIT_WINDOW, type EventFeed, type EventSelectors, type FeedOptions } from "./event-feed.ts";
export type { RoomPresence } from "./presence.ts";
export type { PresencePeers, PresenceState } from "../party/protocol.ts";
export type { StoreLike, StoreSync, StoreSyncOptions } from "./store-sync.ts";
export { getSnapshot, putSnapshot, readEventPage, readEvents, restoreStore, roomUrl, RoomHttpError, type EventPage, type HttpOptions, type Snapshot } from "./http.ts";
export { listRooms, type ListRoomsOptions } from "./rooms.ts";
export type { ListedRoom, RoomListing } from "../party/protocol.ts";
export { tailEvents, type EventSourceConstructor, type Tail, type TailOptions } from "./sse-tail.ts";
export { TOKEN_REFRESH_MARGIN_MS, type TokenSource } from "./token.ts";
export type { EventInput, RestoreResult } from "../party/protocol.ts";
