// What the room lets this page do. The role comes from the room itself: every answer of a room
// carries the role its gate gave the request (ROLE_RESPONSE_HEADER), so writing controls (class
// `write`, shown only under `body.can-write`) appear once the room has said "write", and never for a
// read token or while the role is unknown. A refusal (401/403) ends the visit: the page goes back
// to the start view, which says why, with the token field ready for another token.
import { ROLE_RESPONSE_HEADER } from "../../party/protocol.ts";
import { byId } from "./dom.ts";

export type Access = "unknown" | "read" | "write";

export interface Refusal {
  status: number;
  message: string;
}

/** 401 (no token, or one expired) and 403 (a wrong token, or another room's) are refusals. */
export const isRefusal = (status: number) => status === 401 || status === 403;

export const createAccess = (onRefused: (refusal: Refusal) => void) => {
  let role: Access = "unknown";
  let refused = false;

  const show = (next: Access) => {
    role = next;
    document.body.classList.toggle("can-write", next === "write");
    const mode = byId("mode");
    mode.hidden = next === "write";
    mode.className = `badge ${next === "read" ? "readonly" : ""}`;
    mode.textContent = next === "read" ? "read-only: this token may read, not write" : "checking access…";
  };
  show("unknown");

  return {
    get role() {
      return role;
    },
    get canWrite() {
      return role === "write" && !refused;
    },
    /** Reads the role from a room's answer. */
    fromResponse(response: Response) {
      const said = response.headers.get(ROLE_RESPONSE_HEADER);
      if ((said === "read" || said === "write") && said !== role) show(said);
    },
    /** The room refused this token (once; the first refusal says why). */
    refuse(refusal: Refusal) {
      if (refused) return;
      refused = true;
      show("unknown");
      byId("mode").hidden = true; // the refusal says it all
      onRefused(refusal);
    },
  };
};

export type AccessState = ReturnType<typeof createAccess>;
