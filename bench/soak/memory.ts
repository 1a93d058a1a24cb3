// Envoy's and the processor's resident memory over a soak, sampled against the
// number of requests sent, and the slope of each: bytes per 10,000 requests
// (least squares). A processor that was killed and restarted is a new process:
// its slope is taken over the longest stretch one process lived.

import { sampleProcess } from '../lib/proc.ts';

export interface MemorySample {
  readonly atMs: number;
  readonly requests: number;
  readonly envoyPid: number | undefined;
  readonly envoyRssBytes: number;
  readonly processorPid: number | undefined;
  readonly processorRssBytes: number;
}

export interface MemorySlopes {
  /** Envoy, bytes per 10,000 requests, over the whole run. */
  readonly envoyPer10k: number | undefined;
  /** The processor, over the longest-lived process of the run. */
  readonly processorPer10k: number | undefined;
  /** How many requests the processor's slope spans. */
  readonly processorSpan: number;
}

export function sample(
  atMs: number,
  requests: number,
  pids: { processor: number | undefined; envoy: number | undefined },
): MemorySample {
  const rss = (pid: number | undefined) => (pid === undefined ? 0 : sampleProcess(pid).rssBytes);
  return {
    atMs,
    requests,
    envoyPid: pids.envoy,
    envoyRssBytes: rss(pids.envoy),
    processorPid: pids.processor,
    processorRssBytes: rss(pids.processor),
  };
}

/** Least-squares slope of y over x, or undefined with fewer than 3 points or no spread in x. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number | undefined {
  if (points.length < 3) return undefined;
  const n = points.length;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  }
  return den === 0 ? undefined : num / den;
}

/**
 * The slopes past the warm-up: samples taken before the first fifth of the
 * run's requests are left out (caches, pools and V8's heap fill first).
 */
export function slopes(all: readonly MemorySample[]): MemorySlopes {
  const warm = (all.at(-1)?.requests ?? 0) / 5;
  const samples = all.filter((s) => s.requests >= warm);
  const envoy = samples.filter((s) => s.envoyPid !== undefined && s.envoyRssBytes > 0);
  const envoySlope = slope(envoy.map((s) => [s.requests, s.envoyRssBytes] as const));
  const byProcessor = new Map<number, MemorySample[]>();
  for (const s of samples) {
    if (s.processorPid === undefined || s.processorRssBytes === 0) continue;
    const list = byProcessor.get(s.processorPid) ?? [];
    list.push(s);
    byProcessor.set(s.processorPid, list);
  }
  let longest: MemorySample[] = [];
  for (const list of byProcessor.values()) {
    const span = (l: MemorySample[]) => (l.at(-1)?.requests ?? 0) - (l[0]?.requests ?? 0);
    if (span(list) > span(longest)) longest = list;
  }
  // A new processor's heap grows to its working size first (2 MiB bodies, V8's
  // young and old spaces filling): its slope is taken over its second half.
  longest = longest.slice(Math.floor(longest.length / 2));
  const processorSlope = slope(longest.map((s) => [s.requests, s.processorRssBytes] as const));
  return {
    envoyPer10k: envoySlope === undefined ? undefined : envoySlope * 10_000,
    processorPer10k: processorSlope === undefined ? undefined : processorSlope * 10_000,
    processorSpan: (longest.at(-1)?.requests ?? 0) - (longest[0]?.requests ?? 0),
  };
}
