// The room inspector (public/index.html, served at `/`): opens a room by name (`?room=`, with
// `party`, `token`, `storePath`, `eventsPath`), shows its store as virtualized tables with typed
// cells, its values, its stats (live), its event log (live, filtered, paged back) and the history
// of a cell or row, and edits cells, rows, tables and values when the token may write.
// Without a room it shows the start view alone. Looking never creates a room: the store sync
// loads without saving (`createOnLoad: false`), and only a first edit creates it. Bundled to
// public/inspector.js by wrangler's [build] command, and into the package by `npm run build`.
import { createStore } from "tinybase";
import { CELL_KINDS, CellInputError, formatCell, parseCell, type CellKind } from "./cells.ts";
import { createAccess, isRefusal, type Refusal } from "./access.ts";
import { byId, element } from "./dom.ts";
import { createEditor, type Target } from "./editor.ts";
import { createTableGrid } from "./grid.ts";
import { createEventLog } from "./log.ts";
import { createStatsPanel, rememberRoom, showRecent } from "./panels.ts";
import { createUndo } from "./undo.ts";
import { createTimeTravel } from "./time-travel.ts";
import { createRoomList } from "./rooms.ts";
import { createPresencePanel } from "./presence-panel.ts";
import { createTableTools, showRowCounts } from "./table-tools.ts";
import { showFirstRows } from "./first-rows.ts";
import type { Content } from "../tinybase-encoding.ts";
import { connectRoom, RoomHttpError, type HttpOptions } from "../index.ts";

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

// ---- views: the start view alone, or a room ----

const setStatus = (text: string, kind: "ok" | "offline" | "error" | "" = "") => {
  const status = byId("status");
  status.textContent = text;
  status.className = `badge ${kind}`;
};

const showStart = (refusal?: Refusal) => {
  byId("welcome").hidden = false;
  byId("inspector").hidden = true;
  const error = byId("access-error");
  error.hidden = !refusal;
  if (refusal) {
    error.textContent = `The room refused ${where.token ? "this token" : "to open without a token"} (${refusal.status}): ${refusal.message.replace(/^\d+: /, "")}`;
    (openForm.elements.namedItem("token") as HTMLInputElement).focus();
  } else (openForm.elements.namedItem("room") as HTMLInputElement).focus();
  // With a token the list loads at once; without one it waits for a click ("List rooms"), so that a
  // server with auth on answers no 401 the page did not ask for.
  const rooms = createRoomList({ host: location.host, protocol: location.protocol === "https:" ? "https" : "http", party: where.party, token: where.token });
  if (where.token) void rooms.load();
};

const kindOptions = (select: HTMLSelectElement) =>
  select.replaceChildren(...CELL_KINDS.map((kind) => Object.assign(element("option", "", kind === "json" ? "object / array (JSON)" : kind), { value: kind })));
for (const select of document.querySelectorAll<HTMLSelectElement>("select[name=kind]")) kindOptions(select);

// A name no room can have (".", "..") is refused by connectRoom: said here, not thrown away.
if (where.room) {
  try {
    open();
  } catch (error) {
    setStatus(`cannot open: ${(error as Error).message}`, "error");
  }
} else showStart();

function open() {
  document.title = `${where.room} · roomstore inspector`;
  byId("welcome").hidden = true;
  byId("inspector").hidden = false;
  byId("room-name").hidden = byId("other-room").hidden = byId("status").hidden = false;
  byId("room-name").textContent = where.party ? `${where.room} (${where.party})` : where.room;
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
  const access = createAccess((refusal) => {
    setStatus("token refused", "error");
    room.close();
    showStart(refusal);
  });
  const refusedBy = (error: Error) => error instanceof RoomHttpError && isRefusal(error.status) && (access.refuse({ status: error.status, message: error.message }), true);
  const canWrite = () => access.canWrite;
  const undo = createUndo(store, byId("undo"));

  // ---- connection state ----
  let loaded = false;
  room.socket.addEventListener("open", () => loaded && setStatus("live", "ok"));
  room.socket.addEventListener("close", () => loaded && setStatus("offline, reconnecting…", "offline"));

  // A refused edit: the editor says why and shows the room's value; the stats read the role again.
  const rejected = (error: Error) => {
    editor.rejected(error);
    stats.refresh();
  };
  // The first snapshot's first rows show while TinyBase takes it in; the grid replaces them.
  const preview = byId("grid-preview");
  const endPreview = () => {
    if (preview.hidden) return;
    preview.hidden = true;
    preview.replaceChildren();
    byId("grid").hidden = false;
  };
  const onSnapshot = async (content: Content) => {
    if (loaded || store.getTableIds().length > 0) return;
    byId("grid").hidden = true;
    await showFirstRows(content, preview);
  };
  const sync = room.syncStore(store, { createOnLoad: false, onRejected: rejected, onSnapshot });
  void sync.ready.finally(endPreview).catch(() => {});
  sync.ready.then(
    () => {
      loaded = true;
      const open = room.socket.readyState === room.socket.OPEN;
      setStatus(open ? "live" : "offline, reconnecting…", open ? "ok" : "offline");
    },
    (error: Error) => {
      if (refusedBy(error)) return;
      setStatus(`cannot load: ${error.message}`, "error");
      room.close();
    },
  );

  const stats = createStatsPanel(http, byId("stats"), access);
  createPresencePanel(room.presence, byId("presence"), byId("presence-count"));

  // ---- the Selected panel, the tables and the grid ----
  const focusValue = (id: string) => [...document.querySelectorAll<HTMLElement>("#values li")].find((item) => item.dataset.value === id)?.querySelector("button")?.focus();
  const editor = createEditor({
    store,
    http,
    canWrite,
    undo,
    back: (target: Target) => (target.kind === "cell" ? grid.reveal(target.address) : focusValue(target.id)),
    onError: (error) => refusedBy(error) || editor.error(error.message),
  });
  const tools = createTableTools({ store, form: byId<HTMLFormElement>("row-tools"), count: byId("row-count"), onChange: () => grid.refresh() });
  const grid = createTableGrid(store, byId("grid"), {
    select: (address) => editor.select({ kind: "cell", address }),
    edit: (address) => editor.edit({ kind: "cell", address }),
    deleteCell: (address) => canWrite() && undo.delCell(address.tableId, address.rowId, address.cellId),
    deleteRow: (tableId, rowId) => canWrite() && undo.delRow(tableId, rowId),
    firstRows: () => performance.mark("inspector:first-rows"),
    rowIds: tools.rowIds,
  });
  const showTable = (tableId: string) => {
    tools.show(tableId);
    grid.show(tableId);
  };
  const showTables = () => {
    const tableIds = store.getTableIds();
    if (!tableIds.includes(grid.tableId)) showTable(tableIds[0] ?? "");
    if (tableIds.length > 0) endPreview();
    byId("no-tables").hidden = tableIds.length > 0;
    byId("row-tools").hidden = tableIds.length === 0;
    byId<HTMLButtonElement>("delete-table").disabled = !grid.tableId;
    byId("tables").replaceChildren(
      ...tableIds.map((tableId) => {
        const tab = element("button", "", tableId);
        const count = element("span", "row-count");
        count.dataset.rowCount = tableId;
        count.title = "rows";
        tab.append(" ", count);
        tab.type = "button";
        tab.setAttribute("role", "tab");
        tab.setAttribute("aria-selected", String(tableId === grid.tableId));
        tab.addEventListener("click", () => {
          showTable(tableId);
          showTables();
        });
        return tab;
      }),
    );
    updateCounts();
    const add = byId<HTMLFormElement>("add-form").elements.namedItem("table") as HTMLInputElement;
    if (!add.value && grid.tableId) add.value = grid.tableId;
  };
  const updateCounts = showRowCounts(store, byId("tables"));
  store.addTableIdsListener(showTables);
  showTables();
  byId("delete-table").addEventListener("click", () => {
    if (canWrite() && grid.tableId && confirm(`Delete table ${grid.tableId} and all its rows?`)) store.delTable(grid.tableId);
  });

  /** A form of the page that writes one cell or value; a value that does not parse is refused here. */
  const onWriteForm = (id: string, write: (field: (name: string) => string, value: never) => void) => {
    const form = byId<HTMLFormElement>(id);
    const error = byId(id.replace("-form", "-error"));
    form.addEventListener("submit", (submit) => {
      submit.preventDefault();
      const field = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
      if (!canWrite()) return;
      try {
        write(field, parseCell(field("kind") as CellKind, field("text")) as never);
        error.textContent = "";
      } catch (caught) {
        if (!(caught instanceof CellInputError)) throw caught;
        error.textContent = caught.message;
      }
    });
  };
  onWriteForm("add-form", (field, value) => {
    store.setCell(field("table"), field("row"), field("cell"), value);
    if (grid.tableId !== field("table")) {
      showTable(field("table"));
      showTables();
    }
  });
  onWriteForm("value-form", (field, value) => store.setValue(field("id"), value));

  // ---- values ----
  const showValues = () =>
    byId("values").replaceChildren(
      ...store.getValueIds().map((id) => {
        const item = element("li");
        item.dataset.value = id;
        const name = element("button", "value-id", id);
        name.type = "button";
        name.addEventListener("click", () => editor.select({ kind: "value", id }));
        const { text, kind } = formatCell(store.getValue(id));
        const remove = element("button", "icon write", "×");
        remove.type = "button";
        remove.setAttribute("aria-label", `Delete value ${id}`);
        remove.addEventListener("click", () => canWrite() && undo.delValue(id));
        item.append(name, element("span", `cell t-${kind}`, text), element("span", "kind", kind), remove);
        return item;
      }),
    );
  store.addValuesListener(showValues);
  showValues();

  // ---- the event log ----
  const log = createEventLog({
    room,
    list: byId<HTMLOListElement>("events"),
    olderButton: byId<HTMLButtonElement>("older"),
    status: byId("log-status"),
    first: () => stats.first,
    onLive: stats.refresh,
    onError: (error) => refusedBy(error) || setStatus(error.message, "error"),
  });
  const filters = byId<HTMLFormElement>("log-filters");
  filters.addEventListener("submit", (submit) => {
    submit.preventDefault();
    const field = (name: string) => (filters.elements.namedItem(name) as HTMLInputElement).value.trim();
    const types = field("types").split(",").map((type) => type.trim()).filter(Boolean);
    void log.setFilters({ stream: field("stream") || undefined, types }).catch((error: Error) => refusedBy(error) || editor.error(error.message));
  });
  void log.start().catch((error: Error) => refusedBy(error) || setStatus(error.message, "error"));

  // ---- time travel: the store at a log position, and restoring it ----
  const travel = createTimeTravel({ http, canWrite, first: () => stats.first, onError: (error) => void refusedBy(error), events: byId("events") });
  void travel.start().catch((error: Error) => refusedBy(error));

  // For the console and the bench: the page's TinyBase store.
  Object.assign(globalThis, { roomstoreInspector: { store, ready: sync.ready } });
}
