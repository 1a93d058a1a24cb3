// Budgets shared through a real redis-server: two processors, each with its
// own Redis store, hold one token to one daily budget (spend settled by one,
// refused by the other, not before the budget is reached); the calendar month
// as Redis's Lua computes it matches the processor's; and `spend` (the CLI
// command) reads the same counters back.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { describe, expect, it } from 'vitest';
import { spendCommand } from '../../processor/cli/spend.ts';
import type { SpendReport } from '../../processor/cost/spend.ts';
import { mintToken } from '../../processor/policy/tokens.ts';
import { checksFor, windowId } from '../../processor/quota/limits.ts';
import { MONTH_OF_LUA, type RedisQuotaStore } from '../../processor/quota/redis-store.ts';
import {
  accessLogEntry,
  createAccessLogClient,
  type PolicyExchange,
  policyExchange,
  usageValues,
} from '../support/access-log-client.ts';
import type { ExtProcClient } from '../support/extproc-client.ts';
import { expectGatewayError } from '../support/extproc-expect.ts';
import { buildTestConfig, oneTokenRaw } from '../support/extproc-server.ts';
import { useRedisReplicas } from '../support/redis-replicas.ts';

const token = mintToken();
const raw = oneTokenRaw({
  token,
  tokenId: 'capped',
  workspace: 'shared',
  tokenLimits: { budget: { usd_per_day: 0.001 } },
});
const config = buildTestConfig(raw, { ANTHROPIC_API_KEY: 'sk-ant-api03-budget-test' });

const replicas = useRedisReplicas();

async function replica(
  keyPrefix: string,
): Promise<{ client: ExtProcClient; address: string; store: RedisQuotaStore }> {
  const store = replicas.store(keyPrefix);
  await store.ready(5000);
  return { ...(await replicas.replica(config, store)), store };
}

/** The request's entry reaches the processor at `address`, as Envoy's access-log stream would carry it. */
async function settleOn(
  address: string,
  exchange: PolicyExchange,
  usage: Record<string, number>,
): Promise<void> {
  const accessLog = createAccessLogClient(address);
  const stream = accessLog.openStream();
  stream.send([accessLogEntry(exchange.facts, { usage: usageValues(usage) })]);
  expect((await stream.close()).code).toBe(0);
  accessLog.close();
}

describe('the calendar month in Redis', () => {
  it("is the processor's, at month edges, in leap years and far from now", async () => {
    const client = createClient({ url: replicas.redis.url });
    await client.connect();
    try {
      const instants = [
        Date.UTC(1970, 0, 1),
        Date.UTC(2024, 1, 29, 23, 59, 59, 999),
        Date.UTC(2024, 2, 1),
        Date.UTC(2025, 1, 28, 23, 59, 59, 999),
        Date.UTC(2025, 2, 1),
        Date.UTC(2026, 11, 31, 23, 59, 59, 999),
        Date.UTC(2027, 0, 1),
        Date.UTC(2100, 1, 28, 12),
        Date.UTC(2100, 2, 1),
        Date.UTC(2400, 1, 29),
        Date.now(),
      ];
      for (let day = 0; day < 800; day += 1) instants.push(Date.UTC(2026, 0, 1) + day * 86_400_000 - 1);
      const script = `${MONTH_OF_LUA}
local out = {}
for i = 1, #ARGV do out[i] = month_of(tonumber(ARGV[i])) end
return out`;
      const months = (await client.eval(script, { arguments: instants.map(String) })) as number[];
      expect(months).toEqual(instants.map((at) => windowId('usd_per_month', at)));
    } finally {
      await client.close();
    }
  });
});

describe('two processors sharing one Redis', () => {
  it('hold a token to one daily budget: admitted below it, refused by the other once reached', async () => {
    const prefix = `budget-${randomUUID()}:`;
    const a = await replica(prefix);
    const b = await replica(prefix);

    // Sonnet 4.6: 100 × $3/M + 20 × $15/M = $0.0006, below the budget of $0.001.
    const first = await policyExchange(a.client, { token, model: 'claude-sonnet-4-6' });
    expect(first.headers.response).toBe('request_headers');
    await settleOn(a.address, first, { input_tokens: 100, output_tokens: 20 });
    await expect
      .poll(() => a.store.read(checksFor(config.quotaPlan, 'capped', 'shared')))
      .toMatchObject({
        values: [600_000],
      });
    const second = await policyExchange(b.client, { token, model: 'claude-sonnet-4-6' });
    expect(second.headers.response).toBe('request_headers');
    await settleOn(b.address, second, { input_tokens: 100, output_tokens: 20 });

    // $0.0012 now: the next request is refused, on either processor, before anything goes upstream.
    const requestId = randomUUID();
    await expect
      .poll(async () => (await policyExchange(a.client, { token, requestId })).headers.response)
      .toBe('immediate_response');
    const refused = await policyExchange(a.client, { token, requestId });
    const midnight = new Date(Math.floor(Date.now() / 86_400_000 + 1) * 86_400_000).toISOString();
    expectGatewayError(refused.headers, {
      status: 403,
      type: 'permission_error',
      message: `budget exhausted: token "capped" has spent its budget of $0.001 per day (UTC); it resets at ${midnight}`,
      requestId,
      reason: 'budget_token_usd_per_day',
    });
    expect(refused.body).toBeUndefined();
    expect((await policyExchange(b.client, { token })).facts.reason).toBe('budget_token_usd_per_day');
    // count_tokens costs nothing: a spent budget does not stop it.
    const counted = await policyExchange(b.client, {
      token,
      path: '/ai-gateway/anthropic/v1/messages/count_tokens',
    });
    expect(counted.headers.response).toBe('request_headers');
  });

  it('spend (the CLI command) reads the day and month back from Redis', async () => {
    const prefix = `cli-${randomUUID()}:`;
    const a = await replica(prefix);
    const exchange = await policyExchange(a.client, { token, model: 'claude-haiku-4-5' });
    // Haiku 4.5: 1,000 × $1/M + 2,000 cache reads × $0.10/M + 40 × $5/M = $0.0014.
    await settleOn(a.address, exchange, {
      input_tokens: 1000,
      cache_read_input_tokens: 2000,
      output_tokens: 40,
    });

    const dir = mkdtempSync(join(tmpdir(), 'spend-cli-'));
    try {
      const file = join(dir, 'gateway.json');
      writeFileSync(
        file,
        JSON.stringify({
          ...raw,
          quotas: { store: 'redis', redis: { url: { env: 'REDIS_URL' }, key_prefix: prefix } },
        }),
      );
      const run = async (args: string[]) => {
        let stdout = '';
        let stderr = '';
        const code = await spendCommand(
          [file, ...args],
          { REDIS_URL: replicas.redis.url },
          {
            stdout: (text) => {
              stdout += text;
            },
            stderr: (text) => {
              stderr += text;
            },
          },
        );
        return { code, stdout, stderr };
      };
      // The charge is written just after the access line: wait until Redis has it.
      await expect.poll(async () => (await run(['--json'])).stdout).toContain('0.0014');
      const json = await run(['--json']);
      expect(json.stderr).toBe('');
      expect(json.code).toBe(0);
      const report = JSON.parse(json.stdout) as SpendReport;
      expect(report.store).toBe('redis');
      expect(report.rows).toEqual([
        {
          scope: 'workspace',
          id: 'shared',
          day: { spentUsd: 0.0014, budgetUsd: null, reached: false },
          month: { spentUsd: 0.0014, budgetUsd: null, reached: false },
        },
        {
          scope: 'token',
          id: 'capped',
          day: { spentUsd: 0.0014, budgetUsd: 0.001, reached: true },
          month: { spentUsd: 0.0014, budgetUsd: null, reached: false },
        },
      ]);
      const text = await run([]);
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/^token\s+capped\s+\$0\.0014\s+\$0\.001 \(reached\)\s+\$0\.0014\s+none$/m);
      expect(text.stdout).toMatch(/^workspace\s+shared\s+\$0\.0014\s+none\s+\$0\.0014\s+none$/m);
      expect(text.stdout).not.toContain(replicas.redis.url);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('spend when Redis cannot be reached', () => {
  it('says so, without the URL, and fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spend-cli-'));
    try {
      const file = join(dir, 'gateway.json');
      const url = 'redis://:hunter2@127.0.0.1:1';
      writeFileSync(file, JSON.stringify({ quotas: { store: 'redis', redis: { url, timeout_ms: 100 } } }));
      let stderr = '';
      const code = await spendCommand([file], {}, { stdout: () => {}, stderr: (text) => (stderr += text) });
      expect(code).toBe(1);
      expect(stderr).toContain('cannot read the Redis store');
      expect(stderr).not.toContain('hunter2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
