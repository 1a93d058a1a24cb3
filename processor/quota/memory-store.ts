// Quota counters in this process's memory: one entry per configured counter,
// reset when its window has passed. Nothing grows with traffic. Its answers
// are promises (the stores' one style, store.ts) settled at once: the counters
// change when a method is called, before it returns.
import { isRequestLimit, type QuotaCheck, windowId } from './limits.ts';
import type { AdmitResult, QuotaStore, ReadResult } from './store.ts';

interface Count {
  window: number;
  value: number;
}

export class MemoryQuotaStore implements QuotaStore {
  private readonly counts = new Map<string, Count>();
  private readonly clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.clock = clock;
  }

  async admit(checks: readonly QuotaCheck[]): Promise<AdmitResult> {
    const now = this.clock();
    const over = checks.filter((check) => this.current(check, now).value >= check.max);
    if (over.length === 0) {
      for (const check of checks) if (isRequestLimit(check)) this.current(check, now).value += 1;
    }
    return { over, now };
  }

  async charge(checks: readonly QuotaCheck[], amount: number): Promise<void> {
    const now = this.clock();
    for (const check of checks) this.current(check, now).value += amount;
  }

  async read(checks: readonly QuotaCheck[]): Promise<ReadResult> {
    const now = this.clock();
    const values = checks.map((check) => {
      const count = this.counts.get(check.counter);
      return count !== undefined && count.window === windowId(check.limit, now) ? count.value : 0;
    });
    return { values, now };
  }

  /** The counter of `check` in the window of `now`, reset if its window has passed. */
  private current(check: QuotaCheck, now: number): Count {
    const window = windowId(check.limit, now);
    let count = this.counts.get(check.counter);
    if (count === undefined) {
      count = { window, value: 0 };
      this.counts.set(check.counter, count);
    } else if (count.window !== window) {
      count.window = window;
      count.value = 0;
    }
    return count;
  }

  async close(): Promise<void> {}
}
