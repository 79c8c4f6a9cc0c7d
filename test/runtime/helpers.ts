// Helpers for the runtime tests: HTTP calls through the worker's own fetch, WebSockets that record
// their frames, barriers instead of sleeps, and a TinyBase-like client model for convergence.
// Every HTTP answer is read at once (an unread body keeps the request, and the object, busy) and
// checked for a stack trace, so that no test can let one through unnoticed.
import { exports } from "cloudflare:workers";
import { expect } from "vitest";

export const ORIGIN = "http://example.com";

export const roomUrl = (room: string, path = "", party = "main") => `${ORIGIN}/parties/${party}/${room}${path}`;

/** What a stack trace or an internal detail looks like in a body. */
const STACK = /\n\s+at |\bat \S+ \(|\.(?:ts|js|mjs):\d+|\bError:|node_modules|\/srv\//;

export const expectNoStack = (text: string) => expect(text, "a response body shows a stack or an internal detail").not.toMatch(STACK);

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The body as JSON (throws when it is not). */
  json: () => any;
}

/** A request through the worker's fetch handler, with its body read and checked. */
export const call = async (url: string, init: RequestInit = {}): Promise<Answer> => {
  const response = await exports.default.fetch(url, init);
  const text = await response.text();
  expectNoStack(text);
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
};

export interface Party {
  room: string;
  party: string;
}

export const at = (room: string, party = "main"): Party => ({ room, party });

export const getStore = (where: Party, headers: Record<string, string> = {}) =>
  call(roomUrl(where.room, "/store", where.party), { headers });

export const putStore = (where: Party, body: unknown, headers: Record<string, string> = {}) =>
  call(roomUrl(where.room, "/store", where.party), { method: "PUT", body: typeof body === "string" ? body : JSON.stringify(body), headers });

export const postEvents = (where: Party, body: unknown, headers: Record<string, string> = {}) =>
  call(roomUrl(where.room, "/events", where.party), { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers });

export const getEvents = (where: Party, query = "") => call(roomUrl(where.room, "/events" + query, where.party));

/** The store as JSON (undefined while the room has none). */
export const storeOf = async (where: Party): Promise<any> => {
  const answer = await getStore(where);
  expect(answer.status).toBe(200);
  return answer.text === "" ? undefined : answer.json();
};

/** The whole log (up to 1,000 events), or one stream of it. */
export const logOf = async (where: Party, stream?: string): Promise<{ events: any[]; head: number; next: number | null }> => {
  const answer = await getEvents(where, "?limit=1000" + (stream ? "&stream=" + encodeURIComponent(stream) : ""));
  expect(answer.status).toBe(200);
  return answer.json();
};

export const changesFrame = (changes: unknown) => "s" + JSON.stringify(changes);
/** The Changes in a TinyBase frame, or undefined for another kind of frame. */
export const changesIn = (frame: string): any => (frame.startsWith("s") ? JSON.parse(frame.slice(1)) : undefined);
/** The message in a roomstore frame, or undefined for another kind of frame. */
export const messageIn = (frame: string): any => (frame.startsWith("x") ? JSON.parse(frame.slice(1)) : undefined);

/** True for the presence hello a main socket gets as it opens (presence.ts). */
export const isGreeting = (frame: string): boolean => {
  const message = messageIn(frame);
  return message?.t === "presence" && "self" in message;
};

/** How long a test waits for a frame or a close before it fails with what it saw (not a timing claim). */
const WAIT_MS = 4_000;

export interface Socket {
  ws: WebSocket;
  /** Every frame received after the greeting, in order. */
  frames: string[];
  /** The presence hello the room sends a main socket as it opens (presence.ts), kept apart from `frames`. */
  greeting?: any;
  /** The close code, once closed. */
  closedWith?: number;
  /** The first frame that satisfies `predicate`, waiting for it if needed. */
  frame(predicate?: (frame: string) => boolean): Promise<string>;
  /** Resolves with the close code. */
  closed(): Promise<number>;
  send(frame: string | ArrayBuffer | ArrayBufferView): void;
}

/** A socket on the room, or on `path` in it (`/sync`, `?token=…`). */
export const openSocket = async (where: Party, path = ""): Promise<Socket> => {
  const response = await exports.default.fetch(roomUrl(where.room, path, where.party), { headers: { Upgrade: "websocket" } });
  expect(response.status).toBe(101);
  const ws = response.webSocket!;
  ws.accept();
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const waiter of [...waiters]) waiter();
  };
  const socket: Socket = {
    ws,
    frames: [],
    send: (frame) => ws.send(frame),
    frame: (predicate = () => true) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = socket.frames.find(predicate);
          if (found === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`No such frame; received ${JSON.stringify(socket.frames).slice(0, 1_000)}; closed: ${socket.closedWith}`));
        }, WAIT_MS);
        waiters.add(check);
        check();
      }),
    closed: () =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (socket.closedWith === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(socket.closedWith);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`The socket did not close; received ${JSON.stringify(socket.frames).slice(0, 1_000)}`));
        }, WAIT_MS);
        waiters.add(check);
        check();
      }),
  };
  ws.addEventListener("message", (event) => {
    const frame = String(event.data);
    if (socket.greeting === undefined && isGreeting(frame)) socket.greeting = messageIn(frame);
    else socket.frames.push(frame);
    wake();
  });
  ws.addEventListener("close", (event) => {
    socket.closedWith = event.code;
    wake();
  });
  return socket;
};

let barriers = 0;

/**
 * Waits until every socket in `sockets` has received a marker broadcast by `via`, and returns the
 * index of that marker in each socket's frames. Frames on one socket arrive in order, and the room
 * handles the marker after everything sent before it, so whatever a socket would have received
 * from earlier writes is in its frames before that index. The marker sets the value `~barrier`.
 */
export const barrier = async (via: Socket, sockets: Socket[]): Promise<number[]> => {
  const marker = ++barriers;
  via.send(changesFrame([{}, { "~barrier": marker }, 1]));
  const isMarker = (frame: string) => changesIn(frame)?.[1]?.["~barrier"] === marker;
  await Promise.all(sockets.map((socket) => socket.frame(isMarker)));
  return sockets.map((socket) => socket.frames.findIndex(isMarker));
};

/** Content without the barrier's value. */
export const withoutBarrier = (content: any) => {
  if (!content) return content;
  const [tables, values] = content;
  const { "~barrier": _, ...rest } = values;
  return [tables, rest];
};

/** Frames other than barrier markers. */
export const withoutBarriers = (frames: string[]) =>
  frames.filter((frame) => {
    const changes = changesIn(frame);
    return !(changes && Object.keys(changes[0]).length === 0 && Object.keys(changes[1]).length === 1 && "~barrier" in changes[1]);
  });

const DELETED = "\uFFFC";
const LOGGED_NULL = "\uFFFDnull";

type Content = [Record<string, Record<string, Record<string, unknown>>>, Record<string, unknown>];

/**
 * Applies TinyBase Changes to content as a TinyBase client's store does: "\uFFFC" deletes at any
 * level, empty rows and tables disappear. Returns a new content.
 */
export const applyChanges = (content: Content, [tables, values]: [Record<string, any>, Record<string, any>, 1?]): Content => {
  const [outTables, outValues] = structuredClone(content);
  for (const [tableId, table] of Object.entries(tables)) {
    if (table === DELETED) {
      delete outTables[tableId];
      continue;
    }
    const outTable = (outTables[tableId] ??= {});
    for (const [rowId, row] of Object.entries<any>(table)) {
      if (row === DELETED) {
        delete outTable[rowId];
        continue;
      }
      const outRow = (outTable[rowId] ??= {});
      for (const [cellId, cell] of Object.entries(row)) {
        if (cell === DELETED) delete outRow[cellId];
        else outRow[cellId] = cell === LOGGED_NULL ? null : cell;
      }
      if (Object.keys(outRow).length === 0) delete outTable[rowId];
    }
    if (Object.keys(outTable).length === 0) delete outTables[tableId];
  }
  for (const [valueId, value] of Object.entries(values)) {
    if (value === DELETED) delete outValues[valueId];
    else outValues[valueId] = value === LOGGED_NULL ? null : value;
  }
  return [outTables, outValues];
};

/**
 * A TinyBase client's view of the room: what it loaded, every changeset it sent (applied locally
 * at once, as TinyBase does), and every changeset frame it received, in the order they happened.
 */
export const createClientModel = (socket: Socket, loaded: Content) => {
  const timeline: { at: number; changes: any }[] = [];
  return {
    send(changes: [Record<string, any>, Record<string, any>, 1]) {
      timeline.push({ at: socket.frames.length, changes });
      socket.send(changesFrame(changes));
    },
    /** The client's store: local changes and received frames interleaved as they happened. */
    content(): Content {
      let content = loaded;
      let sent = 0;
      socket.frames.forEach((frame, index) => {
        while (sent < timeline.length && timeline[sent].at <= index) content = applyChanges(content, timeline[sent++].changes);
        const changes = changesIn(frame);
        if (changes) content = applyChanges(content, changes);
      });
      while (sent < timeline.length) content = applyChanges(content, timeline[sent++].changes);
      return content;
    },
  };
};
