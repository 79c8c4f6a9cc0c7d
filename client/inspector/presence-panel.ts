// Who is in the room: every connection with a presence state (SPEC "Presence"), live, from the
// client library's `room.presence` (the room's hello on each connection, then its coalesced
// changes), and this page's own connection, marked. The page sets no state of its own, so an
// app's cursors never show the inspector. A busy room changes presence up to 20 times a second
// (PRESENCE_INTERVAL_MS): the list is drawn at most once per animation frame, and shows the first
// MAX_PEERS_SHOWN peers by id.
import type { RoomPresence } from "../presence.ts";
import { element } from "./dom.ts";

const MAX_PEERS_SHOWN = 100;
/** A state longer than this shows cut, whole on hover. */
const MAX_STATE_CHARS = 160;

export const createPresencePanel = (presence: RoomPresence, list: HTMLElement, count: HTMLElement) => {
  let drawing = false;

  const item = (id: string, text: string, self: boolean) => {
    const node = element("li");
    node.dataset.peer = id;
    node.append(element("code", "peer-id", id));
    if (self) {
      node.dataset.self = "";
      node.append(element("span", "badge", "this page"));
    }
    const state = element("span", "peer-state", text.length > MAX_STATE_CHARS ? `${text.slice(0, MAX_STATE_CHARS)}…` : text);
    state.title = text;
    node.append(state);
    return node;
  };

  const draw = () => {
    drawing = false;
    const peers = presence.peers;
    const ids = Object.keys(peers).sort();
    const items = ids.slice(0, MAX_PEERS_SHOWN).map((id) => item(id, JSON.stringify(peers[id]), false));
    if (presence.self !== undefined) items.unshift(item(presence.self, "no state (the inspector sets none)", true));
    if (ids.length > MAX_PEERS_SHOWN) items.push(element("li", "hint", `and ${(ids.length - MAX_PEERS_SHOWN).toLocaleString("en")} more`));
    list.replaceChildren(...items);
    count.textContent = `${ids.length.toLocaleString("en")} with a state`;
  };
  const schedule = () => {
    if (drawing) return;
    drawing = true;
    requestAnimationFrame(draw);
  };
  presence.onChange(schedule);
  draw();
};
