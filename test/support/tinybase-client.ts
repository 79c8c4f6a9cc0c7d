// Real, unmodified TinyBase clients: createPartyKitPersister over PartySocket, as an app would.
import { PartySocket } from "partysocket";
import { createStore, type Content, type Store } from "tinybase";
import { createPartyKitPersister } from "tinybase/persisters/persister-partykit-client";

export interface TinyBaseClient {
  store: Store;
  socket: PartySocket;
  close(): Promise<void>;
}

export const connectTinyBase = async (
  host: string,
  room: string,
  options: { query?: Record<string, string>; setup?: (store: Store) => void } = {},
): Promise<TinyBaseClient> => {
  const store = createStore();
  options.setup?.(store);
  const socket = new PartySocket({ host, room, query: options.query });
  // TinyBase's persister builds its HTTP URL from host, room and `storePath` alone: a token rides
  // along in `storePath` as a query parameter.
  const token = options.query?.token;
  const persister = createPartyKitPersister(store, socket, {
    storeProtocol: "http",
    ...(token ? { storePath: `/store?token=${encodeURIComponent(token)}` } : {}),
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
export const serverContent = async (origin: string, room: string): Promise<Content | undefined> => {
  const text = await (await fetch(`${origin}/parties/main/${room}/store`)).text();
  return text === "" ? undefined : (JSON.parse(text) as Content);
};
