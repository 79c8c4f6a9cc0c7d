// Appends application events to the log: from a request or socket (appendEvents), or inside
// another module's commit-group job, next to its own keys (putEvents: Durable Streams, imports).
// Postconditions:
// - The events, their id and message-id index entries are in one commit group, all or nothing;
//   the answer and the listeners' calls come after that write is durable.
// - An event whose id its stream already holds is not stored again: the answer holds it as first
//   stored. An append whose message id `mid` is stored is answered with its events again.
// - A stale If-Match (unless every event is a retry of a stored one), a refusal of the validation
//   webhook or a failed write leaves memory and storage as they were.
import type { Batch } from "../storage/commit-queue.ts";
import { RoomError } from "../common/errors.ts";
import { DEFAULT_STREAM, putEvent, type EventInput, type StoredEvent } from "../storage/event-log.ts";
import { readEventsBySeq } from "../log/reads.ts";
import { validateWrite } from "./validation-webhook.ts";
import { emitAfterCommit, eventContext, type WriteContext } from "./context.ts";

export const appendEvents = (ctx: WriteContext, inputs: EventInput[], ifMatch?: number, mid?: string): Promise<StoredEvent[]> => {
  const { keys, storage } = ctx;
  return ctx.queue.run(async (batch) => {
    const midKey = mid === undefined ? undefined : keys.messageId(mid);
    if (midKey !== undefined) {
      const seqs = (batch.pending(midKey) ?? (await storage.get([midKey])).get(midKey)) as number[] | undefined;
      if (seqs !== undefined) return [...(await readEvents(ctx, seqs, batch)).values()];
    }
    const withStream = inputs.map((input) => ({ ...input, stream: input.stream ?? DEFAULT_STREAM }));
    const idKeys = withStream.filter((input) => input.id !== undefined).map((input) => keys.eventId(input.stream, input.id!));
    const known = idKeys.length > 0 ? await storage.get(idKeys) : new Map<string, unknown>();
    for (const key of idKeys) if (batch.pending(key) !== undefined) known.set(key, batch.pending(key));
    const existingSeqs = [...new Set(known.values())] as number[];
    const existing = existingSeqs.length > 0 ? await readEvents(ctx, existingSeqs, batch) : new Map<number, StoredEvent>();
    const fresh = withStream.filter((input) => input.id === undefined || !known.has(keys.eventId(input.stream, input.id)));
    await validateWrite(ctx.options, "append", fresh, undefined);
    // From here on: synchronous, no await.
    // A retry of an append that was stored (every event's id known) answers as the first time did,
    // although its own append moved the head past If-Match.
    const retry = withStream.every((input) => input.id !== undefined && known.has(keys.eventId(input.stream, input.id)));
    if (ifMatch !== undefined && !retry && ifMatch !== batch.nextSeq - 1) {
      throw new RoomError("precondition_failed", `The log head is at seq ${batch.nextSeq - 1}, not ${ifMatch}.`);
    }
    const context = eventContext(ctx, batch);
    const appended: StoredEvent[] = [];
    const result: StoredEvent[] = [];
    const seenInCall = new Map<string, StoredEvent>();
    for (const input of withStream) {
      const idKey = input.id === undefined ? undefined : keys.eventId(input.stream, input.id);
      const duplicate = idKey === undefined ? undefined : seenInCall.get(idKey) ?? existing.get(known.get(idKey) as number);
      if (duplicate) {
        result.push(duplicate);
        continue;
      }
      const stored = putEvent(context, input);
      if (idKey) seenInCall.set(idKey, stored);
      appended.push(stored);
      result.push(stored);
    }
    batch.nextSeq = context.seq;
    if (appended.length > 0) emitAfterCommit(ctx, batch, appended);
    if (midKey !== undefined) batch.put(midKey, result.map(({ event }) => event.seq));
    return result;
  });
};

/** Puts events in a job's batch, next to the job's own keys; listeners hear them once it commits. */
export const putEvents = (ctx: WriteContext, batch: Batch, inputs: (EventInput & { stream: string })[]): StoredEvent[] => {
  const context = eventContext(ctx, batch);
  const stored = inputs.map((input) => putEvent(context, input));
  batch.nextSeq = context.seq;
  emitAfterCommit(ctx, batch, stored);
  return stored;
};

/** Reads stored events by seq, including ones put by earlier jobs of the same batch. */
const readEvents = async (ctx: WriteContext, seqs: number[], batch: Batch): Promise<Map<number, StoredEvent>> => {
  const found = new Map<number, StoredEvent>();
  const missing: number[] = [];
  for (const seq of seqs) {
    const pending = batch.pending(ctx.keys.events.at(seq));
    if (typeof pending === "string") found.set(seq, { event: JSON.parse(pending), json: pending });
    else missing.push(seq);
  }
  for (const { seq, json } of await readEventsBySeq(ctx.storage, ctx.keys, missing)) found.set(seq, { event: JSON.parse(json), json });
  return found;
};
