import { describe, expect, it } from 'vitest';
import { nextAttempt, RESTART_BACKOFF, restartDelayMs } from '../../scripts/restart-backoff.ts';

describe("npm start's restart backoff", () => {
  it('starts at 250 ms and doubles up to 10 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((attempt) => restartDelayMs(attempt))).toEqual([
      250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000,
    ]);
  });

  it('starts over once a processor has stayed up 10 s, and counts on otherwise', () => {
    expect(nextAttempt(5, RESTART_BACKOFF.resetAfterMs)).toBe(1);
    expect(nextAttempt(5, RESTART_BACKOFF.resetAfterMs - 1)).toBe(6);
    // A processor that never listened.
    expect(nextAttempt(0, 0)).toBe(1);
    expect(nextAttempt(2, 0)).toBe(3);
  });
});
