// The room inspector for a Worker of your own. Off unless the worker asks for it:
//
//   fetch: (request, env) => serveInspector(request, { path: "/inspector" }) ?? routeRoomRequest(request, env)
//
// serveInspector answers `GET`/`HEAD` at its path with the page and leaves every other request
// (undefined) to the worker. The page holds no data: it reads and writes rooms of the same origin
// with the token typed into it, through the gate, as any client does (docs/inspector.md).
import { RoomError } from "./core/common/errors.ts";
import { errorResponse, methodNotAllowed } from "./core/room/http.ts";
import { INSPECTOR_PAGE } from "./inspector-page.ts";

export interface InspectorOptions {
  /** Where the page is served (default `/`); the rooms stay at `/parties/:party/:room`. */
  path?: string;
}

const PAGE_HEADERS = {
  "Content-Type": "text/html; charset=utf-8",
  // The page is built into the package: a new version is a new deployment, so revalidate.
  "Cache-Control": "no-cache",
  // Its address may carry a token (`?token=`): never send it on as a referrer.
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
};

/** The inspector's page for `request` if it asks for `path`, else undefined (the worker answers it). */
export const serveInspector = (request: Request, options: InspectorOptions = {}): Response | undefined => {
  if (new URL(request.url).pathname !== (options.path ?? "/")) return undefined;
  if (request.method !== "GET" && request.method !== "HEAD") {
    return errorResponse(methodNotAllowed("GET, HEAD"), new Headers({ Allow: "GET, HEAD" }));
  }
  if (INSPECTOR_PAGE === null) return errorResponse(new RoomError("not_found", "This copy of roomstore was not built with the inspector (npm run build)."));
  return new Response(request.method === "HEAD" ? null : INSPECTOR_PAGE, { headers: PAGE_HEADERS });
};
