// The stats body, `GET {room}/stats`.

/** `GET {room}/stats` (core/room/stats.ts says where each figure comes from). */
export interface RoomStats {
  room: string;
  head: number;
  first: number;
  events: number;
  tables: number;
  rows: number;
  cells: number;
  values: number;
  connections: number;
  subscriptions: number;
  sseReaders: number;
  /** ISO time of the room's first write; null for a room that has none (or wrote before stats existed). */
  created: string | null;
  lastWrite: string | null;
  webhook?: WebhookStatus;
}

/** The delivery webhook's progress, in the stats of a room that has one. */
export interface WebhookStatus {
  /** Last seq settled (delivered or filtered out). */
  cursor: number;
  /** Events after the cursor, before filters. */
  pending: number;
  /** The failure of the last attempt while the receiver keeps failing; null once a delivery succeeds. */
  lastError: DeliveryError | null;
}

export interface DeliveryError {
  message: string;
  /** When the last attempt failed, and when the failures began (ISO times). */
  at: string;
  since: string;
  attempts: number;
}
