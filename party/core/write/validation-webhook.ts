// The validation webhook: before a write commits, the room POSTs it to VALIDATE_URL and commits
// only on the service's accept. Its answer is awaited inside the write's commit-queue job, before
// the job changes anything (storage/commit-queue.ts), so that commits keep their order of arrival.
// A client's changeset frame is asked about as it arrives (write/apply-changes.ts), so that the
// answers for one commit group overlap; other writes are asked in their job, one after another
// (docs/webhooks.md, "Costs").
//
// Request: `{"room","kind","changes"|"content"|"events","role"}`, signed as deliveries are.
// Answers: 2xx `{"accept":true}` commits as sent; 2xx `{"accept":true,"changes":[…]}` commits the
// rewritten changeset (kinds "changes" and "patch" only), validated again as client input; 2xx
// `{"accept":false,"reason"}` refuses with `forbidden`. Anything else (another status, a body that
// is not such JSON, no answer within VALIDATE_TIMEOUT_MS, no connection) is a failure of the
// service: `unavailable` (503), or the write commits as sent when VALIDATE_FAIL_OPEN is on.
import { changesForLog } from "../../protocol.ts";
import { roleOf } from "../room/auth.ts";
import type { Changes, Content } from "../store/changes.ts";
import { RoomError } from "../common/errors.ts";
import type { EventInput } from "../storage/event-log.ts";
import { parseLoggedChanges } from "./patch.ts";
import { stateOf, type RoomConnection, type RoomContext } from "../room/types.ts";
import { MAX_WEBHOOK_ANSWER_BYTES, postSigned } from "../webhooks/signature.ts";

/** Longest refusal reason passed on to the writer, in characters. */
const MAX_REASON_CHARS = 200;

/** What the validation webhook uses of the room: its name, config, clock and logger. */
export type ValidationPort = Pick<RoomContext, "name" | "config" | "now" | "logger">;

export type WriteKind = "changes" | "patch" | "put" | "append";
type Payload<K extends WriteKind> = K extends "changes" | "patch" ? Changes : K extends "put" ? Content : EventInput[];

/** The role a write was made with: the gate's decision for a request, the socket's for a frame. */
const roleOfOrigin = (origin: unknown): string => {
  if (typeof (origin as Request | undefined)?.headers?.get === "function") return roleOf(origin as Request) ?? "none";
  if (typeof (origin as RoomConnection | undefined)?.send === "function") return stateOf(origin as RoomConnection).role ?? "write";
  return "write";
};

const requestBody = (room: ValidationPort, kind: WriteKind, payload: unknown, origin: unknown): string => {
  const field = kind === "put" ? "content" : kind === "append" ? "events" : "changes";
  // Changesets travel as `$changes` data does: null for a deletion.
  const value = kind === "changes" || kind === "patch" ? changesForLog(payload as Changes) : payload;
  return JSON.stringify({ room: room.name, kind, [field]: value, role: roleOfOrigin(origin) });
};

/** POSTs the body and returns the service's verdict; throws (the service failed: fail-open applies) for anything else. */
const askService = async (room: ValidationPort, body: string): Promise<{ accept: boolean; reason?: unknown; changes?: unknown }> => {
  const { url, timeoutMs } = room.config.webhooks.validate!;
  const nowMs = room.now();
  // A rewritten changeset is client input: it may be as large as a body the room accepts.
  const maxAnswerBytes = Math.max(MAX_WEBHOOK_ANSWER_BYTES, room.config.limits.maxBodyBytes);
  const { status, text } = await postSigned(url, body, { secret: room.config.webhooks.secret, nowMs, timeoutMs, maxAnswerBytes });
  if (status < 200 || status > 299) throw new Error(`answered HTTP ${status}`);
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new Error("answered a body that is not JSON");
  }
  if (typeof answer !== "object" || answer === null || typeof (answer as { accept?: unknown }).accept !== "boolean") {
    throw new Error('answered JSON without a boolean "accept"');
  }
  return answer as { accept: boolean };
};

/**
 * Asks the validation webhook about a write, when one is configured. Returns what to commit: the
 * payload itself, or a changeset the service rewrote. Throws `forbidden` when the service refuses
 * and `unavailable` when it fails (unless fail-open). Changes nothing itself.
 */
export const validateWrite = async <K extends WriteKind>(room: ValidationPort, kind: K, payload: Payload<K>, origin: unknown): Promise<Payload<K>> => {
  const settings = room.config.webhooks.validate;
  // A resend of events already stored appends nothing: there is nothing to ask about.
  if (!settings || (kind === "append" && (payload as EventInput[]).length === 0)) return payload;
  let answer: Awaited<ReturnType<typeof askService>>;
  try {
    answer = await askService(room, requestBody(room, kind, payload, origin));
  } catch (error) {
    const message = `roomstore: the validation webhook of room ${JSON.stringify(room.name)} ${(error as Error).message}`;
    room.logger.error(settings.failOpen ? `${message}; committing (VALIDATE_FAIL_OPEN)` : message);
    if (settings.failOpen) return payload;
    throw new RoomError("unavailable", "The validation service failed or did not answer in time; nothing was changed.");
  }
  if (!answer.accept) {
    const reason = typeof answer.reason === "string" ? answer.reason.slice(0, MAX_REASON_CHARS) : "";
    throw new RoomError("forbidden", reason ? `Refused by validation: ${reason}` : "Refused by validation.");
  }
  if (answer.changes === undefined) return payload;
  if (kind !== "changes" && kind !== "patch") {
    throw new RoomError("unavailable", "The validation service rewrote a write that is not a changeset; nothing was changed.");
  }
  try {
    return parseLoggedChanges(answer.changes, room.config.limits.maxCellsPerChange) as Payload<K>;
  } catch {
    throw new RoomError("unavailable", "The validation service answered a rewrite that is not a valid changeset; nothing was changed.");
  }
};
