// Signatures of the room's webhook requests (validation and delivery), as Stripe-style receivers
// expect them: `Roomstore-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
// The time is inside what is signed, so a receiver that rejects old timestamps rejects replays.
// Pure: Web Crypto only, so the same code runs in workerd, under PartyKit and in Node.

export const SIGNATURE_HEADER = "Roomstore-Signature";
export const DELIVERY_HEADER = "Roomstore-Delivery";
/** How far a receiver should let a signature's time differ from its own clock (docs/webhooks.md). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;
/** Most bytes of a webhook's answer read by default; past it the answer is cancelled and the call fails. */
export const MAX_WEBHOOK_ANSWER_BYTES = 64 * 1024;

const encoder = new TextEncoder();

const hex = (bytes: ArrayBuffer): string =>
  Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");

const hmacHex = async (secret: string, message: string): Promise<string> => {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return hex(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
};

/** The Roomstore-Signature value for `body` sent at `nowSeconds`. */
export const signBody = async (secret: string, body: string, nowSeconds: number): Promise<string> => {
  const t = Math.floor(nowSeconds);
  return `t=${t},v1=${await hmacHex(secret, `${t}.${body}`)}`;
};

/**
 * True when `header` signs `body` with `secret` and its time is within `toleranceSeconds` of
 * `nowSeconds`. Compares in constant time; any `v1` of the header may match (several during a
 * secret rotation).
 */
export const verifySignature = async (
  secret: string,
  header: string | null,
  body: string,
  { nowSeconds, toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS }: { nowSeconds: number; toleranceSeconds?: number },
): Promise<boolean> => {
  if (!header) return false;
  const parts = header.split(",").map((part) => part.trim().split("="));
  const t = Number(parts.find(([name]) => name === "t")?.[1]);
  if (!Number.isSafeInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = await hmacHex(secret, `${t}.${body}`);
  return parts.some(([name, value]) => name === "v1" && value !== undefined && sameHex(value, expected));
};

const sameHex = (a: string, b: string): boolean => {
  let difference = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) difference |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return difference === 0;
};

/** Headers of a signed JSON POST: the signature only when there is a secret. */
export const webhookHeaders = async (secret: string | undefined, body: string, nowMs: number): Promise<Headers> => {
  const headers = new Headers({ "Content-Type": "application/json; charset=utf-8" });
  if (secret !== undefined) headers.set(SIGNATURE_HEADER, await signBody(secret, body, nowMs / 1000));
  return headers;
};

/** An answer the room will not read; its message is fit for logs as it is. */
class AnswerTooLarge extends Error {}

/** Reads an answer's body as text, at most `maxBytes` of it; throws (having cancelled it) past that. */
const readAnswer = async (response: Response, maxBytes: number): Promise<string> => {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (let size = 0; ; ) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    if (size > maxBytes) {
      void reader.cancel().catch(() => {});
      throw new AnswerTooLarge(`answered a body larger than ${maxBytes} bytes`);
    }
    text += decoder.decode(value, { stream: true });
  }
};

/**
 * POSTs a JSON body, signed when there is a secret, and reads the answer (at most `maxAnswerBytes`
 * of it, MAX_WEBHOOK_ANSWER_BYTES by default) within `timeoutMs`, the body included. Rejects with a message fit
 * for logs when there is no answer in time, no connection, or an answer too large.
 */
export const postSigned = async (
  url: string,
  body: string,
  options: { secret?: string; nowMs: number; timeoutMs: number; headers?: Record<string, string>; maxAnswerBytes?: number },
): Promise<{ status: number; text: string }> => {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), options.timeoutMs);
  try {
    const headers = await webhookHeaders(options.secret, body, options.nowMs);
    for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);
    const response = await fetch(url, { method: "POST", headers, body, signal: abort.signal });
    return { status: response.status, text: await readAnswer(response, options.maxAnswerBytes ?? MAX_WEBHOOK_ANSWER_BYTES) };
  } catch (error) {
    if (error instanceof AnswerTooLarge) throw error;
    if (abort.signal.aborted) throw new Error(`did not answer within ${options.timeoutMs} ms`);
    throw new Error(`could not be reached: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clearTimeout(timer);
  }
};
