// The relay's floor for the Durable Streams scenario (bench/scenarios/durable-streams.ts): the
// least a Durable Object can do to answer the scenario's requests under the same `wrangler dev`.
// JSON streams kept in memory, nothing validated: a POST's array is kept as its text and written
// as one storage value before the answer (what a durable append costs at the least: one write,
// and the output gate holding the answer and the SSE records until it is on disk), a catch-up GET
// joins the texts up to about 1 MiB from memory, an SSE reader gets each POST as one `event: data`
// record and its `event: control` record. Not the protocol: only what the scenario asks, so that
// roomstore ÷ relay is the distance the room itself adds.
const MAX_CHUNK_CHARS = 1024 * 1024;
const STREAM_PATH = /\/v1\/stream\/([^/]+)$/;

interface MemoryStream {
  name: string;
  /** Each POST's messages as JSON text, the array's brackets taken off. */
  appends: string[];
  readers: Set<WritableStreamDefaultWriter<Uint8Array>>;
}

const encoder = new TextEncoder();

/** Offsets are the number of appends read, as 16 digits so that they sort. */
const offsetOf = (appends: number) => String(appends).padStart(16, "0");

export const createStreamFloor = (storage: DurableObjectStorage) => {
  const streams = new Map<string, MemoryStream>();
  const streamOf = (name: string) => {
    let stream = streams.get(name);
    if (!stream) streams.set(name, (stream = { name, appends: [], readers: new Set() }));
    return stream;
  };

  const append = async (stream: MemoryStream, request: Request): Promise<Response> => {
    const text = (await request.text()).trim();
    const messages = text.startsWith("[") ? text.slice(1, -1) : text;
    stream.appends.push(messages);
    storage.kv.put(`${stream.name}/${stream.appends.length}`, messages);
    const control = JSON.stringify({ streamNextOffset: offsetOf(stream.appends.length), streamCursor: "0", upToDate: true });
    const frame = encoder.encode(`event: data\ndata:[${messages}]\n\nevent: control\ndata:${control}\n\n`);
    for (const writer of stream.readers) writer.write(frame).catch(() => stream.readers.delete(writer));
    return new Response(null, { status: 204, headers: { "Stream-Next-Offset": offsetOf(stream.appends.length) } });
  };

  const read = (stream: MemoryStream, params: URLSearchParams): Response => {
    if (params.get("live") === "sse") {
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      stream.readers.add(writable.getWriter());
      return new Response(readable, { headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" } });
    }
    const offset = params.get("offset");
    let at = offset === null || offset === "-1" ? 0 : Number(offset);
    const parts: string[] = [];
    for (let chars = 0; at < stream.appends.length && chars < MAX_CHUNK_CHARS; at++) {
      parts.push(stream.appends[at]!);
      chars += stream.appends[at]!.length + 1;
    }
    const headers = { "Content-Type": "application/json", "Stream-Next-Offset": offsetOf(at), "Stream-Up-To-Date": String(at === stream.appends.length) };
    return new Response(`[${parts.join(",")}]`, { headers });
  };

  /** Answers a request to `…/v1/stream/<name>`; undefined (at once) for any other path. */
  return (request: Request): Promise<Response> | undefined => {
    if (!request.url.includes("/v1/stream/")) return undefined;
    const url = new URL(request.url);
    const stream = streamOf(STREAM_PATH.exec(url.pathname)?.[1] ?? "");
    if (request.method === "PUT") return Promise.resolve(new Response(null, { status: 201 }));
    if (request.method === "POST") return append(stream, request);
    return Promise.resolve(read(stream, url.searchParams));
  };
};
