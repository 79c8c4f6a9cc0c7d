// Retention: trims the oldest events, by count and/or age, off the request path (the adapters call
// `runRetention` from the Durable Object alarm). It never touches the store and never rewrites an
// event: it only deletes whole events from the oldest end, with their index and idempotency keys,
// then sweeps the audit entries older than the first kept seq. Each run does a bounded amount of
// work and says whether more is left, so the alarm comes back soon instead of blocking the room.
// It reads the log through the LogReader port and changes what the room retains only through
// `retain`, inside a commit group: the room's bookkeeping stays the room's.
import { advanceBase } from "./base.ts";
import { trimCheckpoints } from "./checkpoints.ts";
import type { Batch, Job } from "../storage/commit-queue.ts";
import type { RetentionPolicy } from "../room/config.ts";
import { MAX_STORED_CHARS, type RoomEvent } from "../storage/event-log.ts";
import { readRange } from "./reads.ts";
import type { LogReader } from "../room/types.ts";

/** What retention gets from the room. */
export interface RetentionPort {
  log: LogReader;
  /** Where the sweep of old audit entries goes on, while one is under way. */
  readonly auditCursor: string | undefined;
  run<T>(job: Job<T>): Promise<T>;
  /** Moves the first kept seq and the audit sweep's cursor, with its undo step and the meta key. */
  retain(batch: Batch, retained: { first?: number; auditCursor?: string | undefined }): void;
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
const firstToKeep = async ({ log }: RetentionPort, policy: RetentionPolicy, now: number): Promise<number> => {
  let first = log.first;
  if (policy.maxEvents !== undefined) first = Math.max(first, log.head - policy.maxEvents + 1);
  const byCount = Math.min(first, log.first + MAX_TRIM_EVENTS_PER_RUN);
  if (policy.maxAgeSeconds === undefined) return byCount;
  const oldestKept = now - policy.maxAgeSeconds * 1000;
  const read = await readRange(log.storage, log.keys, { selection: {}, lower: byCount, upper: log.head, limit: MAX_TRIM_EVENTS_PER_RUN - (byCount - log.first) });
  let byAge = byCount;
  for (const { seq, json } of read.events) {
    if (Date.parse((JSON.parse(json) as RoomEvent).ts) >= oldestKept) break;
    byAge = seq + 1;
  }
  return byAge;
};

/** Deletes events older than the policy allows; returns true when more work is left. */
const trimEvents = async (port: RetentionPort, policy: RetentionPolicy, now: number, held: number): Promise<boolean> => {
  const { keys, storage } = port.log;
  const previousFirst = port.log.first;
  const first = Math.min(await firstToKeep(port, policy, now), Math.max(held, previousFirst));
  if (first <= previousFirst) return false;
  const old = await readRange(storage, keys, { selection: {}, lower: previousFirst, upper: first - 1, limit: MAX_TRIM_EVENTS_PER_RUN });
  // The store as of first-1, for exports and ordered loads of a trimmed log (base.ts).
  const base = await advanceBase(storage, keys, { first: previousFirst, newFirst: first, trimmed: old.events });
  // Checkpoints before the new base start no read any more (log/checkpoints.ts).
  const checkpoints = await trimCheckpoints(storage, keys, first);
  return port.run((batch) => {
    base?.put(batch);
    checkpoints.put(batch);
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
    port.retain(batch, { first, auditCursor: keys.auditStart });
    // A full run's worth trimmed: there may be more.
    return first - previousFirst >= MAX_TRIM_EVENTS_PER_RUN || checkpoints.more;
  });
};

/** Deletes audit entries older than the first kept seq, from where the last sweep stopped. */
const sweepAudit = async (port: RetentionPort): Promise<boolean> => {
  const { keys, storage } = port.log;
  const { auditCursor } = port;
  if (auditCursor === undefined) return false;
  const listed = await storage.list({ start: auditCursor, end: keys.auditEnd, limit: MAX_AUDIT_KEYS_PER_RUN });
  const first = port.log.first;
  return port.run((batch) => {
    let cursor: string | undefined;
    for (const [key, value] of listed) {
      // A message id's entry holds its append's seqs: it goes when the last of them has gone.
      const seq = key.startsWith(keys.messageIds) ? Math.max(...(value as number[])) : keys.auditSeqOf(key);
      if (seq < first) batch.delete(key);
      cursor = key + "\0";
    }
    const next = listed.size === MAX_AUDIT_KEYS_PER_RUN ? cursor : undefined;
    port.retain(batch, { auditCursor: next });
    return next !== undefined;
  });
};

/**
 * One retention run; true when the alarm should come back for more. Events from seq `held` on are
 * kept whatever the policy says (the delivery webhook has not delivered them yet).
 */
export const runRetention = async (port: RetentionPort, policy: RetentionPolicy, now: number, held = Infinity): Promise<boolean> => {
  if (!hasRetention(policy)) return false;
  const moreEvents = await trimEvents(port, policy, now, held);
  const moreAudit = await sweepAudit(port);
  return moreEvents || moreAudit;
};
