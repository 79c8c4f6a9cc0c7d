// The demo page (public/index.html): one room's tables and values, live, and its event tail, with a
// form to set a cell and one to append an event. The room comes from the URL (`?room=demo`).
// Bundled to public/demo.js by wrangler's [build] command (esbuild), which `npm start` runs.
import { createStore } from "tinybase";
import { connectRoom, readEventPage, type RoomEvent } from "./index.ts";

/** Events the tail keeps on the page; older ones are dropped from the DOM. */
const TAIL_EVENTS = 100;

const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const element = (tag: string, text = "") => Object.assign(document.createElement(tag), { textContent: text });
const roomName = new URLSearchParams(location.search).get("room") || "demo";
byId("room").textContent = roomName;
document.title = `${roomName} · roomstore`;

const room = connectRoom({ host: location.host, room: roomName, protocol: location.protocol === "https:" ? "wss" : "ws" });
const store = createStore();
const sync = room.syncStore(store, { onRejected: (error) => setStatus(`refused: ${error.message}`, "error") });

const setStatus = (text: string, kind: "ok" | "offline" | "error" = "ok") => {
  const status = byId("status");
  status.textContent = text;
  status.className = kind;
};
room.socket.addEventListener("close", () => setStatus("offline, reconnecting…", "offline"));
room.socket.addEventListener("open", () => void sync.ready.then(() => setStatus("live"), (error: Error) => setStatus(`cannot load: ${error.message}`, "error")));

const cellText = (cell: unknown) => (typeof cell === "string" ? cell : JSON.stringify(cell));

const renderStore = () => {
  const tables = byId("tables");
  tables.replaceChildren();
  for (const tableId of store.getTableIds()) {
    const cellIds = store.getTableCellIds(tableId);
    const table = document.createElement("table");
    table.dataset.table = tableId;
    table.createCaption().textContent = tableId;
    const head = table.createTHead().insertRow();
    for (const label of ["row", ...cellIds]) head.appendChild(element("th", label));
    const body = table.createTBody();
    for (const rowId of store.getRowIds(tableId)) {
      const row = body.insertRow();
      row.dataset.row = rowId;
      row.appendChild(element("th", rowId));
      for (const cellId of cellIds) row.insertCell().textContent = store.hasCell(tableId, rowId, cellId) ? cellText(store.getCell(tableId, rowId, cellId)) : "";
    }
    tables.appendChild(table);
  }
  if (store.getTableIds().length === 0) tables.textContent = "(no tables yet: set a cell below)";
  const values = byId("values");
  values.replaceChildren(...store.getValueIds().map((valueId) => element("li", `${valueId}: ${cellText(store.getValue(valueId))}`)));
};
store.addTablesListener(renderStore);
store.addValuesListener(renderStore);
renderStore();

const renderEvent = (event: RoomEvent) => {
  const item = element("li");
  item.dataset.seq = String(event.seq);
  item.append(element("span", `#${event.seq}`), element("b", event.type), element("i", event.stream), element("code", JSON.stringify(event.data)));
  const list = byId("events");
  list.appendChild(item);
  while (list.childElementCount > TAIL_EVENTS) list.firstElementChild!.remove();
};

// The tail starts a little before the head (one HTTP read), then follows the log over the socket.
void readEventPage(room.http, { until: "caught-up", limit: 1 }).then(({ head }) => room.events({ after: Math.max(0, head - TAIL_EVENTS) }).each(renderEvent));

/** Numbers, booleans, null and JSON objects/arrays as such; anything else stays text. */
const parseInput = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

byId<HTMLFormElement>("cell-form").addEventListener("submit", (submit) => {
  submit.preventDefault();
  const form = new FormData(submit.target as HTMLFormElement);
  const field = (name: string) => String(form.get(name));
  // An empty value deletes the cell.
  if (field("value") === "") store.delCell(field("table"), field("row"), field("cell"));
  else store.setCell(field("table"), field("row"), field("cell"), parseInput(field("value")) as never);
});

byId<HTMLFormElement>("event-form").addEventListener("submit", async (submit) => {
  submit.preventDefault();
  const form = new FormData(submit.target as HTMLFormElement);
  const stream = String(form.get("stream"));
  const event = { type: String(form.get("type")), data: parseInput(String(form.get("data"))) };
  try {
    // No stream named: the room's default stream.
    const [seq] = await room.append([stream ? { ...event, stream } : event]);
    byId("appended").textContent = `stored as #${seq}`;
  } catch (error) {
    byId("appended").textContent = `refused: ${(error as Error).message}`;
  }
});
