// The gate in front of every room, shared by both entries: decides the role of a request or socket
// from its token before it reaches the room (see core/auth.ts), and answers 401/403 as JSON.
// CORS preflights pass: browsers send them without credentials.
import { authConfigFromEnv, authorize, withRole } from "./core/auth.ts";
import { errorBody, toRoomError } from "./core/errors.ts";

export const gate = async (request: Request, env: Record<string, unknown>, room: string): Promise<Request | Response> => {
  if (request.method === "OPTIONS") return request;
  try {
    return withRole(request, await authorize(authConfigFromEnv(env), request, room, Date.now() / 1000));
  } catch (error) {
    const roomError = toRoomError(error);
    return new Response(JSON.stringify(errorBody(roomError)), {
      status: roomError.status,
      headers: { "Content-Type": "application/json; charset=utf-8", "Access-Control-Allow-Origin": "*" },
    });
  }
};
