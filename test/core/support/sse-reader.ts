// Reads SSE records from a Response body, for tests of the pure core.
export interface SseRecord {
  id?: string;
  event?: string;
  data: string;
}

export const createSseReader = (response: Pick<Response, "body">) => {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const records: SseRecord[] = [];
  const parse = () => {
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const record: SseRecord = { data: "" };
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":") || line.startsWith("retry:")) continue;
        const [field, ...rest] = line.split(": ");
        const value = rest.join(": ");
        if (field === "data") data.push(value);
        else if (field === "id") record.id = value;
        else if (field === "event") record.event = value;
      }
      record.data = data.join("\n");
      if (data.length > 0) records.push(record);
    }
  };
  return {
    /** Reads until `count` records arrived (or the stream ends); returns them all. */
    async take(count: number): Promise<SseRecord[]> {
      while (records.length < count) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        parse();
      }
      return records.splice(0, count);
    },
    async ended(): Promise<boolean> {
      const { done } = await reader.read();
      return done;
    },
    cancel: () => reader.cancel(),
  };
};
