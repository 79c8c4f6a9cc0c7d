// Retention: trims the oldest events, by count and/or age, off the request path (the adapters call
// `runRetention` from the Durable Object alarm). It never touches the store and never rewrites an
// event: it only deletes whole events from the oldest end, with their index and idempotency keys,
// then sweeps the audit entries older than the first kept seq. Each run does a bounded amount of
// work and says whether more is left, so the alarm comes back soon instead of blocking the room.
import { MAX_STORED_CHARS, type RoomEvent } from "./event-log.ts";
import { readRange } from "./event-reads.ts";
import type { RoomCore } from "./room.ts";

export interface RetentionPolicy {
  /** Keep at most this many events. */
  maxEvents?: number;
  /** Keep events younger than this many seconds. */
  maxAgeSeconds?: number;
}

/** Most events deleted per run. */
export const MAX_TRIM_EVENTS_PER_RUN = 500;
/** Most audit keys examined per run. */
export const MAX_AUDIT_KEYS_PER_RUN = 2_000;
/** How soon the alarm comes back when a run left work. */
export const RETENTION_RETRY_MS = 1_000;
/** How long after an append retention runs. */
export const RETENTION_DELAY_MS = 30_000;

export const hasRetention = (policy: RetentionPolicy): boolean =>
  policy.maxEvents !== undefined || policy.maxAgeSeconds !== undefined;

/** The first seq to keep under the policy, looking at no more than one run's worth of events. */
const firstToKeep = async (core: RoomCore, policy: RetentionPolicy, now: number): Promise<number> => {
  const { meta } = core;
  let first = meta.first;
  if (policy.maxEvents !== undefined) first = Math.max(first, meta.head - policy.maxEvents + 1);
  const byCount = Math.min(first, meta.first + MAX_TRIM_EVENTS_PER_RUN);
  if (policy.maxAgeSeconds === undefined) return byCount;
  const oldestKept = now - policy.maxAgeSeconds * 1000;
  const read = await readRange(core.options.storage, core.keys, {}, byCount, meta.head, MAX_TRIM_EVENTS_PER_RUN - (byCount - meta.first));
  let byAge = byCount;
  for (const { seq, json } of read.events) {
    if (Date.parse((JSON.parse(json) as RoomEvent).ts) >= oldestKept) break;
    byAge = seq + 1;
  }
  return byAge;
};

/** Deletes events older than the policy allows; returns true when more work is left. */
const trimEvents = async (core: RoomCore, policy: RetentionPolicy, now: number, held: number): Promise<boolean> => {
  const { keys, options } = core;
  const first = Math.min(await firstToKeep(core, policy, now), Math.max(held, core.meta.first));
  if (first <= core.meta.first) return false;
  const old = await readRange(options.storage, keys, {}, core.meta.first, first - 1, MAX_TRIM_EVENTS_PER_RUN);
  return core.run((batch) => {
    for (const { seq, json } of old.events) {
      const event = JSON.parse(json) as RoomEvent;
      const head = keys.events.at(seq);
      batch.delete(head);
      const chunks = json.length > MAX_STORED_CHARS ? Math.ceil(json.length / MAX_STORED_CHARS) : 0;
      for (let i = 0; i < chunks; i++) batch.delete(keys.eventChunk(seq, i));
      batch.delete(keys.eventId(event.stream, event.id));
      batch.delete(keys.byStream(event.stream).at(seq));
      batch.delete(keys.byType(event.type).at(seq));
      batch.delete(keys.byStreamType(event.stream, event.type).at(seq));
    }
    const previous = { first: core.meta.first, auditCursor: core.meta.auditCursor };
    core.meta.first = first;
    core.meta.auditCursor = keys.auditStart;
    batch.onUndo(() => Object.assign(core.meta, previous));
    // A full run's worth trimmed: there may be more.
    return first - previous.first >= MAX_TRIM_EVENTS_PER_RUN;
  });
};

/** Deletes audit entries older than the first kept seq, from where the last sweep stopped. */
const sweepAudit = async (core: RoomCore): Promise<boolean> => {
  const { keys, options, meta } = core;
  if (meta.auditCursor === undefined) return false;
  const listed = await options.storage.list({ start: meta.auditCursor, end: keys.auditEnd, limit: MAX_AUDIT_KEYS_PER_RUN });
  const first = meta.first;
  return core.run((batch) => {
    let cursor: string | undefined;
    for (const key of listed.keys()) {
      if (keys.auditSeqOf(key) < first) batch.delete(key);
      cursor = key + "\0";
    }
    const previous = meta.auditCursor;
    meta.auditCursor = listed.size === MAX_AUDIT_KEYS_PER_RUN ? cursor : undefined;
    batch.onUndo(() => (meta.auditCursor = previous));
    batch.put(keys.meta, { ...meta });
    return meta.auditCursor !== undefined;
  });
};

/**
 * One retention run; true when the alarm should come back for more. Events from seq `held` on are
 * kept whatever the policy says (the delivery webhook has not delivered them yet).
 */
export const runRetention = async (core: RoomCore, policy: RetentionPolicy, now: number, held = Infinity): Promise<boolean> => {
  if (!hasRetention(policy)) return false;
  const moreEvents = await trimEvents(core, policy, now, held);
  const moreAudit = await sweepAudit(core);
  return moreEvents || moreAudit;
};
