// Runs oha (the load generator, built by bench/setup.sh) and reads back every
// request's latency from the SQLite file it writes, so rounds can be merged
// and percentiles computed exactly. oha drives HTTP/1.1 with keep-alive, either
// closed-loop (`concurrency` connections, each sending its next request when
// the last one is answered) or open-loop (`rate` requests per second on a
// fixed schedule, with latency measured from the scheduled start, so queueing
// is never hidden: coordinated omission corrected).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { REPO_ROOT } from './systems.ts';

export const OHA_BIN = join(REPO_ROOT, '.tools/bin/oha');

export interface LoadSpec {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly bodyFile: string;
  readonly concurrency: number;
  /** Run for this long (then wait for the requests in flight), or send `requests` requests. */
  readonly seconds?: number;
  readonly requests?: number;
  /** Open loop: requests per second on a fixed schedule. */
  readonly rate?: number;
}

export interface LoadResult {
  /** Latency of every successful (2xx) request, milliseconds, in completion order. */
  readonly latenciesMs: number[];
  /** Responses by status, and failures by oha's description. */
  readonly statuses: Readonly<Record<string, number>>;
  readonly errors: Readonly<Record<string, number>>;
  /** Wall time of the run, seconds. */
  readonly elapsedSeconds: number;
}

interface OhaSummary {
  summary: { total: number };
  statusCodeDistribution: Record<string, number>;
  errorDistribution: Record<string, number>;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-oha-'));
  const db = join(dir, 'requests.db');
  const args = ['--no-tui', '--output-format', 'json', '--db-url', db, '-m', 'POST', '-D', spec.bodyFile];
  args.push('-T', 'application/json', '-c', String(spec.concurrency));
  for (const [name, value] of Object.entries(spec.headers)) args.push('-H', `${name}: ${value}`);
  if (spec.requests !== undefined) args.push('-n', String(spec.requests));
  else args.push('-z', `${spec.seconds ?? 5}s`, '-w');
  if (spec.rate !== undefined) args.push('-q', String(spec.rate), '--latency-correction');
  args.push(spec.url);
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(OHA_BIN, args, { maxBuffer: 64 * 1024 * 1024 }, (error, out, err) =>
        error ? reject(new Error(`oha failed: ${error.message}\n${err}`)) : resolve(out),
      );
    });
    const summary = JSON.parse(stdout) as OhaSummary;
    const database = new DatabaseSync(db, { readOnly: true });
    const rows = database
      .prepare('SELECT duration FROM oha WHERE status >= 200 AND status < 300 ORDER BY end')
      .all() as Array<{ duration: number }>;
    database.close();
    return {
      latenciesMs: rows.map((row) => row.duration * 1000),
      statuses: summary.statusCodeDistribution,
      errors: summary.errorDistribution,
      elapsedSeconds: summary.summary.total,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function ohaVersion(): Promise<string> {
  return new Promise((resolve) => {
    execFile(OHA_BIN, ['--version'], (error, out) => resolve(error ? 'unknown' : out.trim()));
  });
}
