// Durable Streams forks (PUT with `Stream-Forked-From`): a new stream that starts with a prefix of
// another. Nothing is copied: a fork keeps the ranges of its source chain's appends it inherits
// ((after, upTo] per log stream, capped at the fork offset), and the log never rewrites those
// events, so they stay readable even after the source is deleted. A sub-offset cuts into the
// append just after the fork offset: that prefix becomes the fork's first own append.
import { RoomError } from "../common/errors.ts";
import { readRange } from "../log/reads.ts";
import type { LogReader } from "../room/types.ts";
import { decoderOf, formatOffset } from "./read.ts";
import { encodePayload, mediaType, type Payload } from "./payload.ts";
import { EVENT_APPEND, logStreamOf, type ForkRequest, type InheritedRange, type StreamConfig, type StreamMeta } from "./model.ts";

export interface ForkPlan {
  contentType: string;
  ttlSeconds?: number;
  expiresAt?: string;
  inherited: InheritedRange[];
  /** The fork offset's seq: the fork's tail until it has appends of its own. */
  seq: number;
  offset: string;
  /** The part of the next source append a sub-offset keeps, appended first. */
  prefix?: Payload;
}

/** Every range a stream reads: what it inherited, then its own appends. */
const rangesOf = (name: string, meta: StreamMeta): InheritedRange[] => [
  ...(meta.inherited ?? []),
  { logStream: logStreamOf(name), after: meta.created, upTo: meta.tail },
];

/** Plans a fork of `source` (validated, read, nothing written). */
export const planFork = async (log: LogReader, fork: ForkRequest, source: StreamMeta, config: StreamConfig): Promise<ForkPlan> => {
  if (config.contentTypeGiven && mediaType(config.contentType) !== mediaType(source.contentType)) {
    throw new RoomError("conflict", `The source stream's content type is ${source.contentType}.`);
  }
  const subOffset = fork.subOffset ?? 0;
  if (subOffset > 0 && fork.offset === undefined) throw new RoomError("bad_request", "Stream-Fork-Sub-Offset needs Stream-Fork-Offset.");
  const seq = fork.seq ?? source.tail;
  if (seq > source.tail) throw new RoomError("bad_request", "The fork offset lies beyond the source stream's tail.");
  const ranges = rangesOf(fork.from, source);
  const plan: ForkPlan = {
    contentType: source.contentType,
    inherited: ranges.map((range) => ({ ...range, upTo: Math.min(range.upTo, seq) })).filter((range) => range.after < range.upTo),
    seq,
    offset: fork.offset ?? formatOffset(source.tail),
  };
  if (config.ttlSeconds !== undefined) plan.ttlSeconds = config.ttlSeconds;
  else if (config.expiresAt !== undefined) plan.expiresAt = config.expiresAt;
  else if (source.ttlSeconds !== undefined) plan.ttlSeconds = source.ttlSeconds;
  else if (source.expiresAt !== undefined) plan.expiresAt = source.expiresAt;
  if (subOffset > 0) plan.prefix = await prefixAfter(log, { ranges, seq, count: subOffset, contentType: source.contentType });
  return plan;
};

/** The first `count` messages (JSON) or bytes of the source's first append after `seq`. */
const prefixAfter = async (
  log: LogReader,
  { ranges, seq, count, contentType }: { ranges: InheritedRange[]; seq: number; count: number; contentType: string },
): Promise<Payload> => {
  for (const range of ranges) {
    const lower = Math.max(seq, range.after) + 1;
    if (lower > range.upTo) continue;
    const read = await readRange(log.storage, log.keys, { selection: { stream: range.logStream, types: [EVENT_APPEND] }, lower, upper: range.upTo, limit: 1 });
    const event = read.events[0];
    if (!event) continue;
    const messages = decoderOf(contentType)(event);
    if (count > messages.length) throw new RoomError("bad_request", "The fork sub-offset lies beyond the append after the fork offset.");
    if (!(messages instanceof Uint8Array)) return { json: messages.slice(0, count).map((text) => JSON.parse(text) as unknown) };
    return encodePayload(contentType, messages.subarray(0, count), true)!;
  }
  throw new RoomError("bad_request", "The fork sub-offset needs an append after the fork offset.");
};
