// The command line's SSE reader: records as the room frames them, and a bound on what it buffers.
import { describe, expect, it } from "vitest";
import { MAX_SSE_RECORD_CHARS, readSseRecords } from "../../../cli/sse.ts";
import { sseRecord } from "../../../party/core/live/sse.ts";

const streamOf = (...parts: string[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
      controller.close();
    },
  });
const collect = async (body: ReadableStream<Uint8Array>) => {
  const out = [];
  for await (const record of readSseRecords(body)) out.push(record);
  return out;
};

describe("the command line's SSE reader", () => {
  it("reads the room's records across chunks", async () => {
    const text = `retry: 1000\n\n: heartbeat\n\n${sseRecord({ id: "1", event: "made", data: '{"seq":1}' })}`;
    expect(await collect(streamOf(text.slice(0, 20), text.slice(20)))).toEqual([{ id: "1", event: "made", data: '{"seq":1}' }]);
  });

  it("refuses a record longer than its bound instead of buffering it", async () => {
    const chunk = "x".repeat(1024 * 1024);
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode(chunk));
      },
    });
    await expect(collect(endless)).rejects.toThrow(String(MAX_SSE_RECORD_CHARS));
    await expect(collect(streamOf(...Array.from({ length: 5 }, () => `data: ${chunk}\n`)))).rejects.toThrow(String(MAX_SSE_RECORD_CHARS));
  });
});
