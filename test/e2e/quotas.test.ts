// Quotas through the real Envoy: each limit trips with a 429 rate_limit_error
// that names it and carries retry-after, before anything reaches the upstream;
// counters shared by two gateways through one real redis-server; and a Redis
// that cannot be reached, failing closed.
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { json, messageBody, sseResponder, textStreamEvents } from '../support/fake-upstream.ts';
import {
  GATEWAY_TOKEN,
  type GatewayStack,
  type LogEntry,
  seedRequest,
  startStack,
} from '../support/gateway-stack.ts';
import { type RunningRedis, startRedis } from '../support/redis-server.ts';
import { awayFromMinuteEdge } from '../support/window-edge.ts';

const TOKENS = {
  RPM_TOKEN: 'agw_e2e_rpm_token_0123456789abcdefghijklmnopqrs',
  TPM_TOKEN: 'agw_e2e_tpm_token_0123456789abcdefghijklmnopqrs',
  DAILY_TOKEN: 'agw_e2e_daily_token_0123456789abcdefghijklmnopq',
} as const;

const quotaConfig = (quotas?: Record<string, unknown>) => ({
  workspaces: [
    { id: 'default', upstream_api_key: { env: 'ANTHROPIC_API_KEY' } },
    { id: 'daily', upstream_api_key: { env: 'ANTHROPIC_API_KEY' }, quota: { tokens_per_day: 100 } },
  ],
  tokens: [
    { id: 'default', workspace: 'default', env: 'GATEWAY_TOKEN' },
    { id: 'rpm', workspace: 'default', env: 'RPM_TOKEN', quota: { requests_per_minute: 2 } },
    { id: 'tpm', workspace: 'default', env: 'TPM_TOKEN', quota: { tokens_per_minute: 50 } },
    { id: 'daily-user', workspace: 'daily', env: 'DAILY_TOKEN' },
  ],
  ...(quotas !== undefined ? { quotas } : {}),
});

function post(stack: GatewayStack, token: string, body: Record<string, unknown> = seedRequest()) {
  return fetch(`${stack.baseUrl}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': token, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body),
  });
}

async function expectRateLimited(response: Response, message: RegExp): Promise<number> {
  expect(response.status).toBe(429);
  expect(response.headers.get('request-id')).toBeTruthy();
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  const body = (await response.json()) as { type: string; error: { type: string; message: string } };
  expect(body.type).toBe('error');
  expect(body.error.type).toBe('rate_limit_error');
  expect(body.error.message).toMatch(message);
  return retryAfter;
}

/** Waits until the processor has logged (and so charged) the response with these input tokens. */
async function metered(stack: GatewayStack, inputTokens: number): Promise<void> {
  const found = await stack.waitForLog(
    (e: LogEntry) =>
      e.msg === 'access' && (e.usage as { input_tokens?: number } | undefined)?.input_tokens === inputTokens,
    10_000,
  );
  expect(found).toHaveLength(1);
}

describe('memory store', () => {
  let stack: GatewayStack;
  beforeAll(async () => {
    stack = await startStack({ config: quotaConfig(), env: TOKENS });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('requests_per_minute: the third request of the minute is refused before the upstream', async () => {
    await awayFromMinuteEdge();
    stack.upstream.reset();
    expect((await post(stack, TOKENS.RPM_TOKEN)).status).toBe(200);
    expect((await post(stack, TOKENS.RPM_TOKEN)).status).toBe(200);
    const retryAfter = await expectRateLimited(
      await post(stack, TOKENS.RPM_TOKEN),
      /^rate limit exceeded: token "rpm" has reached its limit of 2 requests per minute; retry after \d+ s$/,
    );
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(stack.upstream.received).toHaveLength(2);
    // Another token is not affected.
    expect((await post(stack, GATEWAY_TOKEN)).status).toBe(200);
  });

  it('the SDK raises RateLimitError with the message', async () => {
    const client = new Anthropic({ apiKey: TOKENS.RPM_TOKEN, baseURL: stack.baseUrl, maxRetries: 0 });
    const error = await client.messages
      .create({ model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect((error as Error).message).toContain('requests per minute');
  });

  it('tokens_per_minute: usage reported after the response refuses the next request', async () => {
    await awayFromMinuteEdge();
    stack.upstream.reset();
    stack.upstream.queue((_request, res) =>
      json(res, 200, messageBody('claude-sonnet-4-6', 'x', { input_tokens: 2101, output_tokens: 20 })),
    );
    expect((await post(stack, TOKENS.TPM_TOKEN)).status).toBe(200);
    await metered(stack, 2101);
    await expectRateLimited(
      await post(stack, TOKENS.TPM_TOKEN),
      /token "tpm" has reached its limit of 50 input and output tokens per minute/,
    );
    expect(stack.upstream.received).toHaveLength(1);
  });

  it('tokens_per_day of a workspace: a stream is never cut, the next request is refused until midnight UTC', async () => {
    stack.upstream.reset();
    const events = textStreamEvents('claude-sonnet-4-6', ['a', 'b', 'c', 'd'], {
      input_tokens: 2202,
      output_tokens: 40,
    });
    stack.upstream.queue(sseResponder(events));
    const streamed = await post(
      stack,
      TOKENS.DAILY_TOKEN,
      seedRequest('claude-sonnet-4-6', { stream: true }),
    );
    expect(streamed.status).toBe(200);
    const text = await streamed.text();
    expect(text).toContain('event: message_stop'); // the whole stream, though it overran the budget
    await metered(stack, 2202);
    const retryAfter = await expectRateLimited(
      await post(stack, TOKENS.DAILY_TOKEN),
      /workspace "daily" has reached its limit of 100 tokens per day/,
    );
    const untilMidnight = Math.ceil((86_400_000 - (Date.now() % 86_400_000)) / 1000);
    expect(Math.abs(retryAfter - untilMidnight)).toBeLessThanOrEqual(5);
    expect(stack.upstream.received).toHaveLength(1);
  });

  it('counts refusals by reason in the metrics', async () => {
    const text = await (await fetch(stack.metricsUrl)).text();
    expect(text).toMatch(
      /^gateway_rejected_requests_total\{reason="quota_token_requests_per_minute"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(/^gateway_rejected_requests_total\{reason="quota_token_tokens_per_minute"\} 1$/m);
    expect(text).toMatch(/^gateway_rejected_requests_total\{reason="quota_workspace_tokens_per_day"\} 1$/m);
    // Requests are counted from their access-log entries, which Envoy sends in batches.
    await expect
      .poll(async () => (await fetch(stack.metricsUrl)).text())
      .toMatch(
        /^gateway_requests_total\{workspace="daily",token="daily-user",model="none",route="messages",status="429"\} 1$/m,
      );
  });
});

describe('Redis store shared by two gateways', () => {
  let redis: RunningRedis;
  let one: GatewayStack;
  let two: GatewayStack;
  beforeAll(async () => {
    redis = await startRedis();
    const config = quotaConfig({ store: 'redis', redis: { url: { env: 'REDIS_URL' } } });
    const env = { ...TOKENS, REDIS_URL: redis.url };
    [one, two] = await Promise.all([startStack({ config, env }), startStack({ config, env })]);
  });
  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
    await redis?.stop();
  });

  it('enforce one requests_per_minute limit across both', async () => {
    // Each store connects in the background; until then it would fail closed.
    for (const stack of [one, two]) {
      await stack.waitForLog((e) => e.msg === 'quota store connected (redis)', 10_000);
    }
    await awayFromMinuteEdge();
    expect((await post(one, TOKENS.RPM_TOKEN)).status).toBe(200);
    expect((await post(two, TOKENS.RPM_TOKEN)).status).toBe(200);
    await expectRateLimited(await post(one, TOKENS.RPM_TOKEN), /limit of 2 requests per minute/);
    await expectRateLimited(await post(two, TOKENS.RPM_TOKEN), /limit of 2 requests per minute/);
  });

  it('share token usage: metered by one gateway, refused by the other', async () => {
    await awayFromMinuteEdge();
    one.upstream.queue((_request, res) =>
      json(res, 200, messageBody('claude-sonnet-4-6', 'x', { input_tokens: 2303, output_tokens: 1 })),
    );
    expect((await post(one, TOKENS.TPM_TOKEN)).status).toBe(200);
    await metered(one, 2303);
    // The charge is written to Redis just after the access line: until then the other admits it.
    const response = await vi.waitFor(
      async () => {
        const answer = await post(two, TOKENS.TPM_TOKEN);
        if (answer.status === 200) {
          await answer.arrayBuffer();
          throw new Error('the other gateway still admits the token');
        }
        return answer;
      },
      { timeout: 5_000, interval: 50 },
    );
    await expectRateLimited(
      response,
      /token "tpm" has reached its limit of 50 input and output tokens per minute/,
    );
  });
});

describe('Redis unreachable', () => {
  let stack: GatewayStack;
  beforeAll(async () => {
    stack = await startStack({
      config: quotaConfig({ store: 'redis', redis: { url: 'redis://127.0.0.1:1', timeout_ms: 100 } }),
      env: TOKENS,
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('fails closed by default: 503 api_error for tokens with quotas, nothing forwarded', async () => {
    stack.upstream.reset();
    const response = await post(stack, TOKENS.RPM_TOKEN);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      type: 'error',
      error: { type: 'api_error', message: 'the gateway cannot check its rate limits right now; try again' },
    });
    expect(stack.upstream.received).toHaveLength(0);
    // A token without any quota does not depend on the store.
    expect((await post(stack, GATEWAY_TOKEN)).status).toBe(200);
  });
});
