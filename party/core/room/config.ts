// Room configuration: TinyBase's server config names plus roomstore's own, with every limit named.
// Sources, most specific first: a subclass's `config` field, then environment variables
// (wrangler `[vars]`, partykit.json `vars`), then the defaults in protocol.ts.
import {
  DEFAULT_EVENTS_PATH,
  DEFAULT_PAGE_LIMIT,
  DEFAULT_STORE_PATH,
  MAX_BODY_BYTES,
  MAX_CELLS_PER_CHANGE,
  MAX_CONNECTIONS,
  MAX_EVENT_DATA_CHARS,
  MAX_MESSAGES_PER_SECOND,
  MESSAGE_BURST,
  MAX_EVENTS_PER_APPEND,
  MAX_FRAME_BYTES,
  MAX_PAGE_LIMIT,
  MAX_PAGE_BYTES,
  MAX_SSE_QUEUE_BYTES,
  MAX_SSE_READERS,
  MAX_SUBSCRIPTION_BYTES,
  DEFAULT_LONG_POLL_TIMEOUT_MS,
  MAX_PRESENCE_BYTES,
  PRESENCE_INTERVAL_MS,
  CHECKPOINT_EVENTS,
} from "../../protocol.ts";
import { authConfigFromEnv, type AuthConfig } from "./auth.ts";
import { ConfigError } from "../common/errors.ts";
import { readWebhookConfig, type WebhookConfig } from "./webhook-config.ts";

export interface RoomLimits {
  maxBodyBytes: number;
  maxFrameBytes: number;
  maxCellsPerChange: number;
  maxConnections: number;
  maxMessagesPerSecond: number;
  messageBurst: number;
  maxEventDataChars: number;
  maxEventsPerAppend: number;
  defaultPageLimit: number;
  maxPageLimit: number;
  maxPageBytes: number;
  maxSseQueueBytes: number;
  /** Most SSE readers open at once on one room. */
  maxSseReaders: number;
  maxSubscriptionBytes: number;
  /** How long a Durable Streams long-poll read waits (durable-streams/read-requests.ts). */
  longPollTimeoutMs: number;
  /** Largest presence state, in UTF-8 bytes of its JSON (presence.ts); at most MAX_PRESENCE_BYTES. */
  maxPresenceBytes: number;
  /** Shortest time between two presence frames to one socket. */
  presenceIntervalMs: number;
  /** Most seqs between two checkpoints of the store (log/checkpoints.ts): a read `?at=` replays fewer $store events. */
  checkpointEvents: number;
}

/** How much of the log log/retention.ts keeps: each bound trims the oldest events past it. */
export interface RetentionPolicy {
  /** Keep at most this many events. */
  maxEvents?: number;
  /** Keep events younger than this many seconds. */
  maxAgeSeconds?: number;
}

export interface RoomConfig {
  /** Path of the whole store, as in TinyBase's `TinyBasePartyKitServerConfig`. */
  storePath: string;
  /** Path of the event log. */
  eventsPath: string;
  /** Prefix of every WebSocket frame, as in TinyBase. */
  messagePrefix: string;
  /** Prefix of every storage key, as in TinyBase. */
  storagePrefix: string;
  /** Headers added to every HTTP response; when set they replace the CORS defaults, as in TinyBase. */
  responseHeaders?: Record<string, string>;
  /** Origins allowed by CORS: `"*"` (TinyBase's default) or a list of exact origins. */
  allowedOrigins: "*" | string[];
  /** Event retention; default: keep everything. */
  retention: RetentionPolicy;
  /** Validation and delivery webhooks (webhook-config.ts); default: none. */
  webhooks: WebhookConfig;
  /**
   * The tokens the gate accepts (auth.ts), from the same variables: the room checks a socket's
   * new token against them when it refreshes (live/token-expiry.ts).
   */
  auth: AuthConfig;
  limits: RoomLimits;
}

/**
 * What a subclass may set: any part of the config, limits included, but `auth`: the gate runs
 * before the room and reads only the variables, so the two must agree.
 */
export type RoomConfigInput = Partial<Omit<RoomConfig, "limits" | "auth">> & { limits?: Partial<RoomLimits> };

export const DEFAULT_LIMITS: RoomLimits = {
  maxBodyBytes: MAX_BODY_BYTES,
  maxFrameBytes: MAX_FRAME_BYTES,
  maxCellsPerChange: MAX_CELLS_PER_CHANGE,
  maxConnections: MAX_CONNECTIONS,
  maxMessagesPerSecond: MAX_MESSAGES_PER_SECOND,
  messageBurst: MESSAGE_BURST,
  maxEventDataChars: MAX_EVENT_DATA_CHARS,
  maxEventsPerAppend: MAX_EVENTS_PER_APPEND,
  defaultPageLimit: DEFAULT_PAGE_LIMIT,
  maxPageLimit: MAX_PAGE_LIMIT,
  maxPageBytes: MAX_PAGE_BYTES,
  maxSseQueueBytes: MAX_SSE_QUEUE_BYTES,
  maxSseReaders: MAX_SSE_READERS,
  maxSubscriptionBytes: MAX_SUBSCRIPTION_BYTES,
  longPollTimeoutMs: DEFAULT_LONG_POLL_TIMEOUT_MS,
  maxPresenceBytes: MAX_PRESENCE_BYTES,
  presenceIntervalMs: PRESENCE_INTERVAL_MS,
  checkpointEvents: CHECKPOINT_EVENTS,
};

/** Environment variable of each limit, e.g. `MAX_FRAME_BYTES = "1048576"`. */
const LIMIT_VARS: Record<keyof RoomLimits, string> = {
  maxBodyBytes: "MAX_BODY_BYTES",
  maxFrameBytes: "MAX_FRAME_BYTES",
  maxCellsPerChange: "MAX_CELLS_PER_CHANGE",
  maxConnections: "MAX_CONNECTIONS",
  maxMessagesPerSecond: "MAX_MESSAGES_PER_SECOND",
  messageBurst: "MESSAGE_BURST",
  maxEventDataChars: "MAX_EVENT_DATA_CHARS",
  maxEventsPerAppend: "MAX_EVENTS_PER_APPEND",
  defaultPageLimit: "DEFAULT_PAGE_LIMIT",
  maxPageLimit: "MAX_PAGE_LIMIT",
  maxPageBytes: "MAX_PAGE_BYTES",
  maxSseQueueBytes: "MAX_SSE_QUEUE_BYTES",
  maxSseReaders: "MAX_SSE_READERS",
  maxSubscriptionBytes: "MAX_SUBSCRIPTION_BYTES",
  longPollTimeoutMs: "LONG_POLL_TIMEOUT_MS",
  maxPresenceBytes: "MAX_PRESENCE_BYTES",
  presenceIntervalMs: "PRESENCE_INTERVAL_MS",
  checkpointEvents: "CHECKPOINT_EVENTS",
};

const text = (env: Record<string, unknown>, name: string): string | undefined =>
  typeof env[name] === "string" ? (env[name] as string) : undefined;

/**
 * A whole number above 0, or undefined when the variable is not set. A malformed one refuses to
 * start the room rather than fall back to the default: a typo in a limit must not go unnoticed.
 */
const positive = (env: Record<string, unknown>, name: string): number | undefined => {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const value = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (Number.isSafeInteger(value) && value > 0) return value;
  throw new ConfigError(`${name} must be a whole number greater than 0, not ${JSON.stringify(raw)?.slice(0, 40)}.`);
};

const headers = (env: Record<string, unknown>): Record<string, string> | undefined => {
  const raw = env.RESPONSE_HEADERS;
  if (typeof raw === "object" && raw !== null) return raw as Record<string, string>;
  if (typeof raw !== "string") return undefined;
  try {
    return JSON.parse(raw) as Record<string, string>;
  } catch {
    throw new ConfigError("RESPONSE_HEADERS must be a JSON object of header names to values.");
  }
};

const origins = (env: Record<string, unknown>): "*" | string[] | undefined => {
  const raw = text(env, "ALLOWED_ORIGINS")?.trim();
  return raw === undefined ? undefined : raw === "*" ? "*" : raw.split(",").map((origin) => origin.trim());
};

const withoutUndefined = <T extends object>(thing: T): Partial<T> =>
  Object.fromEntries(Object.entries(thing).filter(([, value]) => value !== undefined)) as Partial<T>;

/** Resolves the config of one room. Throws a ConfigError on a malformed variable. */
export const resolveConfig = (env: Record<string, unknown>, input: RoomConfigInput = {}): RoomConfig => {
  const fromEnv = withoutUndefined({
    storePath: text(env, "STORE_PATH"),
    eventsPath: text(env, "EVENTS_PATH"),
    messagePrefix: text(env, "MESSAGE_PREFIX"),
    storagePrefix: text(env, "STORAGE_PREFIX"),
    responseHeaders: headers(env),
    allowedOrigins: origins(env),
    retention: withoutUndefined({
      maxEvents: positive(env, "RETENTION_MAX_EVENTS"),
      maxAgeSeconds: positive(env, "RETENTION_MAX_AGE_SECONDS"),
    }),
  });
  const limitsFromEnv = withoutUndefined(
    Object.fromEntries(
      Object.entries(LIMIT_VARS).map(([key, name]) => [key, positive(env, name)]),
    ) as Partial<RoomLimits>,
  );
  const { limits, ...rest } = input;
  const resolvedLimits = { ...DEFAULT_LIMITS, ...limitsFromEnv, ...withoutUndefined(limits ?? {}) };
  // A state lives in the socket's attachment, whose 16 KiB it shares (protocol.ts).
  if (resolvedLimits.maxPresenceBytes > MAX_PRESENCE_BYTES) {
    throw new ConfigError(`MAX_PRESENCE_BYTES may be at most ${MAX_PRESENCE_BYTES}: a socket's attachment holds at most 16 KiB.`);
  }
  return {
    storePath: DEFAULT_STORE_PATH,
    eventsPath: DEFAULT_EVENTS_PATH,
    messagePrefix: "",
    storagePrefix: "",
    allowedOrigins: "*",
    retention: {},
    webhooks: readWebhookConfig(env),
    ...fromEnv,
    ...withoutUndefined(rest),
    // After `rest`: a config set in code never changes what the gate accepts.
    auth: authConfigFromEnv(env),
    limits: resolvedLimits,
  };
};
