// The shape of one run's raw results (bench/results/*.json), written by
// bench/run.ts and read by bench/report.ts.
import type { BodySize } from './bodies.ts';
import type { MachineInfo } from './machine.ts';
import type { LatencySummary } from './stats.ts';
import type { SystemName } from './systems.ts';

export interface ClosedLoopResult {
  readonly system: SystemName;
  readonly body: BodySize;
  readonly concurrency: number;
  readonly latency: LatencySummary;
  /** Requests per second of each round. */
  readonly rps: number[];
  readonly failures: number;
}

export interface CostResult {
  readonly system: SystemName;
  readonly requests: number;
  /** CPU milliseconds per 1,000 requests, by process role (envoy, processor, ...). */
  readonly cpuMsPer1000: Readonly<Record<string, number>>;
  /** Resident memory after the load, by role, bytes. */
  readonly rssBytes: Readonly<Record<string, number>>;
}

export interface RateStep {
  readonly rate: number;
  readonly achieved: number;
  readonly p99: number;
  readonly failures: number;
  readonly pass: boolean;
}

export interface ThroughputResult {
  readonly system: SystemName;
  /** The highest rate that passed, requests per second (0 if none did). */
  readonly best: number;
  readonly steps: RateStep[];
}

export interface SseResult {
  readonly system: SystemName;
  readonly concurrency: number;
  readonly streams: number;
  readonly firstEvent: LatencySummary;
  /** Gaps between consecutive events, ms. */
  readonly gap: LatencySummary;
  /** First to last event, ms. */
  readonly span: LatencySummary;
  readonly incomplete: number;
  /** Why the first incomplete stream failed (status and the start of its body). */
  readonly firstFailure?: string;
}

export interface HugeBodyResult {
  readonly system: SystemName;
  readonly bytes: number;
  readonly status: number[];
  readonly seconds: number[];
  /**
   * Per process role: resident memory before the big requests and the peak
   * over all of them; and, when the peak could be reset before each request
   * (bench/lib/proc.ts resetPeak), the largest growth one request caused: its
   * peak minus the resident memory just before it.
   */
  readonly memory: Readonly<
    Record<
      string,
      {
        readonly rssBeforeBytes: number;
        readonly hwmAfterBytes: number;
        readonly oneBodyGrowthBytes?: number;
      }
    >
  >;
}

export interface RunResults {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly command: string;
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly loadBefore: [number, number, number];
  readonly loadAfter: [number, number, number];
  readonly settings: {
    readonly rounds: number;
    readonly secondsPerRun: number;
    readonly p99BoundMs: number;
    readonly rateStepSeconds: number;
    readonly processorTransport: string;
  };
  readonly skipped: Readonly<Partial<Record<SystemName, string>>>;
  /** Phases that failed, and why; their figures are missing. */
  readonly errors?: readonly string[];
  readonly preflight: Readonly<Partial<Record<SystemName, string>>>;
  readonly closedLoop: ClosedLoopResult[];
  readonly cost: CostResult[];
  readonly throughput: ThroughputResult[];
  readonly sse: SseResult[];
  readonly huge: HugeBodyResult[];
}
