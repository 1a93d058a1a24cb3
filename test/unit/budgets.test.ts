// Budgets (usd_per_day, usd_per_month) as plain values over the memory store,
// a fake clock moving time: admitted below the budget, refused from the moment
// the spend reaches it with a 403 that names it and its reset, never for
// count_tokens, and again in the next UTC day or calendar month.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UNPRICED } from '../../processor/config/default-catalog.ts';
import { buildConfig } from '../../processor/config/load.ts';
import { usdToNano } from '../../processor/cost/price.ts';
import { createLogger } from '../../processor/log.ts';
import { isRetryable } from '../../processor/policy/errors.ts';
import { budgetExceeded } from '../../processor/quota/errors.ts';
import {
  checksFor,
  DAY_MS,
  type QuotaPlan,
  spendChecks,
  windowEnd,
  windowId,
} from '../../processor/quota/limits.ts';
import { MemoryQuotaStore } from '../../processor/quota/memory-store.ts';
import { Quotas } from '../../processor/quota/quotas.ts';
import { settleTurn } from '../support/same-turn.ts';

const T0 = Date.UTC(2026, 0, 15, 10, 30, 0);

function quotas(plan: QuotaPlan, clock: { now: number }) {
  const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const store = new MemoryQuotaStore(() => clock.now);
  return {
    store,
    quotas: new Quotas({ plan: () => plan, store, failOpen: false, log: createLogger('info', sink) }),
  };
}

describe('month windows', () => {
  it('are UTC calendar months: numbered from January 1970, ending on the next first day', () => {
    expect(windowId('usd_per_month', Date.UTC(1970, 0, 1))).toBe(0);
    expect(windowId('usd_per_month', Date.UTC(2026, 0, 31, 23, 59, 59, 999))).toBe(56 * 12);
    expect(windowId('usd_per_month', Date.UTC(2026, 1, 1))).toBe(56 * 12 + 1);
    expect(windowEnd('usd_per_month', Date.UTC(2026, 1, 10))).toBe(Date.UTC(2026, 2, 1));
    expect(windowEnd('usd_per_month', Date.UTC(2026, 11, 31, 12))).toBe(Date.UTC(2027, 0, 1));
    expect(windowEnd('usd_per_day', T0)).toBe(Date.UTC(2026, 0, 16));
  });
});

describe('budget checks', () => {
  const plan: QuotaPlan = {
    tokens: new Map([['alice', { usd_per_day: 0.5, requests_per_minute: 100 }]]),
    workspaces: new Map([['research', { usd_per_month: 20 }]]),
  };

  it('count in nano-dollars, after the quota limits', () => {
    expect(checksFor(plan, 'alice', 'research').map((c) => [c.counter, c.max])).toEqual([
      ['requests_per_minute:token:alice', 100],
      ['usd_per_day:token:alice', 500_000_000],
      ['usd_per_month:workspace:research', 20_000_000_000],
    ]);
  });

  it('spend is counted for the token and workspace, day and month, budget or not', () => {
    expect(spendChecks(plan, 'bob', 'research').map((c) => [c.counter, c.max])).toEqual([
      ['usd_per_day:token:bob', Number.POSITIVE_INFINITY],
      ['usd_per_month:token:bob', Number.POSITIVE_INFINITY],
      ['usd_per_day:workspace:research', Number.POSITIVE_INFINITY],
      ['usd_per_month:workspace:research', 20_000_000_000],
    ]);
  });

  it('refuse with 403 permission_error, not to be retried, naming the budget and its reset', () => {
    const [, daily] = checksFor(plan, 'alice', 'research');
    if (daily === undefined) throw new Error('no check');
    const error = budgetExceeded(daily, T0);
    expect(error).toMatchObject({
      status: 403,
      type: 'permission_error',
      reason: 'budget_token_usd_per_day',
    });
    expect(error.message).toBe(
      'budget exhausted: token "alice" has spent its budget of $0.50 per day (UTC); it resets at 2026-01-16T00:00:00.000Z',
    );
    expect(isRetryable(error)).toBe(false);
    expect(error.headers).toBeUndefined();
  });
});

describe('Quotas with budgets, over the memory store', () => {
  it('admits while the spend is below the budget, refuses once it reaches it, until UTC midnight', async () => {
    const clock = { now: T0 };
    const plan: QuotaPlan = { tokens: new Map([['alice', { usd_per_day: 0.001 }]]), workspaces: new Map() };
    const { quotas: q } = quotas(plan, clock);
    expect(await q.admit('alice', 'research')).toBeUndefined();
    q.chargeCost('alice', 'research', usdToNano(0.000999));
    expect(await q.admit('alice', 'research')).toBeUndefined(); // $0.000999 of $0.001: not yet
    q.chargeCost('alice', 'research', 1_000); // $0.000001 more: exactly the budget
    const { value: refused, atOnce } = await settleTurn(() => q.admit('alice', 'research'));
    expect(refused).toMatchObject({ status: 403, reason: 'budget_token_usd_per_day' });
    expect(atOnce).toBe(true);
    clock.now = Date.UTC(2026, 0, 15, 23, 59, 59, 999);
    expect(await q.admit('alice', 'research')).toMatchObject({ reason: 'budget_token_usd_per_day' });
    clock.now = Date.UTC(2026, 0, 16);
    expect(await q.admit('alice', 'research')).toBeUndefined();
  });

  it('never holds back count_tokens, which costs nothing', async () => {
    const clock = { now: T0 };
    const plan: QuotaPlan = { tokens: new Map([['alice', { usd_per_day: 0.01 }]]), workspaces: new Map() };
    const { quotas: q } = quotas(plan, clock);
    q.chargeCost('alice', 'research', usdToNano(0.02));
    expect(await q.admit('alice', 'research', true)).toMatchObject({ reason: 'budget_token_usd_per_day' });
    expect(await q.admit('alice', 'research', false)).toBeUndefined();
  });

  it("adds up a workspace's tokens against its month, until the calendar month ends", async () => {
    const clock = { now: Date.UTC(2026, 1, 3) };
    const plan: QuotaPlan = { tokens: new Map(), workspaces: new Map([['research', { usd_per_month: 1 }]]) };
    const { quotas: q } = quotas(plan, clock);
    q.chargeCost('alice', 'research', usdToNano(0.6));
    clock.now = Date.UTC(2026, 1, 20); // later days of the same month add up
    q.chargeCost('bob', 'research', usdToNano(0.4));
    const refused = await q.admit('carol', 'research');
    expect(refused).toMatchObject({ status: 403, reason: 'budget_workspace_usd_per_month' });
    expect(refused?.message).toContain('workspace "research" has spent its budget of $1.00 per month (UTC)');
    expect(refused?.message).toContain('it resets at 2026-03-01T00:00:00.000Z');
    clock.now = Date.UTC(2026, 2, 1);
    expect(await q.admit('carol', 'research')).toBeUndefined();
  });

  it('a spent budget is named before a rate limit, and the one that lasts longest first', async () => {
    const clock = { now: T0 };
    const plan: QuotaPlan = {
      tokens: new Map([['alice', { requests_per_minute: 1, usd_per_day: 1, usd_per_month: 2 }]]),
      workspaces: new Map(),
    };
    const { quotas: q } = quotas(plan, clock);
    expect(await q.admit('alice', 'w')).toBeUndefined();
    expect(await q.admit('alice', 'w')).toMatchObject({ status: 429 });
    q.chargeCost('alice', 'w', usdToNano(1));
    expect(await q.admit('alice', 'w')).toMatchObject({ reason: 'budget_token_usd_per_day' });
    q.chargeCost('alice', 'w', usdToNano(1));
    expect(await q.admit('alice', 'w')).toMatchObject({ reason: 'budget_token_usd_per_month' });
  });

  it('records spend of tokens and workspaces without a budget, per day and month', async () => {
    const clock = { now: T0 };
    const { quotas: q, store } = quotas({ tokens: new Map(), workspaces: new Map() }, clock);
    expect(await q.admit('bob', 'w')).toBeUndefined();
    q.chargeCost('bob', 'w', 1234);
    q.chargeCost('bob', 'w', 0); // nothing
    clock.now = T0 + DAY_MS;
    q.chargeCost('bob', 'w', 1000);
    const read = await q.read(spendChecks({ tokens: new Map(), workspaces: new Map() }, 'bob', 'w'));
    expect(read.values).toEqual([1000, 2234, 1000, 2234]);
    expect((await store.read([])).now).toBe(T0 + DAY_MS);
  });
});

describe('budget configuration', () => {
  const ENV = { ANTHROPIC_API_KEY: 'sk-ant-test', GATEWAY_TOKEN: 'agw_test' };

  it('reads budgets per token and workspace, beside their quotas', () => {
    const loaded = buildConfig(
      {
        workspaces: [
          {
            id: 'w',
            upstream_api_key: { env: 'ANTHROPIC_API_KEY' },
            quota: { tokens_per_day: 10 },
            budget: { usd_per_month: 250 },
          },
        ],
        tokens: [{ id: 't', workspace: 'w', env: 'GATEWAY_TOKEN', budget: { usd_per_day: 1.5 } }],
      },
      ENV,
    );
    if (!loaded.ok) throw new Error(loaded.problems.join('; '));
    expect(loaded.config.quotaPlan.workspaces.get('w')).toEqual({ tokens_per_day: 10, usd_per_month: 250 });
    expect(loaded.config.quotaPlan.tokens.get('t')).toEqual({ usd_per_day: 1.5 });
    // With budgets set, the built-in models without a price are named: their requests count toward none.
    expect(loaded.warnings).toHaveLength(1);
    for (const id of UNPRICED.keys()) expect(loaded.warnings[0]).toContain(id);
  });

  it('refuses budgets that are not positive, and unknown names', () => {
    const with_ = (budget: unknown) =>
      buildConfig({ tokens: [{ id: 't', workspace: 'default', env: 'GATEWAY_TOKEN', budget }] }, ENV);
    expect(with_({ usd_per_day: 0 }).ok).toBe(false);
    expect(with_({ usd_per_day: -1 }).ok).toBe(false);
    expect(with_({ usd_per_week: 5 }).ok).toBe(false);
  });
});

describe('prices in the configuration', () => {
  const ENV = { ANTHROPIC_API_KEY: 'sk-ant-test', GATEWAY_TOKEN: 'agw_test' };
  const rates = { input: 2, output: 10, cache_write_5m: 2.5, cache_write_1h: 4, cache_read: 0.2 };

  it('a configured entry gives its own prices, or keeps the built-in price of its id, or has none', () => {
    const loaded = buildConfig(
      {
        catalog: [
          { id: 'claude-sonnet-4-6', provider: 'anthropic', display_name: 'Sonnet' },
          { id: 'claude-haiku-4-5', provider: 'anthropic', display_name: 'Haiku', prices: rates },
          { id: 'claude-new', provider: 'anthropic', display_name: 'New' },
        ],
      },
      ENV,
    );
    if (!loaded.ok) throw new Error(loaded.problems.join('; '));
    const { catalog } = loaded.config.policy;
    expect(catalog.get('claude-sonnet-4-6')?.prices).toMatchObject({ input: 3, output: 15 });
    expect(catalog.get('claude-haiku-4-5')?.prices).toEqual(rates);
    expect(catalog.get('claude-new')?.prices).toBeUndefined();
  });

  it('warns, when budgets are set, of Anthropic models without a price', () => {
    const loaded = buildConfig(
      {
        catalog: [{ id: 'claude-new', provider: 'anthropic', display_name: 'New' }],
        tokens: [{ id: 't', workspace: 'default', env: 'GATEWAY_TOKEN', budget: { usd_per_day: 1 } }],
      },
      ENV,
    );
    if (!loaded.ok) throw new Error(loaded.problems.join('; '));
    expect(loaded.warnings.join('\n')).toContain('claude-new has no price');
  });

  it('accepts long-prompt tiers, and refuses prices finer than $0.001 per million tokens or missing rates', () => {
    const entry = (prices: unknown) =>
      buildConfig({ catalog: [{ id: 'm', provider: 'anthropic', display_name: 'M', prices }] }, ENV);
    expect(entry({ ...rates, long_prompt: [{ above_prompt_tokens: 200_000, ...rates, input: 4 }] }).ok).toBe(
      true,
    );
    expect(entry({ ...rates, cache_read: 0.025, cache_write_5m: 0.125 }).ok).toBe(true);
    const fine = entry({ ...rates, cache_read: 0.0125 });
    expect(fine.ok ? [] : fine.problems.join('\n')).toContain('at most three decimals');
    expect(entry({ input: 1, output: 5 }).ok).toBe(false);
    expect(entry({ ...rates, input: -1 }).ok).toBe(false);
  });
});
