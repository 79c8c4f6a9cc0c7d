// Start-up of a room, shared by both adapters: a small state machine (idle → starting → started,
// back to idle on failure), as partyserver's own. A room that could not start (storage failed, a
// malformed variable) is tried again by the next request, frame or alarm, and answers `unavailable`
// (503, JSON) or closes sockets with 1011 meanwhile: never stuck until the object is evicted.
// Both runtimes would show a thrown start-up error to the client (partyserver answers its stack;
// PartyKit its message, and then never starts again), so adapters never let `ready` throw there.
import { ConfigError, RoomError, toRoomError } from "../core/common/errors.ts";

export interface Starter<T> {
  /** The started value, or undefined while not started. */
  readonly current: T | undefined;
  /** The started value, starting (again) if need be; a RoomError `unavailable` when start-up fails. */
  ready(): Promise<T>;
}

export const createStarter = <T>(start: () => Promise<T>, log: (error: unknown) => void): Starter<T> => {
  let current: T | undefined;
  let starting: Promise<T> | undefined;
  return {
    get current() {
      return current;
    },
    ready() {
      if (current !== undefined) return Promise.resolve(current);
      starting ??= start().then(
        (started) => (current = started),
        (error: unknown) => {
          starting = undefined;
          log(error);
          throw error instanceof ConfigError ? toRoomError(error) : new RoomError("unavailable", "The room could not start; try again.");
        },
      );
      return starting;
    },
  };
};
