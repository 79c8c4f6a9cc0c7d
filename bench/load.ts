// Load generator primitives: room URLs, TinyBase PartyKit frames, sockets and
// store requests. Every wait here has a time bound.
import WebSocket from "ws";

/** TinyBase's PartyKit persister protocol (tinybase 10, persister-partykit-*). */
const SET_CHANGES = "s";
const DELETED = "\uFFFC";
export const STORE_PATH = "/store";
export const PARTY = "main";

export const CONNECT_TIMEOUT_MS = 15_000;
export const HTTP_TIMEOUT_MS = 60_000;

export type CellValue = string | number | boolean | null;
export type Tables = Record<string, Record<string, Record<string, CellValue>>>;
export type Values = Record<string, CellValue>;
export type Content = [Tables, Values];

export type CellListener = (tableId: string, rowId: string, cellId: string, value: CellValue) => void;

export function roomUrl(host: string, room: string): string {
  return `ws://${host}/parties/${PARTY}/${encodeURIComponent(room)}`;
}

export function storeUrl(origin: string, room: string): string {
  return `${origin}/parties/${PARTY}/${encodeURIComponent(room)}${STORE_PATH}`;
}

/** A TinyBase change frame as the persister sends it: `s` + `[tables, values, 1]`. */
export function encodeChanges(tables: Tables, values: Values = {}): string {
  return SET_CHANGES + JSON.stringify([tables, values, 1]);
}

/** A frame setting one cell. */
export function encodeCell(tableId: string, rowId: string, cellId: string, value: CellValue): string {
  return encodeChanges({ [tableId]: { [rowId]: { [cellId]: value } } });
}

/** Opens `count` sockets to a room in parallel; closes them all if any fails. */
export async function openSockets(host: string, room: string, count: number): Promise<WebSocket[]> {
  const results = await Promise.allSettled(Array.from({ length: count }, () => openSocket(host, room)));
  const sockets = results.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const failure = results.find((result) => result.status === "rejected");
  if (failure) {
    closeSockets(sockets);
    throw failure.reason;
  }
  return sockets;
}

function openSocket(host: string, room: string): Promise<WebSocket> {
  // No permessage-deflate: ws enables it by default, TinyBase's Node client does not ask for it,
  // and compressing every frame would put client CPU into the figures.
  const socket = new WebSocket(roomUrl(host, room), { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`WebSocket connect timed out after ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    socket.once("open", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      socket.on("error", () => {}); // a late error must not crash the run; the close shows up as missing data
      resolve(socket);
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`WebSocket connect failed: ${error.message}`));
    });
    socket.once("unexpected-response", (_request, response) => {
      clearTimeout(timer);
      socket.terminate();
      reject(new Error(`WebSocket upgrade refused: HTTP ${response.statusCode}`));
    });
  });
}

export function closeSockets(sockets: WebSocket[]): void {
  for (const socket of sockets) socket.terminate();
}

/**
 * Calls `listener` for every cell set by a change frame the socket receives.
 * Other frames (anything the room may send besides TinyBase changes) are ignored.
 */
export function onCells(socket: WebSocket, listener: CellListener): void {
  socket.on("message", (data, isBinary) => {
    if (isBinary) return;
    const text = data.toString();
    if (!text.startsWith(SET_CHANGES)) return;
    let changes: unknown;
    try {
      changes = JSON.parse(text.slice(SET_CHANGES.length));
    } catch {
      return;
    }
    if (!Array.isArray(changes) || !isRecord(changes[0])) return;
    for (const [tableId, table] of Object.entries(changes[0])) {
      if (!isRecord(table)) continue;
      for (const [rowId, row] of Object.entries(table)) {
        if (!isRecord(row)) continue;
        for (const [cellId, value] of Object.entries(row)) {
          if (value !== DELETED) listener(tableId, rowId, cellId, value as CellValue);
        }
      }
    }
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export async function putStore(origin: string, room: string, content: Content): Promise<number> {
  const response = await fetch(storeUrl(origin, room), {
    method: "PUT",
    body: JSON.stringify(content),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  await response.arrayBuffer();
  return response.status;
}

export interface StoreSnapshot {
  status: number;
  /** Wall time from request to the last body byte. */
  ms: number;
  bytes: number;
  /** Undefined when the body is empty (no store) or not `[tables, values]`. */
  content: Content | undefined;
}

export async function getStore(origin: string, room: string): Promise<StoreSnapshot> {
  const started = performance.now();
  const response = await fetch(storeUrl(origin, room), { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  const text = await response.text();
  const ms = performance.now() - started;
  return { status: response.status, ms, bytes: Buffer.byteLength(text), content: parseContent(text) };
}

function parseContent(text: string): Content | undefined {
  if (text === "") return undefined;
  try {
    const content: unknown = JSON.parse(text);
    return Array.isArray(content) && isRecord(content[0]) && isRecord(content[1]) ? (content as Content) : undefined;
  } catch {
    return undefined;
  }
}

export function countCells(content: Content | undefined): number {
  let cells = 0;
  for (const table of Object.values(content?.[0] ?? {})) {
    for (const row of Object.values(table)) cells += Object.keys(row).length;
  }
  return cells;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when `done()` holds, or when `stalledMs` pass without `progress()` changing, or at `deadline`. */
export async function waitFor(options: {
  done: () => boolean;
  progress: () => number;
  stalledMs: number;
  deadline: number;
  pollMs?: number;
}): Promise<"done" | "stalled" | "timeout"> {
  let last = options.progress();
  let lastChangeAt = performance.now();
  for (;;) {
    if (options.done()) return "done";
    const now = performance.now();
    if (now >= options.deadline) return "timeout";
    const current = options.progress();
    if (current !== last) {
      last = current;
      lastChangeAt = now;
    } else if (now - lastChangeAt >= options.stalledMs) {
      return "stalled";
    }
    await sleep(options.pollMs ?? 5);
  }
}
