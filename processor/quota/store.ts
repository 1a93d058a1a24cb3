// Where quota counters live. Every operation answers with a promise, one
// style for both stores: the memory store's is settled at once (no I/O on the
// request's path), the Redis store's after one round trip (it shares counters
// between replicas).
import type { QuotaCheck } from './limits.ts';

export interface AdmitResult {
  /** The checks whose counter had reached its limit; empty means admitted. */
  readonly over: readonly QuotaCheck[];
  /** The store's clock (ms since the epoch) the windows were taken from. */
  readonly now: number;
}

export interface ReadResult {
  /** One value per check, in the checks' order. */
  readonly values: readonly number[];
  /** The store's clock (ms since the epoch) the windows were taken from. */
  readonly now: number;
}

export interface QuotaStore {
  /**
   * Atomically: if no check's counter has reached its maximum, adds one to
   * every requests_per_minute counter among `checks`. Token counters are read,
   * not changed.
   */
  admit(checks: readonly QuotaCheck[]): Promise<AdmitResult>;
  /**
   * Adds `amount` to each of these counters: tokens to token counters
   * (tokens_per_minute, tokens_per_day), nano-dollars to spend counters
   * (usd_per_day, usd_per_month).
   */
  charge(checks: readonly QuotaCheck[], amount: number): Promise<void>;
  /** The current window's value of each counter (0 for one never charged), for `npm run cli -- spend`. */
  read(checks: readonly QuotaCheck[]): Promise<ReadResult>;
  close(): Promise<void>;
}
