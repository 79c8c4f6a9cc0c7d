// `GET {room}/stats`: what a room holds and who is reading it, from counters kept in memory as
// writes commit and readers come and go. Reading stats never scans the log or the store and never
// writes: a room that does not exist answers zeros and creates nothing.
//
// Where each figure comes from:
// - head, first: the log's meta; events = head - first + 1 (retention trims only from the oldest end,
//   and seqs have no holes, so that is the count of events kept);
// - tables, rows, cells, values: the store model's counts, kept as cells change;
// - created, lastWrite: ISO times in the meta, stamped by `stampWrite` when a group of writes that
//   appended events is sealed, so they survive restarts with the rest of the meta; an import sets
//   them to the ts of its first and last event (admin/export-import.ts);
// - connections, subscriptions: the room's own sets; sseReaders: `countReaders` below;
// - webhook: the delivery webhook's status, when the room has one (a provider).
import type { RoomStats, WebhookStatus } from "../../protocol.ts";
import type { Batch } from "../storage/commit-queue.ts";
import type { LogReader, Meta, RoomContext } from "./types.ts";
import type { StoreModel } from "../store/model.ts";

export type WebhookStatusProvider = () => WebhookStatus | undefined | Promise<WebhookStatus | undefined>;

export interface StatsSources {
  /** What the figures are read from: the room's name, its log and its store model. */
  core: {
    readonly options: Pick<RoomContext, "name">;
    readonly log: LogReader;
    readonly model: Pick<StoreModel, "counts" | "cellCount">;
  };
  connections: () => number;
  subscriptions: () => number;
  sseReaders: () => number;
  webhook?: WebhookStatusProvider;
}

export const readStats = async ({ core, connections, subscriptions, sseReaders, webhook }: StatsSources): Promise<RoomStats> => {
  const { log: meta, model } = core;
  const stats: RoomStats = {
    room: core.options.name,
    head: meta.head,
    first: meta.first,
    events: meta.head >= meta.first ? meta.head - meta.first + 1 : 0,
    ...model.counts,
    cells: model.cellCount,
    connections: connections(),
    subscriptions: subscriptions(),
    sseReaders: sseReaders(),
    created: meta.createdAt ?? null,
    lastWrite: meta.lastWrite ?? null,
  };
  const status = await webhook?.();
  return status ? { ...stats, webhook: status } : stats;
};

/**
 * Called as a group of writes is sealed, after its new head is set: when it appended events, the
 * group's time becomes `lastWrite` (and `createdAt`, the first time). The seal puts the meta in the
 * same atomic write and restores it if that write fails.
 */
export const stampWrite = (batch: Pick<Batch, "onUndo">, meta: Meta, previousHead: number, nowMs: number): void => {
  if (meta.head === previousHead) return;
  const { createdAt, lastWrite } = meta;
  meta.lastWrite = new Date(nowMs).toISOString();
  meta.createdAt ??= meta.lastWrite;
  batch.onUndo(() => Object.assign(meta, { createdAt, lastWrite }));
};

/**
 * Counts the readers of streamed responses (SSE): the count goes up when the response is made and
 * down once when its body ends, errors, or its reader goes away. The body is passed through a
 * pull-based stream (no queue of its own), so the reader's backpressure reaches the feed unchanged.
 */
export const countReaders = () => {
  let open = 0;
  /** Ends each open reader's stream: its room was rebuilt (an import, a DELETE) and it reads no more. */
  const closers = new Set<() => void>();
  return {
    get size() {
      return open;
    },
    endAll() {
      for (const close of [...closers]) close();
    },
    track(response: Response): Response {
      if (!response.body) return response;
      const reader = response.body.getReader();
      let ended = false;
      let close = () => {};
      const end = () => {
        if (!ended) open--;
        ended = true;
        closers.delete(close);
      };
      open++;
      const body = new ReadableStream<Uint8Array>(
        {
          start(controller) {
            close = () => {
              end();
              void reader.cancel().catch(() => {});
              controller.close();
            };
            closers.add(close);
          },
          async pull(controller) {
            try {
              const { done, value } = await reader.read();
              if (done) {
                end();
                controller.close();
              } else controller.enqueue(value);
            } catch (error) {
              end();
              controller.error(error);
            }
          },
          cancel(reason) {
            end();
            return reader.cancel(reason);
          },
        },
        { highWaterMark: 0 },
      );
      return new Response(body, response);
    },
  };
};

export type ReaderCount = ReturnType<typeof countReaders>;
