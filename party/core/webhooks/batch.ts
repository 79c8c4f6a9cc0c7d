// The pure parts of delivery: which events a batch holds, and how long to wait after a failure.
import type { EventText } from "../log/reads.ts";
import type { DeliveryConfig } from "../room/webhook-config.ts";

/** Most events in one delivery request. */
export const MAX_DELIVERY_EVENTS = 100;
/** Most bytes of event JSON in one delivery request; a larger single event goes alone. */
export const MAX_DELIVERY_BYTES = 512 * 1024;
/** Most events read from the log per batch, matching or not (filters may skip most of them). */
export const MAX_SCAN_EVENTS = 1_000;

export interface DeliveryBatch {
  /** The event texts to POST, in seq order (empty when the filters kept none). */
  events: string[];
  firstSeq?: number;
  lastSeq?: number;
  /** The last seq this batch settles: once it is delivered, the cursor moves here. */
  through: number;
}

type Filter = Pick<DeliveryConfig, "streams" | "types">;

const utf8 = new TextEncoder();

/** True when an event passes WEBHOOK_STREAMS and WEBHOOK_TYPES (both, where set). */
export const isDelivered = (filter: Filter, event: { stream: string; type: string }): boolean =>
  (filter.streams === undefined || filter.streams.includes(event.stream)) && (filter.types === undefined || filter.types.includes(event.type));

/**
 * The next batch from `read` (consecutive events after the cursor, in seq order): events that pass
 * the filters, at most `maxEvents` of them and `maxBytes` of JSON, though always at least one.
 * `through` never passes an event that matches and is not in the batch, so nothing is skipped.
 */
export const takeBatch = (
  read: EventText[],
  filter: Filter,
  cursor: number,
  { maxEvents = MAX_DELIVERY_EVENTS, maxBytes = MAX_DELIVERY_BYTES }: { maxEvents?: number; maxBytes?: number } = {},
): DeliveryBatch => {
  const batch: DeliveryBatch = { events: [], through: cursor };
  let bytes = 0;
  const filtered = filter.streams !== undefined || filter.types !== undefined;
  for (const { seq, json } of read) {
    if (filtered && !isDelivered(filter, JSON.parse(json) as { stream: string; type: string })) {
      batch.through = seq;
      continue;
    }
    const size = utf8.encode(json).byteLength;
    if (batch.events.length === maxEvents || (batch.events.length > 0 && bytes + size > maxBytes)) break;
    batch.events.push(json);
    bytes += size;
    batch.firstSeq ??= seq;
    batch.lastSeq = seq;
    batch.through = seq;
  }
  return batch;
};

/** The delivery request body: `{"room","events":[…]}`, the events as stored. */
export const deliveryBody = (room: string, events: string[]): string => `{"room":${JSON.stringify(room)},"events":[${events.join(",")}]}`;

/** Wait before retry number `attempt` (1, 2, …): `retryMs` doubling per attempt, capped at `retryMaxMs`. */
export const retryDelayMs = (attempt: number, retryMs: number, retryMaxMs: number): number =>
  Math.min(retryMaxMs, retryMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40));
