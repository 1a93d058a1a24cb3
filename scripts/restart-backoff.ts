// How soon `npm start` restarts a processor that died: at once the first time
// (a quarter of a second), then twice as long after each failed attempt, up
// to 10 s between attempts; a processor that stayed up 10 s counts as a
// success, and the next failure starts from the shortest delay again. A crash
// is back in well under a second; a processor that cannot start (say, its
// configuration file broken) is retried every 10 s, not in a tight loop.
// (Docker's restart policy behaves alike: from 100 ms, doubling, up to a
// minute, reset after 10 s up.)

export interface RestartBackoff {
  readonly initialMs: number;
  readonly factor: number;
  readonly maxMs: number;
  /** Up this long, a processor's exit starts the backoff over. */
  readonly resetAfterMs: number;
}

export const RESTART_BACKOFF: RestartBackoff = {
  initialMs: 250,
  factor: 2,
  maxMs: 10_000,
  resetAfterMs: 10_000,
};

/** The delay before restart attempt `attempt` (1 for the first after a success). */
export function restartDelayMs(attempt: number, backoff: RestartBackoff = RESTART_BACKOFF): number {
  return Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.max(0, attempt - 1));
}

/** The attempt number after a processor that had been up `upMs` (0 when it never listened) went. */
export function nextAttempt(
  previous: number,
  upMs: number,
  backoff: RestartBackoff = RESTART_BACKOFF,
): number {
  return upMs >= backoff.resetAfterMs ? 1 : previous + 1;
}
