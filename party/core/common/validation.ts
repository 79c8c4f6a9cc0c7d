// Boundary checks shared by HTTP and WebSocket: what storage can hold. A value that passes is one
// both runtimes' storage serializes and gives back unchanged: JSON-shaped, at most MAX_JSON_DEPTH
// levels of arrays and objects, and with finite numbers only (JSON.parse turns `1e400` into
// Infinity, which JSON.stringify would silently log as null).
import { MAX_JSON_DEPTH } from "../../protocol.ts";

/** Why a JSON value cannot be stored, or undefined when it can. */
export const unstorableReason = (value: unknown): string | undefined => {
  // Iterative, so that a value nested far deeper than the limit cannot overflow the stack here.
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [thing, depth] = pending.pop()!;
    if (typeof thing === "number") {
      if (!Number.isFinite(thing)) return "holds a number that is not finite";
    } else if (typeof thing === "object" && thing !== null) {
      if (depth >= MAX_JSON_DEPTH) return `is nested more than ${MAX_JSON_DEPTH} levels deep`;
      for (const key in thing) pending.push([(thing as Record<string, unknown>)[key], depth + 1]);
    } else if (typeof thing !== "string" && typeof thing !== "boolean" && thing !== null) {
      return "is not JSON";
    }
  }
  return undefined;
};
