// How `npm run cli -- reload` finds a running processor and learns what its
// reload did: each processor writes a small JSON file, `<pid>.json`, into a
// run directory private to the user (GATEWAY_RUN_DIR, or anthropic-gateway-
// <uid> under the system's temporary directory), rewrites it after each
// reload it was asked for by SIGHUP, and removes it when it stops. A file
// whose process is gone, or is no processor, is stale: it is ignored and
// removed, so a signal never goes to an unrelated process that reused a pid.
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReloadOutcome } from '../config/live.ts';
import type { Environment } from '../config/load.ts';

export interface ReloadReport {
  /** ISO 8601. */
  readonly at: string;
  readonly applied: boolean;
  readonly problems?: readonly string[];
  /** Settings the file changed that take effect only after a restart. */
  readonly needRestart?: readonly string[];
}

export interface ProcessorRecord {
  readonly pid: number;
  /** The address it serves ext_proc on. */
  readonly address: string;
  /** Its configuration file, absolute, or null when it runs on defaults. */
  readonly config: string | null;
  readonly startedAt: string;
  /** How many SIGHUP reloads it has done; `reload` waits for this to grow. */
  readonly reloads: number;
  readonly lastReload?: ReloadReport;
}

/** The directory the records live in (created 0700 on first use). */
export function runDirectory(env: Environment): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return env.GATEWAY_RUN_DIR || join(tmpdir(), `anthropic-gateway-${uid}`);
}

/** The run directory, made if need be; refused if it is not a private directory of this user. */
function privateDirectory(env: Environment): string {
  const dir = runDirectory(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) {
    throw new Error(`${dir} is not a directory of this user`);
  }
  if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  return dir;
}

export interface Registration {
  /** Records what a SIGHUP reload did. */
  reloaded(outcome: ReloadOutcome): void;
  remove(): void;
}

/** Writes this process's record; throws if the run directory cannot be used. */
export function registerProcessor(
  env: Environment,
  info: { readonly address: string; readonly config: string | null },
): Registration {
  const dir = privateDirectory(env);
  const path = join(dir, `${process.pid}.json`);
  let record: ProcessorRecord = {
    pid: process.pid,
    address: info.address,
    config: info.config,
    startedAt: new Date().toISOString(),
    reloads: 0,
  };
  const write = () => {
    // Whole or not at all: a reader never sees half a record.
    const partial = `${path}.${Date.now()}.tmp`;
    writeFileSync(partial, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    renameSync(partial, path);
  };
  write();
  return {
    reloaded(outcome) {
      const report: ReloadReport = outcome.applied
        ? { at: new Date().toISOString(), applied: true, needRestart: outcome.needRestart }
        : { at: new Date().toISOString(), applied: false, problems: outcome.problems };
      record = { ...record, reloads: record.reloads + 1, lastReload: report };
      write();
    },
    remove() {
      rmSync(path, { force: true });
    },
  };
}

/** Whether `pid` is alive and runs the processor (processor/main.ts). */
function isProcessor(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // Linux: NUL-separated argv. Elsewhere there is no /proc; liveness must do.
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((arg) => arg.endsWith('processor/main.ts'));
  } catch {
    return process.platform !== 'linux';
  }
}

function readRecord(path: string): ProcessorRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as Partial<ProcessorRecord>;
    if (!Number.isSafeInteger(record.pid) || typeof record.address !== 'string') return undefined;
    return record as ProcessorRecord;
  } catch {
    return undefined;
  }
}

/** The processors running now, by their records; stale records are removed. */
export function listProcessors(env: Environment): ProcessorRecord[] {
  const dir = runDirectory(env);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const running: ProcessorRecord[] = [];
  for (const name of names) {
    if (!/^\d+\.json$/.test(name)) continue;
    const path = join(dir, name);
    const record = readRecord(path);
    if (record !== undefined && `${record.pid}.json` === name && isProcessor(record.pid))
      running.push(record);
    else if (record !== undefined) rmSync(path, { force: true });
  }
  return running.sort((a, b) => a.pid - b.pid);
}

/** The current record of `pid`, if it still has one. */
export function readProcessor(env: Environment, pid: number): ProcessorRecord | undefined {
  return readRecord(join(runDirectory(env), `${pid}.json`));
}
