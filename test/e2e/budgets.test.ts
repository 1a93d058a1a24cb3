// Cost and budgets through the real Envoy, driven by the TypeScript SDK: each
// request's cost, from the usage Envoy read, in the access line, in
// gateway_cost_usd_total and in `npm run cli -- spend`; a token with a tiny
// daily budget admitted until its recorded spend reaches it, then refused
// with a 403 the SDK does not retry, naming the budget and its reset; the
// same for a workspace's monthly budget counted in Redis; and Claude Code
// shown the refusal at once.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpendReport, SpendRow } from '../../processor/cost/spend.ts';
import { OFFLINE_ENV, runClaudeCode } from '../support/claude-code.ts';
import { json, messageBody, sseResponder, textStreamEvents, type Usage } from '../support/fake-upstream.ts';
import { type GatewayStack, type LogEntry, startStack } from '../support/gateway-stack.ts';
import { type RecordingProxy, startRecordingProxy } from '../support/recording-proxy.ts';
import { type RunningRedis, startRedis } from '../support/redis-server.ts';

const MODEL = 'claude-sonnet-4-6';
const CAPPED_TOKEN = 'agw_e2e_capped_token_0123456789abcdefghijklmnop';
const MEMBER_TOKEN = 'agw_e2e_member_token_0123456789abcdefghijklmnop';
const CLI = join(import.meta.dirname, '../../processor/cli.ts');

const config = (extra: Record<string, unknown> = {}) => ({
  workspaces: [
    { id: 'default', upstream_api_key: { env: 'ANTHROPIC_API_KEY' } },
    { id: 'team', upstream_api_key: { env: 'ANTHROPIC_API_KEY' }, budget: { usd_per_month: 0.0005 } },
  ],
  tokens: [
    { id: 'default', workspace: 'default', env: 'GATEWAY_TOKEN' },
    { id: 'capped', workspace: 'default', env: 'CAPPED_TOKEN', budget: { usd_per_day: 0.001 } },
    { id: 'member', workspace: 'team', env: 'MEMBER_TOKEN' },
  ],
  ...extra,
});

const client = (stack: GatewayStack, apiKey: string) => new Anthropic({ apiKey, baseURL: stack.baseUrl });
const ask = { model: MODEL, max_tokens: 64, messages: [{ role: 'user' as const, content: 'hi' }] };

/** The access line of the request with these input tokens, once it has arrived. */
async function accessLine(stack: GatewayStack, inputTokens: number): Promise<LogEntry> {
  const [line] = await stack.waitForLog(
    (e) =>
      e.msg === 'access' && (e.usage as { input_tokens?: number } | undefined)?.input_tokens === inputTokens,
    10_000,
  );
  return line;
}

/** `npm run cli -- spend --json`, run as an operator runs it. */
function cliSpend(env: Record<string, string>): SpendReport {
  const result = spawnSync(process.execPath, [CLI, 'spend', '--json'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as SpendReport;
}

const row = (report: SpendReport, scope: string, id: string): SpendRow | undefined =>
  report.rows.find((r) => r.scope === scope && r.id === id);

async function metric(stack: GatewayStack, pattern: RegExp): Promise<number | undefined> {
  const text = await (await fetch(stack.metricsUrl)).text();
  const match = pattern.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

const nextUtcMidnight = () => new Date((Math.floor(Date.now() / 86_400_000) + 1) * 86_400_000).toISOString();

describe('a token with a daily budget (memory store)', () => {
  let stack: GatewayStack;
  let proxy: RecordingProxy;
  beforeAll(async () => {
    stack = await startStack({ config: config(), env: { CAPPED_TOKEN, MEMBER_TOKEN } });
    proxy = await startRecordingProxy(stack.origin);
  });
  afterAll(async () => {
    await proxy?.close();
    await stack?.stop();
  });

  it('is admitted until its recorded spend reaches the budget, then refused before the upstream', async () => {
    const sdk = client(stack, CAPPED_TOKEN); // the SDK's default retries (2) stay on
    // 100 × $3/M + 20 × $15/M = $0.0006: below the budget of $0.001.
    stack.upstream.queue((_request, res) =>
      json(res, 200, messageBody(MODEL, 'one', { input_tokens: 100, output_tokens: 20 })),
    );
    expect((await sdk.messages.create(ask)).content).toEqual([{ type: 'text', text: 'one' }]);
    const first = await accessLine(stack, 100);
    expect(first).toMatchObject({ tokenId: 'capped', model: MODEL, status: 200, costUsd: 0.0006 });

    // Not yet refused: a stream, its cache writes split by lifetime. 10 × $3/M + 20 × $3.75/M (5 min)
    // + 30 × $6/M (1 h) + 100 × $0.30/M (reads) + 8 × $15/M = $0.000435; $0.001035 in all.
    const usage: Usage & { cache_creation: Record<string, number> } = {
      input_tokens: 10,
      output_tokens: 8,
      cache_creation_input_tokens: 50,
      cache_read_input_tokens: 100,
      cache_creation: { ephemeral_5m_input_tokens: 20, ephemeral_1h_input_tokens: 30 },
    };
    stack.upstream.queue(sseResponder(textStreamEvents(MODEL, ['t', 'wo'], usage)));
    const streamed = await sdk.messages.stream(ask).finalMessage();
    expect(streamed.content).toEqual([{ type: 'text', text: 'two' }]);
    const second = await accessLine(stack, 10);
    expect(second).toMatchObject({
      streamed: true,
      complete: true,
      cacheCreation: { ephemeral_5m_input_tokens: 20, ephemeral_1h_input_tokens: 30 },
      costUsd: 0.000435,
    });

    // Spent: refused at once, as a PermissionDeniedError, and not retried.
    const error = await sdk.messages.create(ask).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const denied = error as InstanceType<typeof Anthropic.PermissionDeniedError>;
    expect(denied.status).toBe(403);
    expect(denied.error).toEqual({
      type: 'error',
      error: {
        type: 'permission_error',
        message: `budget exhausted: token "capped" has spent its budget of $0.001 per day (UTC); it resets at ${nextUtcMidnight()}`,
      },
    });
    expect(stack.upstream.received).toHaveLength(2);
    // Counted as the policy refuses, before the answer: one refusal, so the SDK sent it once.
    expect(
      await metric(stack, /^gateway_rejected_requests_total\{reason="budget_token_usd_per_day"\} (\S+)$/m),
    ).toBe(1);
    const refusal = await stack.waitForLog(
      (e) => e.msg === 'access' && e.reason === 'budget_token_usd_per_day',
    );
    expect(refusal[0]).toMatchObject({ status: 403, tokenId: 'capped' });
    expect(refusal[0]).not.toHaveProperty('costUsd');

    // Another token of the same workspace is not held back; count_tokens, which costs nothing, neither.
    expect((await client(stack, MEMBER_TOKEN).messages.create(ask)).type).toBe('message');
    expect((await sdk.messages.countTokens(ask)).input_tokens).toBe(42);
  });

  it('shows the spend in gateway_cost_usd_total, by workspace, token and model', async () => {
    const spent = await metric(
      stack,
      /^gateway_cost_usd_total\{workspace="default",token="capped",model="claude-sonnet-4-6"\} (\S+)$/m,
    );
    expect(spent).toBeCloseTo(0.001035, 12);
  });

  it('shows it in `npm run cli -- spend`, read from the processor (memory store)', () => {
    const report = cliSpend({
      GATEWAY_CONFIG: stack.configPath,
      GATEWAY_METRICS_PORT: String(stack.processor.metricsPort),
    });
    expect(report.store).toBe('memory');
    expect(row(report, 'token', 'capped')).toEqual({
      scope: 'token',
      id: 'capped',
      day: { spentUsd: 0.001035, budgetUsd: 0.001, reached: true },
      month: { spentUsd: 0.001035, budgetUsd: null, reached: false },
    });
    expect(row(report, 'workspace', 'default')?.day.spentUsd).toBe(0.001035);
    expect(report.day.resetsAt).toBe(nextUtcMidnight());
  });

  // The token's budget was spent by the first test of this block.
  it('Claude Code shows the refusal and does not retry it', async () => {
    stack.upstream.reset();
    const run = await runClaudeCode(
      {
        ...OFFLINE_ENV,
        ANTHROPIC_BASE_URL: `${proxy.origin}/ai-gateway/anthropic`,
        ANTHROPIC_API_KEY: CAPPED_TOKEN,
        ANTHROPIC_MODEL: MODEL,
      },
      ['-p', 'Reply with PONG'],
    );
    expect(run.code).not.toBe(0);
    expect(`${run.stdout}${run.stderr}`).toContain('budget exhausted: token "capped" has spent its budget');
    const posts = proxy.exchanges.filter((exchange) => exchange.method === 'POST');
    expect(posts.map((exchange) => [exchange.url, exchange.status])).toEqual([
      ['/ai-gateway/anthropic/v1/messages?beta=true', 403],
    ]);
    const answered = posts[0]?.responseHeaders ?? [];
    expect(answered.filter(([name]) => name === 'x-should-retry')).toEqual([['x-should-retry', 'false']]);
    expect(
      stack.upstream.received.filter((request) => !request.url.startsWith('/v1/messages/count_tokens')),
    ).toEqual([]);
  });
});

describe("a workspace's monthly budget, counted in Redis", () => {
  let redis: RunningRedis;
  let stack: GatewayStack;
  beforeAll(async () => {
    redis = await startRedis();
    stack = await startStack({
      config: config({ quotas: { store: 'redis', redis: { url: { env: 'REDIS_URL' } } } }),
      env: { CAPPED_TOKEN, MEMBER_TOKEN, REDIS_URL: redis.url },
    });
    await stack.waitForLog((e) => e.msg === 'quota store connected (redis)', 10_000);
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  /** The processor's /spend, read from Redis. */
  const spendOf = async (id: string) => {
    const report = (await (
      await fetch(stack.metricsUrl.replace(/\/metrics$/, '/spend'))
    ).json()) as SpendReport;
    return row(report, 'workspace', id)?.month.spentUsd;
  };

  it('refuses every token of it once the month is spent, until the first of next month', async () => {
    const sdk = client(stack, MEMBER_TOKEN);
    // 100 × $3/M = $0.0003 each; the budget is $0.0005.
    const answer = () =>
      stack.upstream.queue((_request, res) =>
        json(res, 200, messageBody(MODEL, 'ok', { input_tokens: 100, output_tokens: 0 })),
      );
    answer();
    answer();
    await sdk.messages.create(ask);
    // The charge reaches Redis just after the access line.
    await expect.poll(() => spendOf('team')).toBe(0.0003);
    await sdk.messages.create(ask); // $0.0003 of $0.0005: not yet refused
    await expect.poll(() => spendOf('team')).toBe(0.0006);

    const error = await sdk.messages.create(ask).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const now = new Date();
    const firstOfNext = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
    expect((error as InstanceType<typeof Anthropic.PermissionDeniedError>).error).toMatchObject({
      error: {
        message: `budget exhausted: workspace "team" has spent its budget of $0.0005 per month (UTC); it resets at ${firstOfNext}`,
      },
    });
    expect(stack.upstream.received).toHaveLength(2);

    const report = cliSpend({ GATEWAY_CONFIG: stack.configPath, REDIS_URL: redis.url });
    expect(report.store).toBe('redis');
    expect(row(report, 'workspace', 'team')).toMatchObject({
      month: { spentUsd: 0.0006, budgetUsd: 0.0005, reached: true },
    });
    expect(row(report, 'token', 'member')).toMatchObject({ day: { spentUsd: 0.0006, budgetUsd: null } });
    // Access lines cross a pipe in batches: wait for both.
    const costs = () =>
      stack.processorLog
        .map((line) => JSON.parse(line) as LogEntry)
        .filter((e) => e.msg === 'access' && e.tokenId === 'member' && e.status === 200)
        .map((line) => line.costUsd);
    await expect.poll(costs, { timeout: 10_000 }).toEqual([0.0003, 0.0003]);
  });
});
