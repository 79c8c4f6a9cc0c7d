// The directory's object: a Durable Object of the party's own class under DIRECTORY_NAME, which no
// URL reaches (reports.ts). It answers two requests, both from inside the deployment: a room's
// `POST …/report`, and `GET …/rooms?prefix&after&limit`, which the edge forwards once it has
// admitted the listing (access.ts). It opens no sockets, and keeps nothing in memory that its
// storage does not hold.
import { RoomError } from "../common/errors.ts";
import type { RoomConfig } from "../room/config.ts";
import { corsHeaders, errorResponse, jsonResponse, methodNotAllowed, readBody } from "../room/http.ts";
import type { RoomStorage } from "../storage/room-storage.ts";
import { createDirectory, parseListQuery } from "./directory.ts";
import { parseReport, REPORT_RESOURCE, ROOMS_RESOURCE } from "./reports.ts";

/** Largest report body: a name of 256 characters and a few figures fit many times over. */
const MAX_REPORT_BYTES = 4096;

export interface DirectoryHostOptions {
  storage: RoomStorage;
  config: RoomConfig;
  now?: () => number;
  logger?: { error(message: string, error?: unknown): void };
}

export const createDirectoryHost = (options: DirectoryHostOptions) => {
  const directory = createDirectory({ storage: options.storage, now: options.now ?? Date.now });
  const log = (error: unknown) => options.logger?.error("roomstore: the directory could not answer", error);
  return {
    async handleRequest(request: Request): Promise<Response> {
      const headers = corsHeaders(options.config, request);
      try {
        const resource = new URL(request.url).pathname.split("/").pop();
        if (resource === REPORT_RESOURCE) {
          if (request.method !== "POST") throw methodNotAllowed("POST");
          let json: unknown;
          try {
            json = JSON.parse(await readBody(request, MAX_REPORT_BYTES));
          } catch (error) {
            throw error instanceof RoomError ? error : new RoomError("invalid_json", "A report is JSON.");
          }
          return jsonResponse(200, await directory.report(parseReport(json)), headers);
        }
        if (resource === ROOMS_RESOURCE) {
          if (request.method !== "GET" && request.method !== "HEAD") throw methodNotAllowed("GET");
          headers.set("Cache-Control", "no-store");
          return jsonResponse(200, await directory.list(parseListQuery(new URL(request.url).searchParams)), headers);
        }
        throw new RoomError("not_found", "The directory answers …/report and …/rooms only.");
      } catch (error) {
        return errorResponse(error, headers, log);
      }
    },
  };
};
