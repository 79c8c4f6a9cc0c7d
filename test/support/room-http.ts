// A room's HTTP resources over plain `fetch`, as any HTTP client would use them: the store, pages
// of the event log, appends and history. Answers are returned whole (status, headers, parsed body)
// so that tests assert on exactly what the server sent; `expectError` checks an error answer
// against the contract.
import { expect } from "vitest";
import type { RoomEvent } from "../../party/protocol.ts";

export interface Answer<T = any> {
  status: number;
  headers: Headers;
  /** The parsed JSON body; undefined when the body is empty. */
  body: T;
  /** The raw body text. */
  text: string;
}

export interface Page {
  events: RoomEvent[];
  next: number | null;
  head: number;
}

export interface RoomHttpOptions {
  storePath?: string;
  eventsPath?: string;
}

/** An error answer as the contract describes it: that status, JSON, `{error: {code, message}}` and nothing else. */
export const expectError = (answer: Answer, status: number, code: string) => {
  expect([answer.status, answer.body?.error?.code], answer.text).toEqual([status, code]);
  expect(answer.headers.get("Content-Type")).toMatch(/^application\/json/);
  expect(Object.keys(answer.body)).toEqual(["error"]);
  expect(Object.keys(answer.body.error).sort()).toEqual(["code", "message"]);
  expect(typeof answer.body.error.message).toBe("string");
  expect(answer.text).not.toMatch(/\n\s+at /); // no stack trace
};

/** Opens a raw WebSocket to the room; resolves once it is open. */
export const openSocket = (host: string, room: string) =>
  new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(`ws://${host}/parties/main/${room}`);
    socket.addEventListener("open", () => resolve(socket));
    socket.addEventListener("error", () => reject(new Error(`could not open a socket to ${room}`)));
  });

const answerOf = async <T>(response: Response): Promise<Answer<T>> => {
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text === "" ? undefined : JSON.parse(text)) as T, text };
};

export const createRoomHttp = (origin: string, room: string, { storePath = "/store", eventsPath = "/events" }: RoomHttpOptions = {}) => {
  const url = (path: string, query = "") => `${origin}/parties/main/${encodeURIComponent(room)}${path}${query === "" ? "" : `?${query}`}`;
  const request = async <T = any>(path: string, init: RequestInit = {}, query = ""): Promise<Answer<T>> => {
    const target = url(path, query);
    try {
      return answerOf<T>(await fetch(target, init));
    } catch (error) {
      throw new Error(`${init.method ?? "GET"} ${target} failed`, { cause: error });
    }
  };
  const bodyOf = (body: unknown) => (typeof body === "string" ? body : JSON.stringify(body));

  const api = {
    url,
    eventsUrl: (query = "") => url(eventsPath, query),
    request,
    getStore: (headers: Record<string, string> = {}) => request(storePath, { headers }),
    putStore: (content: unknown, headers: Record<string, string> = {}) => request(storePath, { method: "PUT", body: bodyOf(content), headers }),
    /** POST one event, an array of them, or raw text. */
    append: (events: unknown, headers: Record<string, string> = {}) =>
      request<{ events: RoomEvent[] }>(eventsPath, { method: "POST", body: bodyOf(events), headers }),
    /** Appends and expects 201; returns the stored events. */
    async appendOk(events: unknown): Promise<RoomEvent[]> {
      const answer = await api.append(events);
      if (answer.status !== 201) throw new Error(`append answered ${answer.status}: ${answer.text}`);
      return answer.body.events;
    },
    page: (query = "") => request<Page>(eventsPath, {}, query),
    history: (query: string) => request(`${eventsPath}/history`, {}, query),
    /** Every event of a closed range, paging through `next` (which each page must move on). */
    async allEvents(query = ""): Promise<RoomEvent[]> {
      const events: RoomEvent[] = [];
      const base = ["limit=1000", "until=caught-up", query].filter(Boolean).join("&");
      let cursor: number | null | undefined;
      for (;;) {
        const page = await api.page(cursor === undefined ? base : `${base}&after=${cursor}`);
        if (page.status !== 200) throw new Error(`page answered ${page.status}: ${page.text}`);
        events.push(...page.body.events);
        if (page.body.next === null) return events;
        if (page.body.next === cursor) throw new Error(`next did not move on from ${cursor}`);
        cursor = page.body.next;
      }
    },
    head: async (): Promise<number> => (await api.page("limit=1")).body.head,
  };
  return api;
};
