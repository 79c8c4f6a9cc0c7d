// The worker under test in workerd: the real entry, plus room classes with permission hooks,
// retention, small limits and a broken config (each bound in wrangler.toml).
import { Room, routeRoomRequest, type Env } from "../../party/worker.ts";
import type { Cell, Changes } from "../../party/core/store/changes.ts";

export { LiveRoom, Room } from "../../party/worker.ts";

/** The AUTH_SECRET of the `signed` party's rooms (SignedRoom): its gate and its rooms see it. */
export const SIGNED_SECRET = "runtime-test-secret";
const SIGNED_PATH = "/parties/signed/";
/** With retention, so that its alarm is shared by retention and tokens' expiries. */
const SIGNED_RETENTION = { maxEvents: 5 };

/** The real worker, with AUTH_SECRET set for the `signed` party only (the other rooms stay open). */
export default {
  fetch: (request: Request, env: Env) =>
    routeRoomRequest(request, new URL(request.url).pathname.startsWith(SIGNED_PATH) ? { ...env, AUTH_SECRET: SIGNED_SECRET } : env),
};

/** Rooms that need a signed token (the gate's AUTH_SECRET), and keep the newest five events. */
export class SignedRoom extends Room {
  override config = { retention: SIGNED_RETENTION };
  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, { ...env, AUTH_SECRET: SIGNED_SECRET } as never);
  }
}

/** Refuses negative legs and the deletion of row "fido"; stamps every changeset. */
export class HookedRoom extends Room {
  override canSetCell(_tableId: string, _rowId: string, cellId: string, cell: Cell, initialSave: boolean) {
    return initialSave || cellId !== "legs" || (typeof cell === "number" && cell >= 0);
  }
  override async canDelRow(_tableId: string, rowId: string) {
    return rowId !== "fido";
  }
  override canApplyChanges([tables, values]: Changes, initialSave: boolean): Changes | boolean {
    return initialSave ? true : [tables, { ...values, stamped: true }, 1];
  }
}

/** Keeps only the newest five events. */
export class RetainingRoom extends Room {
  override config = { retention: { maxEvents: 5 } };
}

/** Keeps the newest five events, with a checkpoint of the store every four seqs (log/checkpoints.ts). */
export class TravelRoom extends Room {
  override config = { retention: { maxEvents: 5 }, limits: { checkpointEvents: 4 } };
}

/** One recorded call of a permission hook; the origin is reduced to what it is. */
export interface HookCall {
  hook: string;
  args: unknown[];
  initialSave?: boolean;
  origin: "request" | "connection" | "other";
}

const originOf = (origin: unknown): HookCall["origin"] =>
  origin instanceof Request ? "request" : typeof (origin as { id?: unknown })?.id === "string" ? "connection" : "other";

/** Most timer turns a hook waits for the next frame (then it decides anyway). */
const MAX_WAIT_TURNS = 200;

/**
 * Rules by name, and a record of every hook call (read it with runInDurableObject):
 * - a cell named `locked` or a value named `readonly` can only be set by the first PUT;
 * - a row named `keep` cannot be deleted;
 * - a cell named `boom` makes canSetCell throw;
 * - a cell named `slow` is refused when it is "no"; from a socket, that refusal is decided only once
 *   the room has received another frame, so that frame is committed in the next group;
 * - whole changeset: `veto: true` rejects it; a number `clamp` over 100 is rewritten to 100;
 *   a value `scrub` is rewritten into a deletion of the value `secret` (even on the first PUT).
 */
export class GuardedRoom extends Room {
  calls: HookCall[] = [];
  /** Frames received by this instance. */
  frames = 0;

  override onMessage(connection: Parameters<Room["onMessage"]>[0], message: Parameters<Room["onMessage"]>[1]) {
    this.frames++;
    return super.onMessage(connection, message);
  }

  override async canSetCell(tableId: string, rowId: string, cellId: string, cell: Cell, initialSave: boolean, origin: unknown, oldCell: Cell | undefined) {
    this.calls.push({ hook: "canSetCell", args: [tableId, rowId, cellId, cell, oldCell], initialSave, origin: originOf(origin) });
    if (cellId === "boom") throw new Error("canSetCell exploded at /srv/secret/path.ts:12");
    if (cellId === "slow" && cell === "no" && originOf(origin) === "connection") {
      const seen = this.frames;
      for (let turn = 0; turn < MAX_WAIT_TURNS && this.frames === seen; turn++) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (cellId === "slow") return cell !== "no";
    return initialSave || cellId !== "locked";
  }
  override canSetValue(valueId: string, value: Cell, initialSave: boolean, origin: unknown, oldValue: Cell | undefined) {
    this.calls.push({ hook: "canSetValue", args: [valueId, value, oldValue], initialSave, origin: originOf(origin) });
    return initialSave || valueId !== "readonly";
  }
  override canDelRow(tableId: string, rowId: string, origin: unknown) {
    this.calls.push({ hook: "canDelRow", args: [tableId, rowId], origin: originOf(origin) });
    return rowId !== "keep";
  }
  override canApplyChanges(changes: Changes, initialSave: boolean, origin: unknown): Changes | boolean {
    this.calls.push({ hook: "canApplyChanges", args: [structuredClone(changes)], initialSave, origin: originOf(origin) });
    const [tables, values] = changes;
    if (values.veto === true) return false;
    if (typeof values.clamp === "number" && values.clamp > 100) return [tables, { ...values, clamp: 100 }, 1];
    if ("scrub" in values) return [tables, { ...values, secret: "\uFFFC" }, 1];
    return true;
  }
}

/** Small limits, so that going over them is cheap: 1 KiB bodies and frames, two sockets. */
export class LimitedRoom extends Room {
  override config = { limits: { maxBodyBytes: 1024, maxFrameBytes: 1024, maxConnections: 2 } };
}

/** A deployment whose RESPONSE_HEADERS variable is not JSON: the room cannot start. */
export class MisconfiguredRoom extends Room {
  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, { ...env, RESPONSE_HEADERS: "{not json" } as never);
  }
}

/**
 * Rooms whose directory refuses the next `failReports` reports with a 503 (set on the directory's
 * instance by a test), to see a room retry from its alarm.
 */
export class FlakyRoom extends Room {
  failReports = 0;
  override async onRequest(request: Request): Promise<Response> {
    if (this.failReports > 0 && new URL(request.url).pathname.endsWith("/report")) {
      this.failReports--;
      return new Response("{}", { status: 503 });
    }
    return super.onRequest(request);
  }
}
