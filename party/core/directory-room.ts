// The room's side of the party's directory (directory/): the reporter a room gets from its
// adapter's link.
import { createReporter, type Reporter, type SendReport } from "./directory/reporter.ts";
import type { RoomCore } from "./room-core.ts";
import type { RoomContext } from "./room/types.ts";

/** What an adapter gives a room besides its options: how it reports to its party's directory (directory/). */
export interface RoomLinks {
  /** Sends one report to the party's directory; absent where there is none to reach (unit tests). */
  sendReport?: SendReport;
}

/** A room's reports of its figures, read from the core as it is now built. */
export const createRoomReporter = (options: RoomContext, send: SendReport, core: () => RoomCore): Reporter =>
  createReporter({
    name: options.name,
    storage: options.storage,
    storagePrefix: options.config.storagePrefix,
    state: () => {
      const { log, model } = core();
      return { head: log.head, first: log.first, events: log.head >= log.first ? log.head - log.first + 1 : 0, cells: model.cellCount, created: log.createdAt ?? null, lastWrite: log.lastWrite ?? null };
    },
    send,
    now: options.now,
    setTimer: options.setTimer,
    scheduleAlarm: options.scheduleAlarm,
    logError: (message, error) => options.logger.error(message, error),
  });
