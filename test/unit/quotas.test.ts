// Quota limits, windows and decisions as plain values, over the memory store
// (a fake clock moves time) and over stores that fail.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../processor/log.ts';
import { createMetrics } from '../../processor/metrics/registry.ts';
import { longestWait, quotaExceeded } from '../../processor/quota/errors.ts';
import {
  checksFor,
  DAY_MS,
  MINUTE_MS,
  type QuotaPlan,
  secondsUntilWindowEnds,
} from '../../processor/quota/limits.ts';
import { MemoryQuotaStore } from '../../processor/quota/memory-store.ts';
import { Quotas } from '../../processor/quota/quotas.ts';
import type { QuotaStore } from '../../processor/quota/store.ts';
import { settleTurn } from '../support/same-turn.ts';

const T0 = Date.UTC(2026, 0, 15, 10, 30, 0); // on a minute boundary

const plan: QuotaPlan = {
  tokens: new Map([['alice', { requests_per_minute: 2, tokens_per_minute: 100 }]]),
  workspaces: new Map([['research', { tokens_per_day: 1000 }]]),
};

function silentLog() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  return { log: createLogger('info', sink), lines };
}

function memoryQuotas(clock: { now: number }, p: QuotaPlan = plan) {
  const store = new MemoryQuotaStore(() => clock.now);
  return new Quotas({ plan: () => p, store, failOpen: false, log: silentLog().log });
}

describe('windows', () => {
  it('counts minutes and UTC days from their start; retry-after is the rest of the window', () => {
    expect(secondsUntilWindowEnds('requests_per_minute', T0)).toBe(60);
    expect(secondsUntilWindowEnds('tokens_per_minute', T0 + 59_001)).toBe(1);
    expect(secondsUntilWindowEnds('tokens_per_minute', T0 + 59_999)).toBe(1);
    expect(secondsUntilWindowEnds('tokens_per_day', T0)).toBe((DAY_MS - (T0 % DAY_MS)) / 1000);
  });
});

describe('checksFor', () => {
  it("lists the token's limits, then its workspace's, and nothing for a token without any", () => {
    expect(checksFor(plan, 'alice', 'research').map((c) => c.counter)).toEqual([
      'requests_per_minute:token:alice',
      'tokens_per_minute:token:alice',
      'tokens_per_day:workspace:research',
    ]);
    expect(checksFor(plan, 'bob', 'other')).toEqual([]);
  });
});

describe('quotaExceeded', () => {
  it('answers 429 rate_limit_error naming the limit, with retry-after', () => {
    const [rpm] = checksFor(plan, 'alice', 'research');
    if (rpm === undefined) throw new Error('no check');
    const error = quotaExceeded(rpm, T0 + 45_000);
    expect(error).toMatchObject({
      status: 429,
      type: 'rate_limit_error',
      reason: 'quota_token_requests_per_minute',
      headers: { 'retry-after': '15' },
    });
    expect(error.message).toBe(
      'rate limit exceeded: token "alice" has reached its limit of 2 requests per minute; retry after 15 s',
    );
  });

  it('of several exceeded limits, names the one that lasts longest', () => {
    const checks = checksFor(plan, 'alice', 'research');
    expect(longestWait(checks, T0)?.limit).toBe('tokens_per_day');
  });
});

describe('Quotas over the memory store', () => {
  it('admits up to requests_per_minute, refuses the next, and admits again in the next minute', async () => {
    const clock = { now: T0 + 1_000 };
    const quotas = memoryQuotas(clock);
    expect(await quotas.admit('alice', 'research')).toBeUndefined();
    expect(await quotas.admit('alice', 'research')).toBeUndefined();
    // The memory store answers at once: no I/O, no later turn of the event loop.
    const { value: refused, atOnce } = await settleTurn(() => quotas.admit('alice', 'research'));
    expect(refused).toMatchObject({ status: 429, reason: 'quota_token_requests_per_minute' });
    expect(atOnce).toBe(true);
    clock.now = T0 + MINUTE_MS;
    expect(await quotas.admit('alice', 'research')).toBeUndefined();
  });

  it('refuses once the tokens charged reach tokens_per_minute, until the minute ends', async () => {
    const clock = { now: T0 };
    const quotas = memoryQuotas(clock, {
      tokens: new Map([['alice', { requests_per_minute: 10, tokens_per_minute: 100 }]]),
      workspaces: new Map(),
    });
    expect(await quotas.admit('alice', 'research')).toBeUndefined();
    quotas.charge('alice', 'research', 99);
    clock.now = T0 + MINUTE_MS - 1; // the same minute; the request counter too is near its end
    expect(await quotas.admit('alice', 'research')).toBeUndefined();
    quotas.charge('alice', 'research', 1);
    expect(await quotas.admit('alice', 'research')).toMatchObject({
      reason: 'quota_token_tokens_per_minute',
    });
    clock.now = T0 + MINUTE_MS;
    expect(await quotas.admit('alice', 'research')).toBeUndefined();
  });

  it("charges the workspace's daily budget from every token of it, and refuses at the budget", async () => {
    const clock = { now: T0 };
    const shared: QuotaPlan = {
      tokens: new Map(),
      workspaces: new Map([['research', { tokens_per_day: 1000 }]]),
    };
    const quotas = memoryQuotas(clock, shared);
    quotas.charge('alice', 'research', 600);
    quotas.charge('bob', 'research', 399);
    expect(await quotas.admit('carol', 'research')).toBeUndefined();
    quotas.charge('carol', 'research', 1);
    const refused = await quotas.admit('alice', 'research');
    expect(refused).toMatchObject({ reason: 'quota_workspace_tokens_per_day' });
    expect(refused?.message).toContain('workspace "research" has reached its limit of 1000 tokens per day');
    expect(await quotas.admit('dave', 'elsewhere')).toBeUndefined();
    clock.now = T0 + DAY_MS;
    expect(await quotas.admit('alice', 'research')).toBeUndefined();
  });

  it('does not count a refused request', async () => {
    const clock = { now: T0 };
    const quotas = memoryQuotas(clock, {
      tokens: new Map([['a', { requests_per_minute: 1 }]]),
      workspaces: new Map(),
    });
    expect(await quotas.admit('a', 'w')).toBeUndefined();
    for (let i = 0; i < 5; i += 1) expect(await quotas.admit('a', 'w')).toBeDefined();
    clock.now = T0 + MINUTE_MS;
    expect(await quotas.admit('a', 'w')).toBeUndefined();
    expect(await quotas.admit('a', 'w')).toBeDefined();
  });
});

describe('Quotas when the store fails', () => {
  const failing = (kind: 'sync' | 'async'): QuotaStore => ({
    admit: () => {
      if (kind === 'sync') throw new Error('down');
      return Promise.reject(new Error('down'));
    },
    charge: () => Promise.reject(new Error('down')),
    read: () => Promise.reject(new Error('down')),
    close: async () => {},
  });

  for (const kind of ['sync', 'async'] as const) {
    it(`fails closed by default with 503 (${kind} failure), logging once`, async () => {
      const { log, lines } = silentLog();
      const metrics = createMetrics({ defaultMetrics: false });
      const quotas = new Quotas({ plan: () => plan, store: failing(kind), failOpen: false, log, metrics });
      for (let i = 0; i < 3; i += 1) {
        expect(await quotas.admit('alice', 'research')).toMatchObject({
          status: 503,
          type: 'api_error',
          reason: 'quota_store_unavailable',
        });
      }
      expect(lines.filter((l) => l.includes('quota store unavailable'))).toHaveLength(1);
      expect((await metrics.quotaStoreErrors.get()).values[0]?.value).toBe(3);
    });

    it(`fails open when configured (${kind} failure)`, async () => {
      const quotas = new Quotas({
        plan: () => plan,
        store: failing(kind),
        failOpen: true,
        log: silentLog().log,
      });
      expect(await quotas.admit('alice', 'research')).toBeUndefined();
    });
  }

  it('never touches the store for a token and workspace without limits', async () => {
    const quotas = new Quotas({
      plan: () => plan,
      store: failing('sync'),
      failOpen: false,
      log: silentLog().log,
    });
    expect(await quotas.admit('bob', 'other')).toBeUndefined();
    quotas.charge('bob', 'other', 10);
  });
});
