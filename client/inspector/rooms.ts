// The start page's list of the party's rooms, from its directory (`GET /parties/<party>`): name,
// head, cells and last write, filtered by a name prefix, a page at a time ("More"), each with
// Open, Export (a download of `{room}/export`) and Delete (after a confirmation). Listing needs the
// write token or a token signed for room `*`; with another, the list says so and the rest of the
// page works as before. It loads at once when the page has a token, else on the first Filter.
import { EXPORT_PATH } from "../../party/protocol.ts";
import { roomUrl, RoomHttpError } from "../http.ts";
import { listRooms } from "../rooms.ts";
import { byId, element, timeElement } from "./dom.ts";

/** Rooms per page of the list. */
const ROOMS_PER_PAGE = 50;

export interface RoomListOptions {
  host: string;
  protocol: "http" | "https";
  party?: string;
  token?: string;
}

export const createRoomList = ({ host, protocol, party, token }: RoomListOptions) => {
  const body = byId("rooms-body");
  const more = byId<HTMLButtonElement>("rooms-more");
  const note = byId("rooms-note");
  const form = byId<HTMLFormElement>("rooms-form");
  let prefix = "";
  let next: string | null = null;
  let shown = 0;

  const http = (room: string) => ({ host, protocol, party, token, room });
  const openHref = (room: string) => "?" + new URLSearchParams({ room, ...(party ? { party } : {}), ...(token ? { token } : {}) });

  const exportRoom = async (room: string, button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      const response = await fetch(await roomUrl(http(room), EXPORT_PATH));
      if (!response.ok) throw new Error(`export answered ${response.status}`);
      const link = Object.assign(element("a"), { href: URL.createObjectURL(await response.blob()), download: `${room.replace(/[^\w.-]+/g, "_")}.ndjson` });
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (error) {
      note.textContent = `Could not export ${room}: ${(error as Error).message}`;
    } finally {
      button.disabled = false;
    }
  };

  const deleteRoom = async (room: string, row: HTMLTableRowElement) => {
    if (!confirm(`Delete the room ${JSON.stringify(room)}: its store, its log and its sockets? This cannot be undone.`)) return;
    const response = await fetch(await roomUrl(http(room), ""), { method: "DELETE" });
    if (response.ok) {
      row.remove();
      note.textContent = `Deleted ${room}.`;
    } else note.textContent = `Could not delete ${room}: ${response.status}`;
  };

  const rowOf = (room: { name: string; head: number; cells: number; lastWrite: string | null }) => {
    const row = element("tr");
    const open = Object.assign(element("a", "", room.name), { href: openHref(room.name) });
    const actions = element("td", "actions");
    const exportButton = Object.assign(element("button", "", "Export"), { type: "button" });
    exportButton.addEventListener("click", () => void exportRoom(room.name, exportButton));
    const deleteButton = Object.assign(element("button", "danger", "Delete"), { type: "button" });
    deleteButton.addEventListener("click", () => void deleteRoom(room.name, row));
    actions.append(Object.assign(element("a", "badge", "Open"), { href: openHref(room.name) }), exportButton, deleteButton);
    const name = element("td");
    name.append(open);
    const lastWrite = element("td");
    lastWrite.append(room.lastWrite ? timeElement(room.lastWrite) : document.createTextNode("—"));
    row.append(name, element("td", "number", String(room.head)), element("td", "number", String(room.cells)), lastWrite, actions);
    return row;
  };

  const load = async (fresh: boolean) => {
    if (fresh) {
      body.replaceChildren();
      next = null;
      shown = 0;
    }
    try {
      const page = await listRooms({ host, protocol, party, token, prefix: prefix || undefined, after: next ?? undefined, limit: ROOMS_PER_PAGE });
      body.append(...page.rooms.map(rowOf));
      shown += page.rooms.length;
      next = page.next;
      more.hidden = next === null;
      note.textContent = shown === 0 ? (prefix ? `No room starts with ${JSON.stringify(prefix)}.` : "No rooms yet: a room is listed once it has stored something.") : "";
    } catch (error) {
      more.hidden = true;
      note.textContent =
        error instanceof RoomHttpError && (error.status === 401 || error.status === 403)
          ? "Listing rooms needs the write token or a token signed for room \"*\": enter it above."
          : `Could not list the rooms: ${(error as Error).message}`;
    }
  };

  form.addEventListener("submit", (submit) => {
    submit.preventDefault();
    prefix = String(new FormData(form).get("prefix") ?? "");
    void load(true);
  });
  more.addEventListener("click", () => void load(false));
  note.textContent = "Filter (or press Filter with no prefix) to list the rooms.";
  return { load: () => load(true) };
};
