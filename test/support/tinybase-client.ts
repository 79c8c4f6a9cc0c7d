// Real, unmodified TinyBase clients: createPartyKitPersister over PartySocket, as an app would.
import { PartySocket } from "partysocket";
import { createStore, type Content, type Store } from "tinybase";
import { createPartyKitPersister } from "tinybase/persisters/persister-partykit-client";
import { JSON_CELL_PREFIX } from "../../party/protocol.ts";

export interface TinyBaseClient {
  store: Store;
  socket: PartySocket;
  close(): Promise<void>;
}

export const connectTinyBase = async (
  host: string,
  room: string,
  options: {
    query?: Record<string, string>;
    setup?: (store: Store) => void;
    /** TinyBase's persister config, for rooms configured with other paths or a message prefix. */
    storePath?: string;
    messagePrefix?: string;
  } = {},
): Promise<TinyBaseClient> => {
  const store = createStore();
  options.setup?.(store);
  const socket = new PartySocket({ host, room, query: options.query });
  // TinyBase's persister builds its HTTP URL from host, room and `storePath` alone: a token rides
  // along in `storePath` as a query parameter.
  const token = options.query?.token;
  const storePath = options.storePath ?? "/store";
  const persister = createPartyKitPersister(store, socket, {
    storeProtocol: "http",
    storePath: token ? `${storePath}?token=${encodeURIComponent(token)}` : storePath,
    ...(options.messagePrefix === undefined ? {} : { messagePrefix: options.messagePrefix }),
  });
  await persister.startAutoPersisting();
  return {
    store,
    socket,
    async close() {
      await persister.destroy();
      socket.close();
    },
  };
};

/** The store as its server serves it. */
export const serverContent = async (origin: string, room: string, storePath = "/store"): Promise<Content | undefined> => {
  const text = await (await fetch(`${origin}/parties/main/${room}${storePath}`)).text();
  return text === "" ? undefined : (JSON.parse(text) as Content);
};

/**
 * Content as a client sees it, comparable with `toEqual`: object and array cells, which the server
 * keeps as TinyBase encodes them ("\uFFFD" + JSON), decoded as TinyBase decodes them.
 */
export const decodedContent = (content: unknown): unknown => {
  if (typeof content === "string" && content.startsWith(JSON_CELL_PREFIX)) return JSON.parse(content.slice(1));
  if (Array.isArray(content)) return content.map(decodedContent);
  if (content !== null && typeof content === "object") {
    return Object.fromEntries(Object.entries(content).map(([id, thing]) => [id, decodedContent(thing)]));
  }
  return content;
};
