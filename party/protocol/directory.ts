// The party's directory of rooms: `GET /parties/<party>` and its listing.

/** `GET /parties/<party>` lists the party's rooms, at most this many per page unless `?limit=` says fewer. */
export const DEFAULT_LIST_LIMIT = 100;
/** Largest `?limit=` of a room listing. */
export const MAX_LIST_LIMIT = 1_000;

/** One room of a listing: what the room last reported of itself (its stats' figures of the same names). */
export interface ListedRoom {
  name: string;
  head: number;
  cells: number;
  events: number;
  created: string | null;
  lastWrite: string | null;
}

/** `GET /parties/<party>`: rooms in name order; `next` is the `after` of the next page, null on the last. */
export interface RoomListing {
  rooms: ListedRoom[];
  next: string | null;
}
