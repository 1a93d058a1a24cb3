// What a process costs, read from /proc (Linux): CPU time and memory of one
// process and its descendants. Read before and after a load to get the cost of
// that load.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

export interface ProcessSample {
  /** User + system CPU time, milliseconds. */
  readonly cpuMs: number;
  /** Resident set size now, bytes. */
  readonly rssBytes: number;
  /** Peak resident set size since start, bytes. */
  readonly hwmBytes: number;
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after it are plain.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function statusKb(pid: number, key: string): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const line = status.split('\n').find((l) => l.startsWith(`${key}:`));
    return line === undefined ? 0 : Number.parseInt(line.slice(key.length + 1).trim(), 10);
  } catch {
    return 0;
  }
}

/** The pid and every descendant (LiteLLM may run workers; Envoy and Node are one process). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields === undefined) continue;
    // After the command: state (0), ppid (1).
    const ppid = Number(fields[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

/**
 * Resets the peak resident memory (VmHWM) of the process and its descendants
 * to their current RSS (Linux 4.0+: "5" to /proc/<pid>/clear_refs), so that a
 * later sample's peak belongs to what happened in between. False if any reset
 * was refused; the peak then still counts from the process's start.
 */
export function resetPeak(pid: number): boolean {
  let reset = true;
  for (const member of processTree(pid)) {
    try {
      writeFileSync(`/proc/${member}/clear_refs`, '5');
    } catch {
      reset = false;
    }
  }
  return reset;
}

export function sampleProcess(pid: number): ProcessSample {
  let cpuTicks = 0;
  let rssKb = 0;
  let hwmKb = 0;
  for (const member of processTree(pid)) {
    const fields = statFields(member);
    if (fields === undefined) continue;
    // utime and stime are fields 14 and 15 of stat, 11 and 12 after the command.
    cpuTicks += Number(fields[11]) + Number(fields[12]);
    rssKb += statusKb(member, 'VmRSS');
    hwmKb += statusKb(member, 'VmHWM');
  }
  return { cpuMs: (cpuTicks * 1000) / TICKS_PER_SECOND, rssBytes: rssKb * 1024, hwmBytes: hwmKb * 1024 };
}
