// The answers a quota gives: 429 naming the limit, with retry-after; or 503
// when the counters cannot be read and the configuration says fail closed.
import { formatUsd } from '../cost/price.ts';
import type { GatewayError } from '../policy/errors.ts';
import { isBudgetCheck, type QuotaCheck, secondsUntilWindowEnds, windowEnd } from './limits.ts';

const LIMIT_WORDS = {
  requests_per_minute: 'requests per minute',
  tokens_per_minute: 'input and output tokens per minute',
  tokens_per_day: 'tokens per day',
  usd_per_day: 'per day (UTC)',
  usd_per_month: 'per month (UTC)',
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

/**
 * Refuses a request whose token or workspace has spent its budget for the
 * period. 403 permission_error, not 429: retrying cannot help before the
 * period ends, and the SDKs and Claude Code retry 429 (and 408, 409, 5xx) but
 * never a 403; `x-should-retry: false` (isRetryable) says so too. The message
 * names the budget and when it resets (docs/operations.md, "Budgets").
 */
export function budgetExceeded(check: QuotaCheck, now: number): GatewayError {
  const resets = new Date(windowEnd(check.limit, now)).toISOString();
  return {
    status: 403,
    type: 'permission_error',
    message:
      `budget exhausted: ${check.scope} ${JSON.stringify(check.id)} has spent its budget of ` +
      `${formatUsd(check.max)} ${LIMIT_WORDS[check.limit]}; it resets at ${resets}`,
    reason: `budget_${check.scope}_${check.limit}`,
    retryable: false,
  };
}

/**
 * The refusal for the exceeded checks: a budget before a rate limit (a budget
 * lasts until its period ends, and its answer says not to retry), and of
 * several, the one whose window ends last.
 */
export function refusalFor(over: readonly QuotaCheck[], now: number): GatewayError | undefined {
  const budgets = over.filter(isBudgetCheck);
  if (budgets.length > 0) {
    const budget = longestWait(budgets, now);
    return budget === undefined ? undefined : budgetExceeded(budget, now);
  }
  const check = longestWait(over, now);
  return check === undefined ? undefined : quotaExceeded(check, now);
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
