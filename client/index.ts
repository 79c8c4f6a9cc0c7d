// roomstore's client: rooms by name in the browser and Node. See README, "Client library".
export { connectRoom, RoomRejection, type EventDraft, type RoomClient, type RoomEvent, type RoomOptions } from "./room.ts";
export { CREDIT_WINDOW, type EventFeed, type EventSelectors } from "./subscription.ts";
export { syncStore, type StoreSync } from "./store-sync.ts";
export { getSnapshot, putSnapshot, readEvents, roomUrl, tailEvents, type HttpOptions, type Snapshot } from "./http.ts";
