// Polls a condition instead of sleeping a fixed time; fails with what it last saw.
export const waitFor = async <T>(
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 15_000, everyMs = 25, what = "condition" } = {},
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}; last value: ${JSON.stringify(value)?.slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    value = await read();
  }
  return value;
};
