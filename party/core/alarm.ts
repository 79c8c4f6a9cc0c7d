// The room's alarm: webhook delivery, then retention (log/retention.ts).
// Postconditions: retention's trims are commit groups of their own, each durable before the next;
// while retention or delivery has work left, another alarm is asked for, and the room does not
// ask again for one after a write until this one has run.
import { RETENTION_RETRY_MS, runRetention, type RetentionPort } from "./log/retention.ts";
import { deliverFromAlarm } from "./webhooks/delivery.ts";
import type { WriteContext } from "./write/context.ts";

/** What retention may do: read the log, and move what the room retains, in a commit group. */
const retentionPort = (ctx: WriteContext): RetentionPort => ({
  log: ctx.log,
  get auditCursor() {
    return ctx.state.meta.auditCursor;
  },
  run: (job) => ctx.queue.run(job),
  retain: (batch, retained) => ctx.state.retain(batch, retained),
});

export const handleAlarm = async (ctx: WriteContext): Promise<void> => {
  const { state, now } = ctx;
  state.alarmRan();
  if (await runRetention(retentionPort(ctx), ctx.config.retention, now(), await deliverFromAlarm({ options: ctx.options, log: ctx.log }))) {
    // Asks for the retry whether or not a write asked meanwhile: the runtime keeps the earlier alarm.
    state.claimAlarm();
    await ctx.options.scheduleAlarm?.(now() + RETENTION_RETRY_MS);
  }
};
