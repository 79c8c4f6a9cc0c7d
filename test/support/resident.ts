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
