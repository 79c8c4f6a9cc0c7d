// The relay's floor for the snapshot scenario (bench/scenarios/snapshot.ts): a PUT to `…/store`
// keeps the body's text in memory and in the Durable Object's storage (in pieces under the value
// size limit), and a GET answers it from memory, or, after a restart, from storage first. The same
// bytes as a room's store through the same `wrangler dev`, with nothing parsed or built: room ÷
// relay is the distance the room itself adds to a warm or cold GET.
const PIECE_CHARS = 512 * 1024;
const PIECES_KEY = "store/pieces";

export const createStoreFloor = (storage: DurableObjectStorage) => {
  let text: string | undefined;

  const put = async (request: Request): Promise<Response> => {
    text = await request.text();
    const pieces = Math.ceil(text.length / PIECE_CHARS);
    for (let piece = 0; piece < pieces; piece++) storage.kv.put(`store/${piece}`, text.slice(piece * PIECE_CHARS, (piece + 1) * PIECE_CHARS));
    storage.kv.put(PIECES_KEY, pieces);
    return new Response(null, { status: 201 });
  };

  const get = (): Response => {
    if (text === undefined) {
      const pieces = storage.kv.get<number>(PIECES_KEY) ?? 0;
      text = Array.from({ length: pieces }, (_, piece) => storage.kv.get<string>(`store/${piece}`) ?? "").join("");
    }
    return new Response(text, { status: 200, headers: { "Content-Type": "application/json" } });
  };

  /** Answers a PUT or GET of `…/store`; undefined (at once) for any other request. */
  return (request: Request): Promise<Response> | undefined => {
    if (!new URL(request.url).pathname.endsWith("/store")) return undefined;
    return request.method === "PUT" ? put(request) : Promise.resolve(get());
  };
};
