// The TCP ports a process group listens on, read from Linux's /proc (no `ss` or `lsof` needed):
// /proc/net/tcp{,6} lists every socket of the network namespace with its inode, and
// /proc/PID/fd links each of a process's sockets to "socket:[INODE]".
// tsconfig.json lists only the Workers types; this file runs in Node.
/// <reference types="node" />
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** st column of /proc/net/tcp: 0A is TCP_LISTEN (include/net/tcp_states.h). */
const TCP_LISTEN = "0A";

export interface Listener {
  /** 127.0.0.1, 0.0.0.0, ::1, :: or another address, as text. */
  address: string;
  port: number;
  pid: number;
}

/** The members of process group `group`. */
const membersOf = (group: number): number[] =>
  readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        // Field 5 is the process group; the command name (field 2, in parentheses) may hold spaces.
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === group;
      } catch {
        return false; // exited meanwhile
      }
    })
    .map(Number);

const socketInodes = (pid: number): string[] => {
  try {
    return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        return inode === undefined ? [] : [inode];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
};

/** /proc/net/tcp's hex address: IPv4 as one little-endian word, IPv6 as four. */
const decodeAddress = (hex: string): string => {
  const words = hex.match(/.{8}/g)!.map((word) => word.match(/../g)!.reverse().join(""));
  if (words.length === 1) return words[0].match(/../g)!.map((byte) => parseInt(byte, 16)).join(".");
  const ipv6 = words.join("");
  if (/^0+$/.test(ipv6)) return "::";
  if (/^0+1$/.test(ipv6)) return "::1";
  return ipv6.match(/.{4}/g)!.join(":");
};

/** Every TCP socket that a member of process group `group` listens on. */
export const listenersOf = (group: number): Listener[] => {
  const owners = new Map<string, number>();
  for (const pid of membersOf(group)) for (const inode of socketInodes(pid)) owners.set(inode, pid);
  const listeners: Listener[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").trim().split("\n").slice(1)) {
      const [, local, , state, , , , , , inode] = line.trim().split(/\s+/);
      const pid = owners.get(inode);
      if (state !== TCP_LISTEN || pid === undefined) continue;
      const [address, port] = local.split(":");
      listeners.push({ address: decodeAddress(address), port: parseInt(port, 16), pid });
    }
  }
  return listeners;
};
