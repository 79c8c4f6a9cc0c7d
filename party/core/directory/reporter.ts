// A room's reports to its party's directory (directory.ts, in another object): after every write,
// the room's current figures; once it holds nothing (deleted), its removal.
//
// Rules:
// - Coalesced: at most one report in flight, and at most one started every REPORT_INTERVAL_MS; a
//   write while one is in flight makes one more follow it, with the figures as they are then.
// - Durable: what the directory acknowledged is kept in the room's storage (RECORD, below), so a
//   room that restarts knows whether it still owes a report. When a write makes one owed, an alarm
//   is asked for at once (REPORT_ALARM_MS): issued as the write's group commits, before the write
//   is answered, so that on Durable Objects the output gate holds the answer until the alarm is
//   stored too. The alarm sends what is still owed, and asks again, backing off up to
//   REPORT_RETRY_MAX_MS, until the directory acknowledges it. Alarms may run twice: reports are
//   idempotent (reports.ts).
// - Versions: each report's `v` is the clock's time, or one more than the last one sent, whichever
//   is higher. When the directory answers that it holds a higher `v` for the name (an earlier
//   incarnation of the room, under a clock that ran ahead), the room goes on from that one.
// - A read never makes a report owed: only a committed write, an import, a delete or a trim does.
//
// RECORD: `P $d` (P the storage prefix): { name, acked, pending }. `acked` is what the directory
// last acknowledged ({ head, first }, or null: nothing); `pending` says a report is owed whatever
// the figures (after a DELETE or an import, which may leave the figures as acked by chance). The
// name lets an adapter that cannot tell a room's name in an alarm (PartyKit) read it. The record
// is gone once the room is empty and the directory acknowledged its removal.
import type { RoomStorage } from "../storage/room-storage.ts";
import { parseAnswer, type DirectoryReport, type ReportAnswer, type RoomFigures } from "./reports.ts";

/** Least time between the starts of two reports of one room. */
export const REPORT_INTERVAL_MS = 1_000;
/** When the alarm that stands for a report made owed by a write runs, unless it lands first. */
export const REPORT_ALARM_MS = 5_000;
/** The first and the longest wait before a failed report is tried again (from the alarm). */
export const REPORT_RETRY_MS = 1_000;
export const REPORT_RETRY_MAX_MS = 10_000;
/** How long a report may take before it counts as failed. */
export const REPORT_TIMEOUT_MS = 10_000;

export const recordKey = (storagePrefix: string): string => storagePrefix + "$d";

interface Acked {
  head: number;
  first: number;
}

interface ReportRecord {
  name: string;
  acked: Acked | null;
  pending: boolean;
}

/** The room's name as its report record keeps it, for an adapter that cannot tell it otherwise (PartyKit's alarms). */
export const recordedName = async (storage: RoomStorage, storagePrefix: string): Promise<string | undefined> => {
  const record = (await storage.get([recordKey(storagePrefix)])).get(recordKey(storagePrefix)) as ReportRecord | undefined;
  return typeof record?.name === "string" ? record.name : undefined;
};

/** The room's state as a report carries it: its figures, and the log positions acks are compared on. */
export interface RoomState extends RoomFigures {
  first: number;
}

/** Sends one report and resolves with the directory's answer (as JSON); rejects when it did not land. */
export type SendReport = (report: DirectoryReport, signal: AbortSignal) => Promise<unknown>;

export interface ReporterOptions {
  name: string;
  storage: RoomStorage;
  storagePrefix: string;
  /** The room's state now (the current core's log and model). */
  state: () => RoomState;
  send: SendReport;
  now: () => number;
  setTimer: (run: () => void, ms: number) => void;
  scheduleAlarm?: (at: number) => Promise<void> | void;
  logError: (message: string, error?: unknown) => void;
}

export interface Reporter {
  /** Reads the record; a report still owed is sent (and its alarm asked for). */
  load(): Promise<void>;
  /** After a committed write (or a trim): sends the figures if the directory does not have them. */
  changed(): void;
  /** After the room was rebuilt from storage (an import, a DELETE): owes a report whatever the figures. */
  rebuilt(): Promise<void>;
  /** From the room's alarm: sends what is owed; asks for another alarm while it does not land. */
  alarm(): Promise<void>;
}

const matches = (acked: Acked | null, state: RoomState): boolean =>
  state.head === 0 ? acked === null : acked !== null && acked.head === state.head && acked.first === state.first;

/** A reporter's state: its options, the record as stored, and the report in flight. */
interface Reports {
  readonly options: ReporterOptions;
  readonly key: string;
  record: ReportRecord | undefined;
  lastV: number;
  lastStart: number;
  inFlight: Promise<void> | undefined;
  timer: boolean;
  failures: number;
  /** An alarm was asked for the owed report and has not run since. */
  armed: boolean;
  /** Bumped by a rebuild: an answer to a report sent before it records nothing. */
  epoch: number;
}

const owed = (reports: Reports): boolean => {
  const state = reports.options.state();
  return reports.record ? reports.record.pending || !matches(reports.record.acked, state) : state.head > 0;
};

const store = (reports: Reports, next: ReportRecord | undefined): Promise<void> => {
  const { storage, logError } = reports.options;
  reports.record = next;
  const write = next ? storage.write(new Map([[reports.key, next]]), []) : storage.write(new Map(), [reports.key]);
  return write.catch((error) => logError("roomstore: could not keep the directory report's record", error));
};

const askAlarm = ({ options }: Reports, ms: number): void => {
  if (!options.scheduleAlarm) return;
  void Promise.resolve(options.scheduleAlarm(options.now() + ms)).catch((error) => options.logError("roomstore: could not set the alarm", error));
};

const retryIn = ({ failures }: Reports): number => Math.min(REPORT_RETRY_MS * 2 ** Math.max(failures - 1, 0), REPORT_RETRY_MAX_MS);

/** Sends the report once, within REPORT_TIMEOUT_MS; the directory's answer, or undefined when it did not land. */
const post = async (reports: Reports, report: DirectoryReport): Promise<ReportAnswer | undefined> => {
  const { options } = reports;
  // A timer cleared as soon as the report is answered: a pending one would keep a Durable Object
  // from hibernating (AbortSignal.timeout's stays until it fires).
  const abort = new AbortController();
  const timeout = setTimeout(() => abort.abort(new Error("The directory did not answer in time.")), REPORT_TIMEOUT_MS);
  try {
    const answer = parseAnswer(await options.send(report, abort.signal));
    if (!answer) throw new Error("The directory's answer is not one.");
    return answer;
  } catch (error) {
    reports.failures++;
    options.logError("roomstore: the directory report did not land; it is tried again from the alarm", error);
    askAlarm(reports, retryIn(reports));
    return undefined;
  } finally {
    clearTimeout(timeout);
  }
};

const sendOnce = async (reports: Reports): Promise<void> => {
  const { options } = reports;
  const state = options.state();
  const sentEpoch = reports.epoch;
  const v = Math.max(options.now(), reports.lastV + 1);
  reports.lastV = v;
  reports.lastStart = options.now();
  const { first, ...figures } = state;
  const answer = await post(reports, { name: options.name, v, room: state.head > 0 ? figures : null });
  if (!answer) return;
  reports.failures = 0;
  if (sentEpoch !== reports.epoch) return;
  // The directory holds a later version, from an earlier incarnation of the room under a clock
  // that ran ahead: the next report goes on from it.
  if (!answer.applied && answer.v > v) reports.lastV = answer.v;
  else await store(reports, state.head > 0 ? { name: options.name, acked: { head: state.head, first }, pending: false } : undefined);
};

const start = (reports: Reports): Promise<void> =>
  (reports.inFlight = sendOnce(reports).finally(() => {
    reports.inFlight = undefined;
    if (reports.failures === 0) schedule(reports);
  }));

/** Sends now, or once the report in flight is done and the interval has passed. */
function schedule(reports: Reports): void {
  if (reports.inFlight || reports.timer || !owed(reports)) return;
  const wait = reports.lastStart + REPORT_INTERVAL_MS - reports.options.now();
  if (wait <= 0) {
    void start(reports);
    return;
  }
  reports.timer = true;
  reports.options.setTimer(() => {
    reports.timer = false;
    schedule(reports);
  }, wait);
}

/** Makes an owed report durable (the record, the alarm), then sends it. */
const owe = (reports: Reports): void => {
  if (!owed(reports)) return;
  if (!reports.record) void store(reports, { name: reports.options.name, acked: null, pending: false });
  if (!reports.armed) {
    reports.armed = true;
    askAlarm(reports, REPORT_ALARM_MS);
  }
  schedule(reports);
};

export const createReporter = (options: ReporterOptions): Reporter => {
  const reports: Reports = { options, key: recordKey(options.storagePrefix), record: undefined, lastV: 0, lastStart: -Infinity, inFlight: undefined, timer: false, failures: 0, armed: false, epoch: 0 };
  return {
    async load() {
      reports.record = (await options.storage.get([reports.key])).get(reports.key) as ReportRecord | undefined;
      owe(reports);
    },
    changed: () => owe(reports),
    async rebuilt() {
      reports.epoch++;
      // A DELETE's erase took the record and the alarm with it: what the directory holds is unknown now.
      reports.armed = false;
      await store(reports, { name: options.name, acked: reports.record?.acked ?? null, pending: true });
      owe(reports);
    },
    async alarm() {
      reports.armed = false;
      if (reports.inFlight) await reports.inFlight;
      if (!owed(reports)) return;
      await start(reports);
      if (owed(reports)) askAlarm(reports, retryIn(reports));
    },
  };
};
