// Quota limits as plain values, and the fixed windows they are counted in.
// A limit is counted in a window aligned to the clock: the minute (UTC, from
// second 0) or the day (UTC, from midnight). Every counter of one window
// expires with it.

export const LIMIT_NAMES = ['requests_per_minute', 'tokens_per_minute', 'tokens_per_day'] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

/** Limits of one token or one workspace; an absent limit is not enforced. */
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

export function windowMs(limit: LimitName): number {
  return limit === 'tokens_per_day' ? DAY_MS : MINUTE_MS;
}

/** The window `now` falls in, as a number that names it (minutes or days since the epoch). */
export function windowId(limit: LimitName, now: number): number {
  return Math.floor(now / windowMs(limit));
}

/** Whole seconds until the window of `now` ends (at least 1): the retry-after of a refusal. */
export function secondsUntilWindowEnds(limit: LimitName, now: number): number {
  const length = windowMs(limit);
  const end = (Math.floor(now / length) + 1) * length;
  return Math.max(1, Math.ceil((end - now) / 1000));
}

/** One counter a request is checked against: a limit of a token or a workspace. */
export interface QuotaCheck {
  readonly scope: QuotaScope;
  readonly id: string;
  readonly limit: LimitName;
  readonly max: number;
  /** Names the counter (the store adds the window): `<limit>:<scope>:<id>`. */
  readonly counter: string;
}

function check(scope: QuotaScope, id: string, limit: LimitName, max: number): QuotaCheck {
  return { scope, id, limit, max, counter: `${limit}:${scope}:${id}` };
}

/** The checks for a request of `tokenId` in `workspaceId`: the token's limits, then the workspace's. */
export function checksFor(plan: QuotaPlan, tokenId: string, workspaceId: string): readonly QuotaCheck[] {
  const checks: QuotaCheck[] = [];
  const subjects: ReadonlyArray<readonly [QuotaScope, string, QuotaLimits | undefined]> = [
    ['token', tokenId, plan.tokens.get(tokenId)],
    ['workspace', workspaceId, plan.workspaces.get(workspaceId)],
  ];
  for (const [scope, id, limits] of subjects) {
    if (limits === undefined) continue;
    for (const limit of LIMIT_NAMES) {
      const max = limits[limit];
      if (max !== undefined) checks.push(check(scope, id, limit, max));
    }
  }
  return checks;
}

export const isRequestLimit = (c: QuotaCheck): boolean => c.limit === 'requests_per_minute';
export const isTokenLimit = (c: QuotaCheck): boolean => c.limit !== 'requests_per_minute';
