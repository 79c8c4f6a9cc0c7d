// How a room reaches its party's directory (core/directory/), and how a listing reaches it, on each
// runtime. The directory is an object of the party's own class under DIRECTORY_NAME: no binding,
// class or migration of its own for a deployment to declare.
// - Workers: the party's namespace is the binding whose `idFromName(name)` gives back the room's
//   own id (ids are derived per namespace), found once per object, so a room finds it in an alarm
//   too, with no request to read it from. The listing route finds it by the party's name in the
//   URL, kebab-cased as partyserver's routing does (routing.ts, `partiesOf`).
// - PartyKit 0.0.115: through `room.context.parties[party].get(name)`, which its runtime refuses
//   inside `onAlarm` ("You can not access `Party.context.parties` in the `onAlarm` handler").
//   Every `parties` object any handler of this isolate was given is the same one (the facade keeps
//   one per isolate), so it is kept here when a request, socket or listing passes: an alarm uses
//   it, and one woken with nothing seen yet fails its report, which the alarm tries again.
import { DIRECTORY_NAME, DIRECTORY_SEGMENT } from "../core/index.ts";
import type { SendReport } from "../core/directory/reporter.ts";

/** The report's request: a POST of its JSON to the directory's `…/report`. */
const reportInit = (report: unknown, signal: AbortSignal): RequestInit => ({
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(report),
  signal,
});

const answerOf = async (response: Response): Promise<unknown> => {
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`The directory answered ${response.status}.`);
  }
  return response.json();
};

// ---- Workers ----

interface Namespace {
  idFromName(name: string): { equals(other: unknown): boolean };
  get(id: unknown): { fetch(input: string | Request, init?: RequestInit): Promise<Response> };
}

/**
 * A Durable Object namespace binding. Service bindings and RPC stubs answer every property with a
 * callable (workerd's RPC proxies), `idFromName` included, and calling it makes an RPC: a property
 * no namespace has tells them apart.
 */
export const isNamespace = (value: unknown): value is Namespace =>
  typeof (value as { idFromName?: unknown } | null)?.idFromName === "function" && (value as Record<string, unknown>)["roomstoreProbe"] === undefined;

/** The directory's URL as the Workers adapter addresses it: the same shape as a room's, never routed. */
const workersDirectoryUrl = (party: string) => (resource: string) => `https://directory.invalid/parties/${party}/${DIRECTORY_SEGMENT}/${resource}`;

const directoryOf = (namespace: Namespace) => namespace.get(namespace.idFromName(DIRECTORY_NAME));

/** The report sender of a room whose object id is `id` (addressed by `name`), or undefined outside any namespace of `env`. */
export const workersReportSender = (env: Record<string, unknown>, id: unknown, name: string): SendReport | undefined => {
  const binding = Object.keys(env).find((key) => isNamespace(env[key]) && env[key].idFromName(name).equals(id));
  if (binding === undefined) return undefined;
  const url = workersDirectoryUrl(binding)("report");
  return async (report, signal) => answerOf(await directoryOf(env[binding] as Namespace).fetch(url, reportInit(report, signal)));
};

/** Sends an admitted listing (core/directory/access.ts) to the directory of the party whose binding is `binding`. */
export const workersListing = (env: Record<string, unknown>, binding: string, party: string) => ({
  url: workersDirectoryUrl(party),
  send: (request: Request) => directoryOf(env[binding] as Namespace).fetch(request),
});

// ---- PartyKit ----

interface PartyStub {
  fetch(path: string, init?: RequestInit): Promise<Response>;
}
type Parties = Record<string, { get(id: string): PartyStub }>;

let knownParties: Parties | undefined;

/** Keeps the isolate's `parties` for the alarms that cannot ask for it. */
export const rememberParties = (parties: Parties | undefined): void => {
  if (parties) knownParties = parties;
};

/** The report sender of a room of the PartyKit party `party`; `parties` reads the room's own, and may throw (in an alarm). */
export const partykitReportSender = (party: string, parties: () => Parties): SendReport => async (report, signal) => {
  try {
    rememberParties(parties());
  } catch {
    // Inside onAlarm: the one seen last serves.
  }
  const directory = knownParties?.[party]?.get(DIRECTORY_NAME);
  if (!directory) throw new Error("PartyKit gives an alarm no way to reach another room yet; the report waits for the next request.");
  return answerOf(await directory.fetch("/report", reportInit(report, signal)));
};

/** The PartyKit directory's path for an admitted listing, and its sending. */
export const partykitListing = (parties: Parties, party: string) => ({
  url: (resource: string) => `http://directory.invalid/${resource}`,
  send: (request: Request) => {
    const url = new URL(request.url);
    return parties[party]!.get(DIRECTORY_NAME).fetch(url.pathname + url.search, { method: request.method, headers: request.headers });
  },
});

/**
 * The room's URL segment (`room.id`), or, inside an alarm that woke the object (PartyKit 0.0.115
 * refuses `room.id` there), its name as its directory record keeps it: undefined `segment` then.
 * Throws PartyKit's own error when neither is known (a room that never stored anything).
 */
export const partykitIdentity = async (room: { readonly id: string }, recorded: () => Promise<string | undefined>): Promise<{ segment?: string; name?: string }> => {
  try {
    return { segment: room.id };
  } catch (error) {
    const name = await recorded();
    if (name === undefined) throw error;
    return { name };
  }
};
