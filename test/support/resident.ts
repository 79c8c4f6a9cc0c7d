// The resident memory of a dev server's runtime: the workerd processes of its process group, read
// from Linux /proc (VmRSS). Not the CLI's own Node process in front of them. Used by the e2e
// memory tests and the benchmark.
import { readdirSync, readFileSync } from "node:fs";

/** The workerd processes of process group `group` (a server's `processGroup()`). */
export const workerdPids = (group: number | undefined): number[] => {
  const pids: number[] = [];
  if (group === undefined) return pids;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (comm === "workerd" && Number(fields[2]) === group) pids.push(Number(entry));
    } catch {
      // The process ended meanwhile.
    }
  }
  return pids;
};

/** The resident bytes of those processes now. */
export const residentBytes = (pids: number[]): number =>
  pids.reduce((sum, pid) => {
    try {
      const kib = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/)?.[1];
      return sum + Number(kib ?? 0) * 1024;
    } catch {
      return sum;
    }
  }, 0);

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

/**
 * The CPU seconds those processes have used so far (user + system, /proc/PID/stat). The difference
 * across a measurement is the runtime's own cost of it, which a loaded machine stretches in wall
 * time far more than in CPU time.
 */
export const cpuSeconds = (pids: number[]): number =>
  pids.reduce((sum, pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command's ")".
      return sum + (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    } catch {
      return sum;
    }
  }, 0);
