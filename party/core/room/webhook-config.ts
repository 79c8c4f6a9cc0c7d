// Webhook settings from environment variables, checked once at start-up: a malformed URL, an
// empty secret or a timeout that is not a whole number throws, so the room refuses to start with
// that message instead of failing on every write.
//
//   VALIDATE_URL          validation webhook, called before every write commits
//   VALIDATE_TIMEOUT_MS   how long the room waits for its answer (default 2000)
//   VALIDATE_FAIL_OPEN    "true": commit when the service fails or times out (default "false")
//   WEBHOOK_URL           delivery webhook, called with committed events from the alarm
//   WEBHOOK_SECRET        signs both webhooks' requests (Roomstore-Signature)
//   WEBHOOK_STREAMS       comma-separated streams to deliver (default every stream)
//   WEBHOOK_TYPES         comma-separated types to deliver (default every type)
//   WEBHOOK_TIMEOUT_MS    how long one delivery may take before it counts as failed (default 10000)
//   WEBHOOK_RETRY_MS      first retry delay after a failed delivery (default 1000), doubling…
//   WEBHOOK_RETRY_MAX_MS  …up to this (default 300000)
import { ConfigError } from "../common/errors.ts";

/** Default time the validation webhook has to answer. */
export const DEFAULT_VALIDATE_TIMEOUT_MS = 2_000;
/** Default time one delivery request may take. */
export const DEFAULT_DELIVERY_TIMEOUT_MS = 10_000;
/** Default first retry delay of a failed delivery, and the cap its doubling stops at. */
export const DEFAULT_RETRY_MS = 1_000;
export const DEFAULT_RETRY_MAX_MS = 5 * 60_000;

export interface ValidateConfig {
  url: string;
  timeoutMs: number;
  failOpen: boolean;
}

export interface DeliveryConfig {
  url: string;
  /** Deliver only events of these streams / types; undefined: all. */
  streams?: string[];
  types?: string[];
  timeoutMs: number;
  retryMs: number;
  retryMaxMs: number;
}

export interface WebhookConfig {
  /** HMAC-SHA256 key of the Roomstore-Signature header on both webhooks' requests. */
  secret?: string;
  validate?: ValidateConfig;
  delivery?: DeliveryConfig;
}

const bad = (name: string, message: string) => new ConfigError(`roomstore: ${name} ${message}`);

const textOf = (env: Record<string, unknown>, name: string): string | undefined => {
  const raw = env[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== "string") throw bad(name, "must be a string.");
  return raw;
};

const urlOf = (env: Record<string, unknown>, name: string): string | undefined => {
  const raw = textOf(env, name)?.trim();
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad(name, `is not a URL: ${JSON.stringify(raw)}.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw bad(name, `must be an http or https URL, not ${JSON.stringify(raw)}.`);
  return url.href;
};

const millisecondsOf = (env: Record<string, unknown>, name: string, fallback: number): number => {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const value = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value <= 0) throw bad(name, `must be a whole number of milliseconds above 0, not ${JSON.stringify(raw)}.`);
  return value;
};

const flagOf = (env: Record<string, unknown>, name: string): boolean => {
  const raw = env[name];
  if (raw === undefined || raw === false || raw === "false") return false;
  if (raw === true || raw === "true") return true;
  throw bad(name, `must be "true" or "false", not ${JSON.stringify(raw)}.`);
};

const listOf = (env: Record<string, unknown>, name: string): string[] | undefined => {
  const raw = textOf(env, name);
  if (raw === undefined) return undefined;
  const names = raw.split(",").map((item) => item.trim()).filter((item) => item !== "");
  if (names.length === 0) throw bad(name, "must name at least one, comma-separated.");
  return names;
};

/** The webhook settings of a room, from its environment. Throws on anything malformed. */
export const readWebhookConfig = (env: Record<string, unknown>): WebhookConfig => {
  const secret = textOf(env, "WEBHOOK_SECRET");
  if (secret !== undefined && secret.trim() === "") throw bad("WEBHOOK_SECRET", "is empty: set a secret, or leave the variable out.");
  const validateUrl = urlOf(env, "VALIDATE_URL");
  const deliveryUrl = urlOf(env, "WEBHOOK_URL");
  const config: WebhookConfig = {};
  if (secret !== undefined) config.secret = secret;
  const validateTimeoutMs = millisecondsOf(env, "VALIDATE_TIMEOUT_MS", DEFAULT_VALIDATE_TIMEOUT_MS);
  const failOpen = flagOf(env, "VALIDATE_FAIL_OPEN");
  if (validateUrl !== undefined) config.validate = { url: validateUrl, timeoutMs: validateTimeoutMs, failOpen };
  const delivery: DeliveryConfig = {
    url: deliveryUrl ?? "",
    timeoutMs: millisecondsOf(env, "WEBHOOK_TIMEOUT_MS", DEFAULT_DELIVERY_TIMEOUT_MS),
    retryMs: millisecondsOf(env, "WEBHOOK_RETRY_MS", DEFAULT_RETRY_MS),
    retryMaxMs: millisecondsOf(env, "WEBHOOK_RETRY_MAX_MS", DEFAULT_RETRY_MAX_MS),
  };
  const streams = listOf(env, "WEBHOOK_STREAMS");
  const types = listOf(env, "WEBHOOK_TYPES");
  if (deliveryUrl === undefined) {
    if (streams || types) throw bad(streams ? "WEBHOOK_STREAMS" : "WEBHOOK_TYPES", "filters deliveries, but WEBHOOK_URL is not set.");
    return config;
  }
  if (delivery.retryMaxMs < delivery.retryMs) throw bad("WEBHOOK_RETRY_MAX_MS", "must not be below WEBHOOK_RETRY_MS.");
  if (streams) delivery.streams = streams;
  if (types) delivery.types = types;
  config.delivery = delivery;
  return config;
};
