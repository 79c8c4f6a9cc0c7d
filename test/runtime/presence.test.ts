// Presence inside workerd: states live in the sockets' attachments, so a hibernated room still has
// everyone's, and storage never holds them; a socket that closes leaves; the largest state fits
// the attachment next to the most subscriptions a socket may hold.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_MESSAGE_ID_CHARS, MAX_PRESENCE_BYTES, MAX_SUBSCRIPTIONS_PER_CONNECTION } from "../../party/protocol.ts";
import { waitFor } from "../support/wait.ts";
import { at, call, messageIn, openSocket as openRawSocket, roomUrl, type Socket } from "./helpers.ts";

/** A main socket, once the room's hello has reached it. */
const openSocket = async (room: ReturnType<typeof at>): Promise<Socket> => {
  const socket = await openRawSocket(room);
  await waitFor(() => socket.greeting, Boolean, { what: "the presence hello" });
  return socket;
};

const say = (socket: Socket, state: unknown) => socket.send("x" + JSON.stringify({ t: "presence", state }));
/** The next coalesced presence frame on `socket` that sets `id`'s state. */
const setOf = async (socket: Socket, id: string) => messageIn(await socket.frame((frame) => messageIn(frame)?.set?.[id] !== undefined)).set[id];

describe("presence in workerd", () => {
  it("keeps every state through hibernation, in the attachments only, and a socket that closes leaves", async () => {
    const room = at("presence-hibernate");
    const stub = env.Main.getByName("presence-hibernate");
    const [alice, bob] = [await openSocket(room), await openSocket(room)];
    const [a, b] = [alice.greeting.self, bob.greeting.self];
    say(alice, { name: "alice" });
    say(bob, { name: "bob", cursor: [3, 4] });
    expect(await setOf(bob, a)).toEqual({ name: "alice" });
    expect(await setOf(alice, b)).toEqual({ name: "bob", cursor: [3, 4] });

    await evictDurableObject(stub);
    const carol = await openSocket(room);
    expect(carol.greeting.peers).toEqual({ [a]: { name: "alice" }, [b]: { name: "bob", cursor: [3, 4] } });
    const stored = await runInDurableObject(stub, async (_instance, state) => JSON.stringify([...(await state.storage.list()).values()]));
    expect(stored).not.toContain("alice");

    alice.ws.close(1000, "leaving");
    await carol.frame((frame) => messageIn(frame)?.left?.includes(a));
    expect((await call(roomUrl("presence-hibernate", "/presence"))).json()).toEqual({ peers: { [b]: { name: "bob", cursor: [3, 4] } } });
  });

  it("fits the largest state next to the most subscriptions in a socket's attachment, through hibernation", async () => {
    const room = at("presence-budget");
    const stub = env.Main.getByName("presence-budget");
    const socket = await openSocket(room);
    for (let n = 0; n < MAX_SUBSCRIPTIONS_PER_CONNECTION; n++) {
      socket.send("x" + JSON.stringify({ t: "sub", sid: String(n).padStart(MAX_MESSAGE_ID_CHARS, "s"), credit: 1 }));
    }
    // Short doubles: V8 serializes each in 9 bytes, against 4 of JSON ("1.5,"): the costliest state.
    const doubles = Array.from({ length: Math.floor((MAX_PRESENCE_BYTES - 10) / 4) }, () => 1.5);
    const state = { d: doubles };
    expect(JSON.stringify(state).length).toBeLessThanOrEqual(MAX_PRESENCE_BYTES);
    say(socket, state);
    const watcher = await openSocket(room);
    await waitForState(watcher, socket.greeting.self);
    expect(socket.frames.map(messageIn).filter((message) => message?.t === "error")).toEqual([]);
    await evictDurableObject(stub);
    const late = await openSocket(room);
    expect(late.greeting.peers[socket.greeting.self]).toEqual(state);
  });
});

/** Waits until `socket` knows `id`'s state, from its hello or a later frame. */
const waitForState = async (socket: Socket, id: string) => {
  if (socket.greeting.peers[id] === undefined) await setOf(socket, id);
};
