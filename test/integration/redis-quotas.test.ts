// Quotas shared through a real redis-server: two processors, each with its own
// Redis store, enforce one limit together; concurrent admissions stay atomic;
// an unreachable Redis fails closed (503) or open, as configured; a restarted
// Redis (which has forgotten the scripts) is used again.
import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { mintToken } from '../../processor/policy/tokens.ts';
import { checksFor, type QuotaPlan } from '../../processor/quota/limits.ts';
import { RedisQuotaStore } from '../../processor/quota/redis-store.ts';
import {
  accessLogEntry,
  createAccessLogClient,
  policyExchange,
  usageValues,
} from '../support/access-log-client.ts';
import type { ExtProcClient } from '../support/extproc-client.ts';
import { expectGatewayError } from '../support/extproc-expect.ts';
import { oneTokenConfig, quotasIn } from '../support/extproc-server.ts';
import { useRedisReplicas } from '../support/redis-replicas.ts';
import { startRedis } from '../support/redis-server.ts';
import { awayFromMinuteEdge } from '../support/window-edge.ts';

const token = mintToken();
const config = oneTokenConfig({
  token,
  tokenId: 'replicated',
  workspace: 'shared',
  tokenLimits: { quota: { requests_per_minute: 4 } },
  workspaceQuota: { tokens_per_minute: 100 },
  upstreamKey: 'sk-ant-api03-redis-test',
});

const replicas = useRedisReplicas();
const { stores, processors } = replicas;

const redisStore = (url: string, keyPrefix: string): RedisQuotaStore => replicas.store(keyPrefix, url);

async function replica(
  keyPrefix: string,
  url = replicas.redis.url,
  failOpen = false,
): Promise<ExtProcClient> {
  return (await replicas.replica(config, redisStore(url, keyPrefix), failOpen)).client;
}

/** Until the store has connected (it connects in the background). */
async function connected(store: RedisQuotaStore, plan: QuotaPlan): Promise<void> {
  const probe = checksFor(plan, 'probe', 'none');
  await vi.waitFor(() => store.admit(probe), { timeout: 10_000, interval: 50 });
}

const PROBE_PLAN: QuotaPlan = {
  tokens: new Map([['probe', { requests_per_minute: 1_000_000 }]]),
  workspaces: new Map(),
};

describe('two processors sharing one Redis', () => {
  it('enforce one requests_per_minute limit together', async () => {
    const prefix = `rpm-${randomUUID()}:`;
    const a = await replica(prefix);
    const b = await replica(prefix);
    for (const store of stores.slice(-2)) await connected(store, PROBE_PLAN);
    await awayFromMinuteEdge();
    const outcomes: string[] = [];
    for (const client of [a, b, a, b, a, b]) {
      const requestId = randomUUID();
      const exchange = await policyExchange(client, { token, requestId });
      outcomes.push(exchange.headers.response ?? 'none');
      if (exchange.headers.response === 'immediate_response') {
        expectGatewayError(exchange.headers, {
          status: 429,
          type: 'rate_limit_error',
          message: /token "replicated" has reached its limit of 4 requests per minute/,
          requestId,
          reason: 'quota_token_requests_per_minute',
        });
      }
    }
    expect(outcomes).toEqual([
      'request_headers',
      'request_headers',
      'request_headers',
      'request_headers',
      'immediate_response',
      'immediate_response',
    ]);
  });

  it('share token counters: usage metered by one refuses the next request on the other', async () => {
    const prefix = `tpm-${randomUUID()}:`;
    const a = await replica(prefix);
    const aAddress = processors.at(-1)?.address ?? '';
    const b = await replica(prefix);
    for (const store of stores.slice(-2)) await connected(store, PROBE_PLAN);
    await awayFromMinuteEdge();
    const first = await policyExchange(a, { token });
    expect(first.headers.response).toBe('request_headers');
    // The request's entry reaches replica a, as Envoy's access-log stream would.
    const accessLog = createAccessLogClient(aAddress);
    const stream = accessLog.openStream();
    stream.send([
      accessLogEntry(first.facts, { usage: usageValues({ input_tokens: 70, output_tokens: 30 }) }),
    ]);
    expect((await stream.close()).code).toBe(0);
    accessLog.close();

    // The charge is written after the response; wait until the other replica sees it.
    const refused = await vi.waitFor(
      async () => {
        const exchange = await policyExchange(b, { token });
        if (exchange.headers.response !== 'immediate_response') throw new Error('b still admits the token');
        return exchange;
      },
      { timeout: 5_000, interval: 50 },
    );
    expect(refused.facts.reason).toBe('quota_workspace_tokens_per_minute');
  });

  it('admit atomically: concurrent requests from both never pass the limit', async () => {
    const prefix = `atomic-${randomUUID()}:`;
    const plan: QuotaPlan = { tokens: new Map([['t', { requests_per_minute: 7 }]]), workspaces: new Map() };
    const one = redisStore(replicas.redis.url, prefix);
    const two = redisStore(replicas.redis.url, prefix);
    await connected(one, PROBE_PLAN);
    await connected(two, PROBE_PLAN);
    await awayFromMinuteEdge();
    const checks = checksFor(plan, 't', 'w');
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? one : two).admit(checks)),
    );
    expect(results.filter((r) => r.over.length === 0)).toHaveLength(7);
  });
});

describe('when Redis cannot be reached', () => {
  const unreachable = 'redis://127.0.0.1:1';

  it('fails closed by default: 503 api_error, nothing forwarded', async () => {
    const c = await replica('closed:', unreachable, false);
    const requestId = randomUUID();
    const exchange = await policyExchange(c, { token, requestId });
    expectGatewayError(exchange.headers, {
      status: 503,
      type: 'api_error',
      message: 'the gateway cannot check its rate limits right now; try again',
      requestId,
      reason: 'quota_store_unavailable',
    });
    expect(exchange.body).toBeUndefined();
  });

  it('fails open when configured: the request goes on', async () => {
    const c = await replica('open:', unreachable, true);
    const exchange = await policyExchange(c, { token });
    expect(exchange.headers.response).toBe('request_headers');
    expect(exchange.body?.response).toBe('request_body');
  });

  it('gives up on a Redis that stops answering after timeout_ms, and fails closed', async () => {
    const frozen = await startRedis();
    try {
      const store = new RedisQuotaStore({ url: frozen.url, keyPrefix: 'frozen:', timeoutMs: 200 });
      stores.push(store);
      await connected(store, PROBE_PLAN);
      const quotas = quotasIn(config, store);
      frozen.pause();
      const verdict = await quotas.admit('replicated', 'shared');
      expect(verdict).toMatchObject({ status: 503, reason: 'quota_store_unavailable' });
      frozen.resume();
    } finally {
      await frozen.stop();
    }
  });

  it('is used again once it is back, after a restart that forgot the scripts', async () => {
    const restartable = await startRedis();
    try {
      const store = redisStore(restartable.url, 'restart:');
      await connected(store, PROBE_PLAN);
      await restartable.stop();
      await expect(store.admit(checksFor(PROBE_PLAN, 'probe', 'none'))).rejects.toThrow();
      const again = await startRedis(restartable.socketPath);
      try {
        await connected(store, PROBE_PLAN);
      } finally {
        await again.stop();
      }
    } finally {
      await restartable.stop();
    }
  });
});
