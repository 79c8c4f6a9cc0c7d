// The room inspector (public/index.html, served at `/`): opens a room by name (`?room=`, with
// `party`, `token`, `storePath`, `eventsPath`), shows its store as virtualized tables with typed
// cells, its values, its stats (live), its event log (live, filtered, paged back) and the history
// of a cell or row, and edits cells, rows, tables and values when the token may write.
// Looking never creates a room: the store sync loads without saving (`createOnLoad: false`), and
// only a first edit creates it. Bundled to public/inspector.js by wrangler's [build] command.
import { createStore } from "tinybase";
import { CELL_KINDS, CellInputError, editText, formatCell, kindOf, parseCell, type CellKind } from "./inspector-cells.ts";
import { createTableGrid, type CellAddress } from "./inspector-grid.ts";
import { byId, element } from "./inspector-dom.ts";
import { createEventLog, showHistory, type HistoryTarget } from "./inspector-log.ts";
import { createStatsPanel, rememberRoom, showRecent } from "./inspector-panels.ts";
import { connectRoom, RoomHttpError, RoomRejection, type HttpOptions } from "./index.ts";

// ---- where: the room from the address ----

const params = new URLSearchParams(location.search);
const where = {
  room: params.get("room") ?? "",
  party: params.get("party") || undefined,
  token: params.get("token") || undefined,
  storePath: params.get("storePath") || undefined,
  eventsPath: params.get("eventsPath") || undefined,
};

const openForm = byId<HTMLFormElement>("open-form");
for (const [name, value] of Object.entries(where)) if (value) (openForm.elements.namedItem(name) as HTMLInputElement).value = value;
openForm.addEventListener("submit", (submit) => {
  submit.preventDefault();
  const next = new URLSearchParams();
  for (const [name, value] of new FormData(openForm)) if (String(value).trim()) next.set(name, String(value).trim());
  location.search = next.toString();
});
showRecent(byId("recent-rooms"), byId("recent"));

// ---- status and mode ----

const setStatus = (text: string, kind: "ok" | "offline" | "error" | "" = "") => {
  const status = byId("status");
  status.textContent = text;
  status.className = `badge ${kind}`;
};

let readOnly = false;
const setReadOnly = (why: string) => {
  readOnly = true;
  const mode = byId("mode");
  mode.hidden = false;
  mode.className = "badge readonly";
  mode.textContent = `read-only: ${why}`;
  for (const control of document.querySelectorAll<HTMLButtonElement | HTMLInputElement>("button.write, #add-form input, #value-form input, #delete-table")) {
    control.disabled = true;
  }
  document.body.classList.add("read-only");
};

const kindOptions = (select: HTMLSelectElement) =>
  select.replaceChildren(...CELL_KINDS.map((kind) => Object.assign(element("option", "", kind === "json" ? "object / array (JSON)" : kind), { value: kind })));
for (const select of document.querySelectorAll<HTMLSelectElement>("select[name=kind]")) kindOptions(select);

// A name no room can have (".", "..") is refused by connectRoom: said here, not thrown away.
if (where.room) open().catch((error: Error) => setStatus(`cannot open: ${error.message}`, "error"));

async function open() {
  document.title = `${where.room} · roomstore inspector`;
  byId("welcome").hidden = true;
  byId("inspector").hidden = false;
  rememberRoom({ room: where.room, party: where.party });
  setStatus("connecting…", "offline");

  const room = connectRoom({
    host: location.host,
    room: where.room,
    party: where.party,
    protocol: location.protocol === "https:" ? "wss" : "ws",
    query: where.token ? { token: where.token } : undefined,
    storePath: where.storePath,
    eventsPath: where.eventsPath,
  });
  const http: HttpOptions = room.http;
  const store = createStore();
  const showError = (into: string) => (error: Error) => {
    if ((error instanceof RoomRejection || error instanceof RoomHttpError) && error.code === "forbidden") setReadOnly("this token may read, not write");
    byId(into).textContent = error.message;
  };

  // ---- connection state ----
  let loaded = false;
  room.socket.addEventListener("open", () => loaded && setStatus("live", "ok"));
  room.socket.addEventListener("close", () => setStatus("offline, reconnecting…", "offline"));

  const sync = room.syncStore(store, { createOnLoad: false, onRejected: showError("editor-error") });
  sync.ready.then(
    () => {
      loaded = true;
      setStatus(room.socket.readyState === room.socket.OPEN ? "live" : "offline, reconnecting…", room.socket.readyState === room.socket.OPEN ? "ok" : "offline");
    },
    (error: Error) => {
      setStatus(error instanceof RoomHttpError && error.status === 401 ? "token refused" : `cannot load: ${error.message}`, "error");
      room.close();
    },
  );

  const stats = createStatsPanel(http, byId("stats"), () => setStatus("token refused", "error"));

  // ---- the editor panel ----
  type Target = { kind: "cell"; address: CellAddress } | { kind: "value"; id: string };
  let selected: Target | undefined;
  const editor = byId<HTMLFormElement>("editor");
  const editorKind = editor.elements.namedItem("kind") as HTMLSelectElement;
  const editorText = editor.elements.namedItem("text") as HTMLTextAreaElement;
  const currentOf = (target: Target) =>
    target.kind === "cell" ? store.getCell(target.address.tableId, target.address.rowId, target.address.cellId) : store.getValue(target.id);
  const describe = (target: Target) =>
    target.kind === "cell" ? `cell ${target.address.tableId} / ${target.address.rowId} / ${target.address.cellId}` : `value ${target.id}`;

  const select = (target: Target) => {
    selected = target;
    const current = currentOf(target);
    const shown = current === undefined ? { text: "(no cell)", kind: "none" } : formatCell(current);
    const line = byId("editor-target");
    line.replaceChildren(element("span", "", describe(target) + ": "), element("code", `t-${shown.kind}`, shown.text), element("span", "kind", ` ${shown.kind}`));
    editorKind.value = current === undefined ? "string" : kindOf(current);
    editorText.value = editText(current);
    editorText.disabled = editorKind.value === "null";
    byId<HTMLFieldSetElement>("editor-fields").disabled = false;
    byId("history-row").hidden = target.kind !== "cell";
    byId("editor-error").textContent = "";
    byId("history").replaceChildren();
  };
  editorKind.addEventListener("change", () => (editorText.disabled = editorKind.value === "null"));
  editor.addEventListener("submit", (submit) => {
    submit.preventDefault();
    if (!selected || readOnly) return;
    try {
      const value = parseCell(editorKind.value as CellKind, editorText.value) as never;
      if (selected.kind === "cell") store.setCell(selected.address.tableId, selected.address.rowId, selected.address.cellId, value);
      else store.setValue(selected.id, value);
      select(selected);
    } catch (error) {
      if (!(error instanceof CellInputError)) throw error;
      byId("editor-error").textContent = error.message;
    }
  });
  byId("delete-selected").addEventListener("click", () => {
    if (!selected || readOnly) return;
    if (selected.kind === "cell") store.delCell(selected.address.tableId, selected.address.rowId, selected.address.cellId);
    else store.delValue(selected.id);
    select(selected);
  });
  const history = (target: HistoryTarget) => void showHistory(http, target, byId("history")).catch(showError("editor-error"));
  byId("history-cell").addEventListener("click", () => {
    if (selected?.kind === "cell") history({ table: selected.address.tableId, row: selected.address.rowId, cell: selected.address.cellId });
    else if (selected) history({ value: selected.id });
  });
  byId("history-row").addEventListener("click", () => {
    if (selected?.kind === "cell") history({ table: selected.address.tableId, row: selected.address.rowId });
  });
  editorText.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) editor.requestSubmit();
    if (event.key === "Escape" && selected?.kind === "cell") grid.reveal(selected.address);
  });

  // ---- tables and the grid ----
  const grid = createTableGrid(store, byId("grid"), {
    select: (address) => select({ kind: "cell", address }),
    edit(address) {
      select({ kind: "cell", address });
      editorText.focus();
    },
    deleteCell(address) {
      if (!readOnly) store.delCell(address.tableId, address.rowId, address.cellId);
    },
    deleteRow(tableId, rowId) {
      if (!readOnly) store.delRow(tableId, rowId);
    },
    firstRows: () => performance.mark("inspector:first-rows"),
  });
  const showTables = () => {
    const tableIds = store.getTableIds();
    if (!tableIds.includes(grid.tableId)) grid.show(tableIds[0] ?? "");
    byId("no-tables").hidden = tableIds.length > 0;
    byId<HTMLButtonElement>("delete-table").disabled = readOnly || !grid.tableId;
    byId("tables").replaceChildren(
      ...tableIds.map((tableId) => {
        const tab = element("button", "", tableId);
        tab.type = "button";
        tab.setAttribute("role", "tab");
        tab.setAttribute("aria-selected", String(tableId === grid.tableId));
        tab.addEventListener("click", () => {
          grid.show(tableId);
          showTables();
        });
        return tab;
      }),
    );
    const add = byId<HTMLFormElement>("add-form").elements.namedItem("table") as HTMLInputElement;
    if (!add.value && grid.tableId) add.value = grid.tableId;
  };
  store.addTableIdsListener(showTables);
  showTables();
  byId("delete-table").addEventListener("click", () => {
    if (!readOnly && grid.tableId && confirm(`Delete table ${grid.tableId} and all its rows?`)) store.delTable(grid.tableId);
  });

  const addForm = byId<HTMLFormElement>("add-form");
  addForm.addEventListener("submit", (submit) => {
    submit.preventDefault();
    const field = (name: string) => (addForm.elements.namedItem(name) as HTMLInputElement).value;
    try {
      store.setCell(field("table"), field("row"), field("cell"), parseCell(field("kind") as CellKind, field("text")) as never);
      byId("add-error").textContent = "";
      if (grid.tableId !== field("table")) {
        grid.show(field("table"));
        showTables();
      }
    } catch (error) {
      if (!(error instanceof CellInputError)) throw error;
      byId("add-error").textContent = error.message;
    }
  });

  // ---- values ----
  const showValues = () =>
    byId("values").replaceChildren(
      ...store.getValueIds().map((id) => {
        const item = element("li");
        item.dataset.value = id;
        const name = element("button", "value-id", id);
        name.type = "button";
        name.addEventListener("click", () => select({ kind: "value", id }));
        const { text, kind } = formatCell(store.getValue(id));
        const remove = element("button", "icon write", "×");
        remove.type = "button";
        remove.disabled = readOnly;
        remove.setAttribute("aria-label", `Delete value ${id}`);
        remove.addEventListener("click", () => !readOnly && store.delValue(id));
        item.append(name, element("span", `cell t-${kind}`, text), element("span", "kind", kind), remove);
        return item;
      }),
    );
  store.addValuesListener(showValues);
  showValues();
  const valueForm = byId<HTMLFormElement>("value-form");
  valueForm.addEventListener("submit", (submit) => {
    submit.preventDefault();
    const field = (name: string) => (valueForm.elements.namedItem(name) as HTMLInputElement).value;
    try {
      store.setValue(field("id"), parseCell(field("kind") as CellKind, field("text")) as never);
      byId("value-error").textContent = "";
    } catch (error) {
      if (!(error instanceof CellInputError)) throw error;
      byId("value-error").textContent = error.message;
    }
  });
  // A selected cell or value that changes elsewhere shows its new state.
  store.addDidFinishTransactionListener(() => {
    if (selected && document.activeElement !== editorText) {
      const changed = selected.kind === "cell" ? store.getTransactionChanges()[0][selected.address.tableId] : store.getTransactionChanges()[1];
      if (changed) select(selected);
    }
  });

  // ---- the event log ----
  const log = createEventLog({
    room,
    list: byId<HTMLOListElement>("events"),
    olderButton: byId<HTMLButtonElement>("older"),
    status: byId("log-status"),
    first: () => stats.first,
    onLive: stats.refresh,
    onError: (error) => setStatus(error.message, "error"),
  });
  const filters = byId<HTMLFormElement>("log-filters");
  filters.addEventListener("submit", (submit) => {
    submit.preventDefault();
    const field = (name: string) => (filters.elements.namedItem(name) as HTMLInputElement).value.trim();
    const types = field("types").split(",").map((type) => type.trim()).filter(Boolean);
    void log.setFilters({ stream: field("stream") || undefined, types }).catch(showError("editor-error"));
  });
  void log.start().catch((error: Error) => setStatus(error instanceof RoomHttpError && error.status === 401 ? "token refused" : error.message, "error"));

  // For the console and the bench: the page's TinyBase store.
  Object.assign(globalThis, { roomstoreInspector: { store, ready: sync.ready } });
}
