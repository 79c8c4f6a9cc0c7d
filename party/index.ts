// The package's main entry, `roomstore`: what a Worker imports to serve rooms, and everything a
// subclass of `Room` needs to name in its types. The repository's own worker (../worker.ts)
// imports from here by the package name, as a user's worker does.
export { default, LiveRoom, Room, routeRoomRequest, type Env } from "./worker.ts";
export { gate } from "./gate.ts";
export { serveInspector, type InspectorOptions } from "./inspector.ts";
export { signToken, type Role, type TokenClaims } from "./core/room/auth.ts";
export type { Room as RoomApi, RoomConnection, RoomCore } from "./core/index.ts";
export type { RoomHooks } from "./core/room/hooks.ts";
export type { RoomConfig, RoomConfigInput, RoomLimits } from "./core/room/config.ts";
export type { Cell, ChangedRow, ChangedTable, ChangedTables, ChangedValues, Changes, Content, Deleted, Row, Table, Tables, Values } from "./core/store/changes.ts";
export { DELETED, type ErrorCode, type EventInput, type PresenceState, type RoomEvent } from "./protocol.ts";
