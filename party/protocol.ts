// roomstore's wire protocol: the one place where routes, frame kinds, limits and error codes are
// spelled. Imported by the room (party/) and by the client library (client/), so the two sides
// cannot drift apart. Pure: no runtime imports.
//
// This entry is the protocol module that everything imports; its parts live in party/protocol/,
// one file a subject, and import only each other.
export * from "./protocol/routes.ts"; // a room's paths and names, and the path read in one place
export * from "./protocol/frames.ts"; // frame kinds, framing, a seq as text and as an ETag
export * from "./protocol/events.ts"; // the event log's stream, types, `$changes` encoding and SSE names
export * from "./protocol/messages.ts"; // roomstore's WebSocket messages and presence
export * from "./protocol/sync.ts"; // MergeableStore synchronizer clients
export * from "./protocol/admin.ts"; // export, import and delete of a whole room, time travel and restore
export * from "./protocol/stats.ts"; // the stats body
export * from "./protocol/directory.ts"; // the party's directory of rooms
export * from "./protocol/limits.ts"; // limits and defaults
export * from "./protocol/errors.ts"; // error codes and statuses, close codes
