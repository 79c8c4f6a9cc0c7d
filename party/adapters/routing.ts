// Workers' front door: `/parties/:party/:room` (protocol.ts, parseRoomPath) routed to its room's
// Durable Object through the gate, with partyserver's routePartykitRequest, and `GET /parties/:party`
// to the party's directory of rooms (core/directory/). Before partyserver sees
// a request, its path is checked (anything else is a JSON 404, whatever partyserver would make of
// it) and its room segment spelled canonically, so that every spelling of a name reaches the one
// object partyserver derives from the canonical URL.
import { routePartykitRequest, type Lobby } from "partyserver";
import { RoomError } from "../core/common/errors.ts";
import { admitListing, listedParty } from "../core/index.ts";
import { discardBody, errorResponse, MAX_DRAINED_BODY_BYTES } from "../core/room/http.ts";
import { canonicalRoomUrl, gate, notARoomPath, parseRoomSegment } from "../gate.ts";
import { parseRoomPath } from "../protocol.ts";
import { isNamespace, workersListing } from "./directory-link.ts";

export interface Env {
  Main: DurableObjectNamespace;
  Live: DurableObjectNamespace;
  [name: string]: unknown;
}

/** partyserver's kebab-casing of binding names (routePartykitRequest): `Main` → `main`. */
const partyOf = (binding: string) =>
  binding === binding.toUpperCase() ? binding.toLowerCase().replace(/_/g, "-") : binding.replace(/[A-Z]/g, (letter, at) => (at ? "-" : "") + letter.toLowerCase()).replace(/_/g, "-");

/** The parties of a deployment: its Durable Object bindings, by the name routing gives them; once per environment. */
const parties = new WeakMap<Env, Set<string>>();
const partiesOf = (env: Env): Set<string> => {
  let found = parties.get(env);
  if (!found) {
    found = new Set(Object.keys(env).filter((name) => isNamespace(env[name])).map(partyOf));
    parties.set(env, found);
  }
  return found;
};

/** Routes `/parties/:party/:room` to its room, through the gate (core/room/auth.ts, gate.ts). */
export const routeRoomRequest = async (request: Request, env: Env): Promise<Response> => {
  try {
    const pathname = new URL(request.url).pathname;
    const listed = listedParty(pathname);
    if (listed !== undefined) return await listRooms(request, env, listed);
    const path = parseRoomPath(pathname);
    // PartyKit's short form `/party/:room` is no route of partyserver's.
    if (path?.party === undefined) throw notARoomPath();
    if (!partiesOf(env).has(path.party)) throw new RoomError("not_found", `No party ${JSON.stringify(path.party)} here.`);
    const url = canonicalRoomUrl(request.url, parseRoomSegment(path.segment));
    const routed = url === request.url ? request : new Request(url, request);
    const check = (req: Request, lobby: Lobby) => gate(req, env, lobby.name);
    const response = await routePartykitRequest(routed, env as never, { onBeforeConnect: check, onBeforeRequest: check });
    if (!response) throw notARoomPath();
    return response;
  } catch (error) {
    await discardBody(request, MAX_DRAINED_BODY_BYTES);
    return errorResponse(error);
  }
};

/** `GET /parties/:party`: the party's rooms, from its directory (core/directory/access.ts says who may). */
const listRooms = async (request: Request, env: Env, party: string): Promise<Response> => {
  const binding = Object.keys(env).find((name) => isNamespace(env[name]) && partyOf(name) === party);
  if (binding === undefined) throw new RoomError("not_found", `No party ${JSON.stringify(party)} here.`);
  const directory = workersListing(env, binding, party);
  const admitted = await admitListing(request, env, directory.url);
  return admitted instanceof Response ? admitted : directory.send(admitted);
};
