// The answers a quota gives: 429 naming the limit, with retry-after; or 503
// when the counters cannot be read and the configuration says fail closed.
import type { GatewayError } from '../policy/errors.ts';
import { type QuotaCheck, secondsUntilWindowEnds } from './limits.ts';

const LIMIT_WORDS = {
  requests_per_minute: 'requests per minute',
  tokens_per_minute: 'input and output tokens per minute',
  tokens_per_day: 'tokens per day',
} as const;

/** Refuses a request over `check`'s limit; retry-after is when that window ends. */
export function quotaExceeded(check: QuotaCheck, now: number): GatewayError {
  const retryAfter = secondsUntilWindowEnds(check.limit, now);
  return {
    status: 429,
    type: 'rate_limit_error',
    message:
      `rate limit exceeded: ${check.scope} ${JSON.stringify(check.id)} has reached its limit of ` +
      `${check.max} ${LIMIT_WORDS[check.limit]}; retry after ${retryAfter} s`,
    reason: `quota_${check.scope}_${check.limit}`,
    headers: { 'retry-after': String(retryAfter) },
  };
}

/** Of several exceeded checks, the one whose window ends last: retrying sooner would be refused again. */
export function longestWait(over: readonly QuotaCheck[], now: number): QuotaCheck | undefined {
  let chosen: QuotaCheck | undefined;
  let wait = -1;
  for (const check of over) {
    const seconds = secondsUntilWindowEnds(check.limit, now);
    if (seconds > wait) {
      chosen = check;
      wait = seconds;
    }
  }
  return chosen;
}

export const QUOTA_STORE_UNAVAILABLE: GatewayError = {
  status: 503,
  type: 'api_error',
  message: 'the gateway cannot check its rate limits right now; try again',
  reason: 'quota_store_unavailable',
  headers: { 'retry-after': '1' },
};
