// Requests to a room for the command line, over the client library's addressing (roomUrl), with
// the room's JSON errors turned into RoomHttpError (exit status 1, its message on stderr).
import { failed, RoomHttpError, roomUrl, type HttpOptions } from "../client/http.ts";

type Params = Record<string, string | undefined>;

export const roomRequest = async (options: HttpOptions, path: string, init: RequestInit & { params?: Params } = {}): Promise<Response> => {
  const { params, ...rest } = init;
  const url = await roomUrl(options, path, params);
  const response = await fetch(url, { ...rest, headers: { ...options.headers, ...(rest.headers as Record<string, string> | undefined) } });
  if (response.ok) return response;
  throw await failed(response);
};

/** One line for stderr from anything a command threw; `token` says whether the command sent one. */
export const describeFailure = (error: unknown, { token }: { token: boolean }): string => {
  if (error instanceof RoomHttpError) {
    // The room's 401 names the HTTP header; here a token is given as an option.
    if (error.status === 401 && !token) return `401: This room needs a token: give --token T, or set ROOMSTORE_TOKEN. (unauthorized)`;
    return `${error.message}${error.code ? ` (${error.code})` : ""}`;
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (error instanceof TypeError && cause) return `cannot reach the room: ${cause.code ?? cause.message}`;
  return error instanceof Error ? error.message : String(error);
};
