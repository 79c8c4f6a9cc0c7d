// The room's one alarm, shared by retention and webhook delivery: a request for an alarm at `at`
// sets it only when no alarm is set or the one set is later, so the alarm is always at the
// earliest time anyone needs. Requests run one after another, so that two of them cannot both read
// "no alarm" and the later time win. The alarm handler runs every job whose time has come and asks
// again for what is left (room-core.ts), so an alarm that fires early, or twice, costs one idle run.

export interface AlarmStorage {
  getAlarm(): Promise<number | null>;
  setAlarm(at: number): Promise<void>;
}

export const createAlarmScheduler = (storage: AlarmStorage): ((at: number) => Promise<void>) => {
  let chain: Promise<void> = Promise.resolve();
  return (at) => {
    const request = chain.then(async () => {
      // While the alarm handler runs, getAlarm() is null until something sets a new alarm.
      const current = await storage.getAlarm();
      if (current === null || at < current) await storage.setAlarm(at);
    });
    chain = request.catch(() => undefined);
    return request;
  };
};
