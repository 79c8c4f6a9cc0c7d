// The delivery webhook: the log is the outbox. Committed events are POSTed to WEBHOOK_URL from the
// Durable Object alarm only, never on the write path: a commit merely asks for the alarm.
//
// Invariants:
// - A durable cursor (storage key P w, with the retry state) is the last seq settled: every event
//   up to it was delivered (2xx) or filtered out. It moves only after a 2xx, so delivery is at
//   least once, strictly in seq order, one request at a time, and resumes from storage after a
//   restart or an eviction (the alarm itself survives both).
// - While the receiver fails (non-2xx, no connection, WEBHOOK_TIMEOUT_MS passed) the same batch
//   is retried after WEBHOOK_RETRY_MS, doubling up to WEBHOOK_RETRY_MAX_MS; each failure is logged
//   and kept as `lastError` (webhookStatus) until a delivery succeeds.
// - Retention never trims past the cursor (the alarm hands `deliverFromAlarm`'s answer to
//   runRetention): undelivered events are held, never dropped.
import type { DeliveryError, WebhookStatus } from "../../protocol.ts";
import type { LogReader, RoomContext } from "../room/types.ts";
import { readRange } from "../log/reads.ts";
import { deliveryBody, MAX_SCAN_EVENTS, retryDelayMs, takeBatch } from "./batch.ts";
import { DELIVERY_HEADER, postSigned } from "./signature.ts";

/** Most batches one alarm run delivers before it hands the room back and asks for another run. */
const MAX_BATCHES_PER_RUN = 10;
/** Longest error text kept in the status and the logs. */
const MAX_ERROR_CHARS = 200;

/** What the room keeps in storage (key P w). */
interface DeliveryRecord {
  cursor: number;
  attempts: number;
  /** No attempt before this time (ms), while retrying. */
  retryAt?: number;
  lastError?: DeliveryError;
}

interface DeliveryState {
  record?: DeliveryRecord;
  /** The earliest alarm this instance has asked for and not yet seen fire. */
  requestedAt?: number;
}

/** What delivery uses of the room: its name, config, storage, clock, logger and alarm, and the log. */
export interface DeliveryPort {
  readonly options: Pick<RoomContext, "name" | "config" | "storage" | "now" | "logger" | "scheduleAlarm">;
  readonly log: LogReader;
}

/** Per room, by its log (one per build of the room, whoever passes the port). */
const states = new WeakMap<LogReader, DeliveryState>();
const stateOf = (room: DeliveryPort): DeliveryState => {
  let state = states.get(room.log);
  if (!state) states.set(room.log, (state = {}));
  return state;
};

const cursorKey = (room: DeliveryPort) => room.options.config.storagePrefix + "w";

const loadRecord = async (room: DeliveryPort): Promise<DeliveryRecord> => {
  const state = stateOf(room);
  if (!state.record) {
    const stored = (await room.options.storage.get([cursorKey(room)])).get(cursorKey(room)) as DeliveryRecord | undefined;
    state.record ??= stored ?? { cursor: 0, attempts: 0 };
  }
  return state.record;
};

/** Writes the record, and only once it is durable makes it the one the room reports and acts on. */
const saveRecord = async (room: DeliveryPort, record: DeliveryRecord): Promise<void> => {
  await room.options.storage.write(new Map([[cursorKey(room), { ...record }]]), []);
  stateOf(room).record = record;
};

/** Asks for the alarm at `at`, unless this instance already asked for one no later. */
const requestAlarm = (room: DeliveryPort, at: number): void => {
  const state = stateOf(room);
  if (!room.options.scheduleAlarm || (state.requestedAt !== undefined && state.requestedAt <= at)) return;
  state.requestedAt = at;
  void Promise.resolve(room.options.scheduleAlarm(at)).catch((error) => room.options.logger.error("roomstore: could not set the alarm", error));
};

/** The first seq not yet settled: where retention must stop. */
const keepFrom = (room: DeliveryPort, record: DeliveryRecord) => Math.max(record.cursor, room.log.first - 1) + 1;

/**
 * Starts delivery in a loaded room: every commit asks for the alarm (at once, or when the retry
 * is due), and a room that wakes with undelivered events asks for it now.
 */
export const startDelivery = async (room: DeliveryPort): Promise<void> => {
  if (!room.options.config.webhooks.delivery) return;
  const record = await loadRecord(room);
  const ask = () => requestAlarm(room, Math.max(room.options.now(), stateOf(room).record?.retryAt ?? 0));
  room.log.onEvents(ask);
  if (keepFrom(room, record) <= room.log.head) ask();
};

/** POSTs one batch; returns undefined on a 2xx, else what went wrong. */
const post = async (room: DeliveryPort, { url, timeoutMs, body, delivery }: { url: string; timeoutMs: number; body: string; delivery: string }): Promise<string | undefined> => {
  try {
    const options = { secret: room.options.config.webhooks.secret, nowMs: room.options.now(), timeoutMs, headers: { [DELIVERY_HEADER]: delivery } };
    const { status } = await postSigned(url, body, options);
    return status >= 200 && status <= 299 ? undefined : `the receiver answered HTTP ${status}`;
  } catch (error) {
    return `the receiver ${(error as Error).message}`.slice(0, MAX_ERROR_CHARS);
  }
};

/**
 * One delivery run, from the alarm: delivers batches after the cursor until the log is drained,
 * the receiver fails, or MAX_BATCHES_PER_RUN; asks for the alarm again for what is left. Returns
 * the first seq retention must keep (Infinity when no delivery webhook is configured).
 */
export const deliverFromAlarm = async (room: DeliveryPort): Promise<number> => {
  const settings = room.options.config.webhooks.delivery;
  if (!settings) return Infinity;
  const state = stateOf(room);
  state.requestedAt = undefined;
  let record = await loadRecord(room);
  const now = room.options.now;
  if (record.retryAt !== undefined && record.retryAt > now()) {
    requestAlarm(room, record.retryAt);
    return keepFrom(room, record);
  }
  const name = room.options.name;
  if (record.cursor < room.log.first - 1) {
    // Retention cannot pass the cursor while WEBHOOK_URL is set: these went while it was not.
    room.options.logger.error(
      `roomstore: webhook delivery of room ${JSON.stringify(name)} starts at seq ${room.log.first}: ` +
        `events ${record.cursor + 1}-${room.log.first - 1} were trimmed by retention while no WEBHOOK_URL was set`,
    );
    record.cursor = room.log.first - 1;
  }
  for (let run = 0; run < MAX_BATCHES_PER_RUN && keepFrom(room, record) <= room.log.head; run++) {
    const cursor = keepFrom(room, record) - 1;
    const read = await readRange(room.options.storage, room.log.keys, { selection: {}, lower: cursor + 1, upper: room.log.head, limit: MAX_SCAN_EVENTS });
    const batch = takeBatch(read.events, settings, cursor);
    if (batch.through === cursor) break;
    if (batch.events.length > 0) {
      const body = deliveryBody(name, batch.events);
      const failure = await post(room, { url: settings.url, timeoutMs: settings.timeoutMs, body, delivery: `${name}:${batch.firstSeq}-${batch.lastSeq}` });
      if (failure !== undefined) {
        const at = new Date(now()).toISOString();
        const attempts = record.attempts + 1;
        const delay = retryDelayMs(attempts, settings.retryMs, settings.retryMaxMs);
        const lastError = { message: failure, at, since: record.lastError?.since ?? at, attempts };
        const retryAt = now() + delay;
        record = { ...record, attempts, lastError, retryAt };
        await saveRecord(room, record);
        room.options.logger.error(
          `roomstore: webhook delivery of room ${JSON.stringify(name)} events ${batch.firstSeq}-${batch.lastSeq} failed ` +
            `(attempt ${attempts}, failing since ${lastError.since}): ${failure}; next try in ${delay} ms`,
        );
        requestAlarm(room, retryAt);
        return keepFrom(room, record);
      }
    }
    record = { cursor: batch.through, attempts: 0 };
    await saveRecord(room, record);
  }
  if (keepFrom(room, record) <= room.log.head) requestAlarm(room, now());
  return keepFrom(room, record);
};

/** The delivery webhook's state for `{room}/stats`; undefined when no delivery webhook is configured. */
export const webhookStatus = async (room: DeliveryPort): Promise<WebhookStatus | undefined> => {
  if (!room.options.config.webhooks.delivery) return undefined;
  const record = await loadRecord(room);
  const cursor = keepFrom(room, record) - 1;
  return { cursor, pending: room.log.head - cursor, lastError: record.lastError ?? null };
};
