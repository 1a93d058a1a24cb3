// Quota limits and budgets as plain values, and the windows they are counted
// in. A limit is counted in a window aligned to the UTC clock: the minute
// (from second 0), the day (from midnight) or, for a budget, the calendar
// month (from midnight on its first day). Every counter of one window expires
// with it.
import { usdToNano } from '../cost/price.ts';

export const LIMIT_NAMES = [
  'requests_per_minute',
  'tokens_per_minute',
  'tokens_per_day',
  'usd_per_day',
  'usd_per_month',
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

/** The spend limits (docs/operations.md, "Budgets"): counted in nano-dollars, set in USD. */
export const BUDGET_NAMES = ['usd_per_day', 'usd_per_month'] as const satisfies readonly LimitName[];
export type BudgetName = (typeof BUDGET_NAMES)[number];

/** Limits of one token or one workspace (budgets in USD); an absent limit is not enforced. */
export type QuotaLimits = { readonly [L in LimitName]?: number | undefined };

export type QuotaScope = 'token' | 'workspace';

/** Every token's and workspace's limits, by id; one immutable snapshot per configuration. */
export interface QuotaPlan {
  readonly tokens: ReadonlyMap<string, QuotaLimits>;
  readonly workspaces: ReadonlyMap<string, QuotaLimits>;
}

export const EMPTY_PLAN: QuotaPlan = { tokens: new Map(), workspaces: new Map() };

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;

export type Period = 'minute' | 'day' | 'month';

const PERIODS: Readonly<Record<LimitName, Period>> = {
  requests_per_minute: 'minute',
  tokens_per_minute: 'minute',
  tokens_per_day: 'day',
  usd_per_day: 'day',
  usd_per_month: 'month',
};

export function periodOf(limit: LimitName): Period {
  return PERIODS[limit];
}

/** The window `now` falls in, as a number that names it (minutes, days or months since the epoch). */
export function windowId(limit: LimitName, now: number): number {
  switch (periodOf(limit)) {
    case 'minute':
      return Math.floor(now / MINUTE_MS);
    case 'day':
      return Math.floor(now / DAY_MS);
    case 'month': {
      const date = new Date(now);
      return (date.getUTCFullYear() - 1970) * 12 + date.getUTCMonth();
    }
  }
}

/** When the window of `now` ends (ms since the epoch): the next minute, UTC midnight, or the next month's first day. */
export function windowEnd(limit: LimitName, now: number): number {
  switch (periodOf(limit)) {
    case 'minute':
      return (Math.floor(now / MINUTE_MS) + 1) * MINUTE_MS;
    case 'day':
      return (Math.floor(now / DAY_MS) + 1) * DAY_MS;
    case 'month': {
      const date = new Date(now);
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
    }
  }
}

/** Whole seconds until the window of `now` ends (at least 1): the retry-after of a refusal. */
export function secondsUntilWindowEnds(limit: LimitName, now: number): number {
  return Math.max(1, Math.ceil((windowEnd(limit, now) - now) / 1000));
}

/** One counter a request is checked against: a limit of a token or a workspace. */
export interface QuotaCheck {
  readonly scope: QuotaScope;
  readonly id: string;
  readonly limit: LimitName;
  /** In the counter's unit: requests, tokens, or nano-dollars for a budget. */
  readonly max: number;
  /** Names the counter (the store adds the window): `<limit>:<scope>:<id>`. */
  readonly counter: string;
}

export const isBudget = (limit: LimitName): limit is BudgetName =>
  limit === 'usd_per_day' || limit === 'usd_per_month';

function check(scope: QuotaScope, id: string, limit: LimitName, max: number): QuotaCheck {
  return {
    scope,
    id,
    limit,
    max: isBudget(limit) ? usdToNano(max) : max,
    counter: `${limit}:${scope}:${id}`,
  };
}

/** The checks for a request of `tokenId` in `workspaceId`: the token's limits, then the workspace's. */
export function checksFor(plan: QuotaPlan, tokenId: string, workspaceId: string): readonly QuotaCheck[] {
  const checks: QuotaCheck[] = [];
  for (const [scope, id, limits] of subjects(plan, tokenId, workspaceId)) {
    if (limits === undefined) continue;
    for (const limit of LIMIT_NAMES) {
      const max = limits[limit];
      if (max !== undefined) checks.push(check(scope, id, limit, max));
    }
  }
  return checks;
}

/**
 * The spend counters of a request of `tokenId` in `workspaceId`: the day's and
 * the month's, of the token and of its workspace, whether or not a budget is
 * set (one without a budget has an infinite `max`). Spend is recorded for
 * every token and workspace, so that `npm run cli -- spend` shows it all and
 * a budget added by a reload counts what was spent before.
 */
export function spendChecks(plan: QuotaPlan, tokenId: string, workspaceId: string): readonly QuotaCheck[] {
  return [...spendChecksOf(plan, 'token', tokenId), ...spendChecksOf(plan, 'workspace', workspaceId)];
}

/** The day's and the month's spend counters of one token or workspace. */
export function spendChecksOf(plan: QuotaPlan, scope: QuotaScope, id: string): readonly QuotaCheck[] {
  const limits = (scope === 'token' ? plan.tokens : plan.workspaces).get(id);
  return BUDGET_NAMES.map((limit) => {
    const max = limits?.[limit];
    return max === undefined
      ? { scope, id, limit, max: Number.POSITIVE_INFINITY, counter: `${limit}:${scope}:${id}` }
      : check(scope, id, limit, max);
  });
}

function subjects(
  plan: QuotaPlan,
  tokenId: string,
  workspaceId: string,
): ReadonlyArray<readonly [QuotaScope, string, QuotaLimits | undefined]> {
  return [
    ['token', tokenId, plan.tokens.get(tokenId)],
    ['workspace', workspaceId, plan.workspaces.get(workspaceId)],
  ];
}

export const isRequestLimit = (c: QuotaCheck): boolean => c.limit === 'requests_per_minute';
export const isTokenLimit = (c: QuotaCheck): boolean =>
  c.limit === 'tokens_per_minute' || c.limit === 'tokens_per_day';
export const isBudgetCheck = (c: QuotaCheck): boolean => isBudget(c.limit);
