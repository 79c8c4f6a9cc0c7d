// A real Node HTTP receiver on 127.0.0.1 for the room's webhooks: it records every request and
// answers as its `answer` function says. `close()` and `listen()` again on the same port let a test
// make the receiver unreachable (connection refused) and bring it back.
/// <reference types="node" />
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { RoomEvent } from "../../party/protocol.ts";
import { connectTinyBase } from "./tinybase-client.ts";
import { waitFor } from "./wait.ts";

export interface ReceivedRequest {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
  json: any;
  at: number;
  /** The status it was answered with, once answered. */
  status?: number;
}

export interface ReceiverAnswer {
  status?: number;
  body?: unknown;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface Receiver {
  origin: string;
  port: number;
  requests: ReceivedRequest[];
  /** Delivered events of a room (from requests answered 2xx), first delivery of each seq, in the order they arrived. */
  delivered(room: string): RoomEvent[];
  /** Every delivery request of a room, in arrival order. */
  deliveries(room: string): ReceivedRequest[];
  answer: (request: ReceivedRequest) => ReceiverAnswer | Promise<ReceiverAnswer>;
  listen(): Promise<void>;
  close(): Promise<void>;
}

/** Verifies `Roomstore-Signature` as a receiver should (docs/webhooks.md): HMAC and a 5-minute window. */
export const verifyRoomstoreSignature = (secret: string, header: string | undefined, body: string, toleranceSeconds = 300): boolean => {
  const fields = new Map((header ?? "").split(",").map((part) => part.split("=", 2) as [string, string]));
  const t = Number(fields.get("t"));
  const v1 = fields.get("v1") ?? "";
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
  return v1.length === expected.length && timingSafeEqual(Buffer.from(v1), Buffer.from(expected));
};

export const startReceiver = async (answer: Receiver["answer"] = () => ({})): Promise<Receiver> => {
  let server: Server | undefined;
  let port = 0;
  const receiver: Receiver = {
    origin: "",
    port: 0,
    requests: [],
    answer,
    deliveries: (room) => receiver.requests.filter((request) => request.json?.room === room && Array.isArray(request.json?.events)),
    delivered(room) {
      const seen = new Set<number>();
      const events: RoomEvent[] = [];
      for (const request of receiver.deliveries(room)) {
        if (request.status === undefined || request.status < 200 || request.status > 299) continue;
        for (const event of request.json.events as RoomEvent[]) {
          if (!seen.has(event.seq)) events.push(event);
          seen.add(event.seq);
        }
      }
      return events;
    },
    async listen() {
      server = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("end", async () => {
          const body = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          const received: ReceivedRequest = { path: request.url ?? "", headers: request.headers, body, json, at: Date.now() };
          receiver.requests.push(received);
          const { status = 200, body: answerBody = {}, delayMs = 0 } = await receiver.answer(received);
          if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
          if (response.destroyed) return;
          received.status = status;
          response.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(answerBody));
        });
      });
      // Keep-alive connections would outlive close(): end them so that the port really refuses.
      server.keepAliveTimeout = 1;
      await new Promise<void>((resolve, reject) => {
        server!.once("error", reject);
        server!.listen(port, "127.0.0.1", () => resolve());
      });
      port = (server.address() as AddressInfo).port;
      receiver.port = port;
      receiver.origin = `http://127.0.0.1:${port}`;
    },
    async close() {
      const closing = server;
      server = undefined;
      if (!closing) return;
      closing.closeAllConnections();
      await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
  };
  await receiver.listen();
  return receiver;
};

/**
 * A TinyBase client of a room whose validation service refuses its changesets: it sets cell
 * t/r/c, the change reaches the service, and the room corrects the client back to `kept`.
 */
export const expectCorrectedAfterRefusal = async (host: string, room: string, validator: Receiver, kept: string): Promise<void> => {
  const client = await connectTinyBase(host, room);
  try {
    await waitFor(() => client.store.getCell("t", "r", "c"), (cell) => cell === kept, { what: "the client to load" });
    client.store.setCell("t", "r", "c", `not ${kept}`);
    const asked = () => validator.requests.some((request) => request.json?.room === room && request.json?.kind === "changes");
    await waitFor(asked, (sent) => sent, { what: "the changeset to reach validation" });
    await waitFor(() => client.store.getCell("t", "r", "c"), (cell) => cell === kept, { what: "the client to be corrected" });
  } finally {
    await client.close();
  }
};
