// Where quota counters live. The memory store answers synchronously (no I/O
// on the request's path); the Redis store shares counters between replicas.
import type { QuotaCheck } from './limits.ts';

export interface AdmitResult {
  /** The checks whose counter had reached its limit; empty means admitted. */
  readonly over: readonly QuotaCheck[];
  /** The store's clock (ms since the epoch) the windows were taken from. */
  readonly now: number;
}

export interface QuotaStore {
  /**
   * Atomically: if no check's counter has reached its maximum, adds one to
   * every requests_per_minute counter among `checks`. Token counters are read,
   * not changed.
   */
  admit(checks: readonly QuotaCheck[]): AdmitResult | Promise<AdmitResult>;
  /** Adds `tokens` to each of these token counters (tokens_per_minute, tokens_per_day). */
  charge(checks: readonly QuotaCheck[], tokens: number): void | Promise<void>;
  close(): Promise<void>;
}
