// The demo page (public/index.html): a room's tables live and its event tail, with a form to set a
// cell and one to append an event. Bundled to public/demo.js by client/build-demo.ts.
import { createStore } from "tinybase";
import { connectRoom, syncStore, type RoomEvent } from "./index.ts";

const byId = (id: string) => document.getElementById(id)!;
const roomName = new URLSearchParams(location.search).get("room") ?? "demo";
byId("room").textContent = roomName;

const room = connectRoom({ host: location.host, room: roomName });
const store = createStore();
const sync = syncStore(room, store, { protocol: location.protocol === "https:" ? "https" : "http" });

const cellText = (cell: unknown) => (typeof cell === "object" ? JSON.stringify(cell) : String(cell));

const renderTables = () => {
  const container = byId("tables");
  container.replaceChildren();
  for (const tableId of store.getTableIds()) {
    const cellIds = store.getTableCellIds(tableId);
    const table = document.createElement("table");
    table.dataset.table = tableId;
    const head = table.insertRow();
    for (const label of [tableId, ...cellIds]) head.appendChild(Object.assign(document.createElement("th"), { textContent: label }));
    for (const rowId of store.getRowIds(tableId)) {
      const row = table.insertRow();
      row.insertCell().textContent = rowId;
      for (const cellId of cellIds) row.insertCell().textContent = store.hasCell(tableId, rowId, cellId) ? cellText(store.getCell(tableId, rowId, cellId)) : "";
    }
    container.appendChild(table);
  }
  if (store.getTableIds().length === 0) container.textContent = "(no tables yet)";
};
store.addTablesListener(renderTables);
renderTables();

const renderEvent = (event: RoomEvent) => {
  const item = document.createElement("li");
  item.value = event.seq;
  item.textContent = `${event.type} ${event.stream} ${JSON.stringify(event.data)}`;
  byId("events").appendChild(item);
};

void sync.ready.then(() => {
  byId("status").textContent = "live";
  void room.events().each(renderEvent);
});
sync.onRejected((error) => (byId("status").textContent = `refused: ${error.message}`));

byId("cell-form").addEventListener("submit", (submit: SubmitEvent) => {
  submit.preventDefault();
  const form = new FormData(submit.target as HTMLFormElement);
  const value = String(form.get("value"));
  const number = Number(value);
  store.setCell(String(form.get("table")), String(form.get("row")), String(form.get("cell")), value !== "" && !Number.isNaN(number) ? number : value);
});

byId("event-form").addEventListener("submit", (submit: SubmitEvent) => {
  submit.preventDefault();
  const form = new FormData(submit.target as HTMLFormElement);
  void room.append([{ type: String(form.get("type")), data: String(form.get("data")) }]);
});
