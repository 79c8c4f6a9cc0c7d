// A PUT of the whole store: the first save, or (with If-Match) an atomic replace of it.
// Postconditions:
// - The store writes and their $init or $replace event are in one commit group; the answer and
//   the broadcast of what changed come after that write is durable.
// - A PUT without If-Match into a room that has a store changes nothing and answers 205.
// - A replace is all or nothing: a hook that rejects or rewrites any of it, a stale If-Match, a
//   refusal of the validation webhook or a failed write leaves memory and storage as they were.
import { EVENT_INIT, EVENT_REPLACE } from "../../protocol.ts";
import { isEmptyChanges, type Changes, type Content } from "../store/changes.ts";
import { RoomError } from "../common/errors.ts";
import { filterChanges } from "../room/hooks.ts";
import type { PutResult } from "../room/types.ts";
import { changesOf } from "../store/model.ts";
import { commitStore, vet } from "./store-commit.ts";
import { validateWrite } from "./validation-webhook.ts";
import type { WriteContext } from "./context.ts";

/** `ifMatch`: the store's seq a replace expects, or `"*"` to replace whatever it is at (a restore). */
export const putStore = (ctx: WriteContext, content: Content, origin: unknown, ifMatch?: number | "*"): Promise<PutResult> => {
  const { state, hooks } = ctx;
  const { model } = state;
  return ctx.queue.run(async (batch) => {
    const replacing = ifMatch !== undefined;
    if (!replacing && model.hasStore) return { status: 205 as const, seq: state.meta.storeSeq };
    if (replacing && ifMatch !== "*" && ifMatch !== state.meta.storeSeq) {
      throw new RoomError("precondition_failed", `The store is at seq ${state.meta.storeSeq}, not ${ifMatch}.`);
    }
    await validateWrite(ctx.options, "put", content, origin);
    const initialSave = !model.hasStore;
    const asChanges: Changes = initialSave
      ? [content[0], content[1], 1]
      : changesOf(model.planReplace(content));
    const vetted = await vet(ctx, asChanges, initialSave, origin);
    if (!vetted) throw new RoomError("forbidden", "The room's rules did not accept this store.");
    const { accepted, rejected } = await filterChanges(hooks, vetted, { initialSave, origin, model });
    if (rejected && (replacing || isEmptyChanges(accepted) !== isEmptyChanges(asChanges))) {
      throw new RoomError("forbidden", "The room's rules did not accept this store.");
    }
    if (!initialSave && vetted !== asChanges) {
      throw new RoomError("forbidden", "The room's rules would rewrite this store; a replace is all or nothing.");
    }
    const writes = initialSave ? model.plan(accepted) : model.planReplace(content);
    const diff = changesOf(writes);
    // The content as stored: no deletion of what was not there, no empty table or row.
    const stored = changesOf(writes.filter((write) => write.value !== undefined));
    const data = [stored[0], stored[1]];
    const { event } = commitStore(ctx, batch, { writes, type: initialSave ? EVENT_INIT : EVENT_REPLACE, data });
    if (!isEmptyChanges(diff)) ctx.broadcaster.queue(batch, { changes: diff, writes });
    return { status: replacing ? (initialSave ? 201 : 200) : 201, seq: event.seq } as PutResult;
  });
};
