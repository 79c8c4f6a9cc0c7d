// Server-Sent Events records from a fetch body, for `tail` (Node has no EventSource). Only what
// the room sends is handled: `id:`, `event:`, `data:` (several joined by LF), comments, `retry:`.
export interface SseRecord {
  id?: string;
  event: string;
  data: string;
}

/** Most characters of one record (its lines and data) held while it is read: an event is far less. */
export const MAX_SSE_RECORD_CHARS = 4 * 1024 * 1024;

export async function* readSseRecords(body: ReadableStream<Uint8Array>): AsyncGenerator<SseRecord> {
  const decoder = new TextDecoder();
  let pending = "";
  let record: { id?: string; event?: string; data: string[] } = { data: [] };
  let recordChars = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    pending += decoder.decode(chunk, { stream: true });
    // Leaving the loop cancels the body.
    if (recordChars + pending.length > MAX_SSE_RECORD_CHARS) {
      throw new Error(`The room sent an SSE record longer than ${MAX_SSE_RECORD_CHARS} characters.`);
    }
    let end: number;
    while ((end = pending.search(/\r\n|\r|\n/)) >= 0) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + (pending.startsWith("\r\n", end) ? 2 : 1));
      if (line === "") {
        if (record.data.length > 0) yield { id: record.id, event: record.event ?? "message", data: record.data.join("\n") };
        record = { data: [] };
        recordChars = 0;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "data") {
        record.data.push(value);
        recordChars += value.length;
      }
      else if (field === "event") record.event = value;
      else if (field === "id") record.id = value;
    }
  }
}
