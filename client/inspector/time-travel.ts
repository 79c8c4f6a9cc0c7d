// The inspector's time travel: a log-position control (a slider and a seq) that shows the store
// as it was right after that event (`GET {storePath}?at=`), read-only, and restores it when the
// token may write ("Restore to here", after a confirmation: `POST {room}/restore`). A click on an
// event's seq in the event list shows the store right after that event.
import { byId } from "./dom.ts";
import { getSnapshot, readEventPage, restoreStore, type HttpOptions } from "../http.ts";

/** Most characters of a past store shown: the rest is cut, with a note (the room's GET has it all). */
const MAX_SHOWN_CHARS = 200_000;

export interface TimeTravelOptions {
  http: HttpOptions;
  canWrite: () => boolean;
  /** Oldest seq retention keeps (the stats'): the store is known from first-1 on. */
  first: () => number;
  onError: (error: Error) => void;
  /** The event list (log.ts): a click on an event's seq shows the store right after it. */
  events: HTMLElement;
}

export const createTimeTravel = ({ http, canWrite, first, onError, events }: TimeTravelOptions) => {
  const form = byId<HTMLFormElement>("travel-form");
  const range = form.elements.namedItem("range") as HTMLInputElement;
  const seq = form.elements.namedItem("at") as HTMLInputElement;
  const status = byId("travel-status");
  const shown = byId("travel-store");
  const restore = byId<HTMLButtonElement>("travel-restore");
  const error = byId("travel-error");
  let showing: number | undefined;

  /** The slider's bounds: from first-1 to the log's head as it is now. */
  const bounds = async () => {
    const { head } = await readEventPage(http, { limit: 1, after: "past-events" });
    range.min = seq.min = String(Math.max(0, first() - 1));
    range.max = seq.max = String(head);
    return head;
  };

  const show = async (at: number) => {
    error.textContent = "";
    range.value = seq.value = String(at);
    const snapshot = await getSnapshot(http, { at });
    showing = at;
    const [tables, values] = snapshot.content ?? [{}, {}];
    const rows = Object.values(tables).reduce((sum, table) => sum + Object.keys(table).length, 0);
    status.textContent = snapshot.content
      ? `The store right after seq ${at} (last store change: seq ${snapshot.seq}): ${Object.keys(tables).length} tables, ${rows} rows, ${Object.keys(values).length} values. Read-only.`
      : `No store yet right after seq ${at}.`;
    const text = snapshot.content ? JSON.stringify(snapshot.content, null, 1) : "";
    shown.textContent = text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS)}\n… (cut: the whole store is at GET ?at=${at})` : text;
    restore.disabled = !canWrite() || !snapshot.content;
  };

  const fail = (caught: Error) => {
    error.textContent = caught.message;
    onError(caught);
  };
  range.addEventListener("input", () => (seq.value = range.value));
  range.addEventListener("change", () => void show(Number(range.value)).catch(fail));
  range.addEventListener("pointerdown", () => void bounds().catch(fail));
  form.addEventListener("submit", (submit) => {
    submit.preventDefault();
    range.value = seq.value;
    void bounds()
      .then(() => show(Number(seq.value)))
      .catch(fail);
  });
  events.addEventListener("click", (click) => {
    const item = (click.target as HTMLElement).closest(".seq")?.closest<HTMLElement>("[data-seq]");
    if (!item) return;
    void bounds()
      .then(() => show(Number(item.dataset.seq)))
      .catch(fail);
  });
  restore.addEventListener("click", () => {
    const at = showing;
    if (at === undefined || !canWrite()) return;
    if (!confirm(`Restore the whole store to how it was right after seq ${at}? Every client gets the change; the log keeps what it replaces.`)) return;
    void restoreStore(http, at)
      .then(async ({ seq: restoredSeq }) => {
        const head = await bounds();
        status.textContent = `Restored to seq ${at}, as seq ${restoredSeq} (head ${head}).`;
      })
      .catch(fail);
  });

  return {
    /** Reads the bounds and shows the store at the head. */
    start: async () => {
      const head = await bounds();
      range.value = seq.value = String(head);
    },
  };
};
