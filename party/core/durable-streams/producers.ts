// Durable Streams' idempotent producers (PROTOCOL.md 5.2.1): fencing by epoch, gapless seqs per
// epoch, state bounded per stream. Pure: the store keeps the state in the stream's metadata.
import { RoomError } from "../common/errors.ts";

/** Producer state older than this is forgotten (the protocol suggests 7 days). */
export const PRODUCER_STATE_TTL_MS = 7 * 24 * 3_600_000;
/**
 * Producers remembered per stream: the least recently active is forgotten beyond this, so that
 * the metadata stays within one storage value (PartyKit's 128 KiB) whatever clients send.
 */
export const MAX_PRODUCERS_PER_STREAM = 100;

export interface ProducerState {
  epoch: number;
  seq: number;
  /** When it last appended, in ms. */
  at: number;
}

export interface ProducerTuple {
  id: string;
  epoch: number;
  seq: number;
}

/** The producers a stream remembers, by id. */
export type Producers = Record<string, ProducerState>;

/** Why a producer's request is refused, with the headers its answer carries. */
export class ProducerRefusal extends RoomError {
  readonly headers: Record<string, string>;
  constructor(code: "forbidden" | "conflict" | "bad_request", message: string, headers: Record<string, string>) {
    super(code, message);
    this.headers = headers;
  }
}

export type ProducerCheck = { status: "accepted"; state: ProducerState } | { status: "duplicate"; lastSeq: number };

/** The protocol's producer rules (PROTOCOL.md 5.2.1): fencing by epoch, gapless seqs per epoch. */
export const checkProducer = (producers: Producers, producer: ProducerTuple, now: number): ProducerCheck => {
  const state = producers[producer.id];
  const live = state && now - state.at <= PRODUCER_STATE_TTL_MS ? state : undefined;
  const accepted = { status: "accepted" as const, state: { epoch: producer.epoch, seq: producer.seq, at: now } };
  if (!live || producer.epoch > live.epoch) {
    if (producer.seq === 0) return accepted;
    if (!live) {
      throw new ProducerRefusal("conflict", "A new producer starts at seq 0.", { "Producer-Expected-Seq": "0", "Producer-Received-Seq": String(producer.seq) });
    }
    throw new ProducerRefusal("bad_request", "A new producer epoch starts at seq 0.", {});
  }
  if (producer.epoch < live.epoch) {
    throw new ProducerRefusal("forbidden", "A newer epoch of this producer has taken over.", { "Producer-Epoch": String(live.epoch) });
  }
  if (producer.seq <= live.seq) return { status: "duplicate", lastSeq: live.seq };
  if (producer.seq === live.seq + 1) return accepted;
  throw new ProducerRefusal("conflict", "A producer seq is missing before this one.", {
    "Producer-Expected-Seq": String(live.seq + 1),
    "Producer-Received-Seq": String(producer.seq),
  });
};

/** The producers with one updated, without expired states, the least recently active dropped beyond the cap. */
export const withProducer = (producers: Producers, id: string, state: ProducerState, now: number): Producers => {
  const entries = Object.entries(producers).filter(([other, kept]) => other !== id && now - kept.at <= PRODUCER_STATE_TTL_MS);
  entries.sort(([, a], [, b]) => b.at - a.at);
  return Object.fromEntries([[id, state], ...entries.slice(0, MAX_PRODUCERS_PER_STREAM - 1)]);
};
