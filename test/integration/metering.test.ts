// The policy stream and Envoy's access-log stream over a real gRPC
// connection: the facts the policy hands on as dynamic metadata, quota
// refusals, and the access-log entries (with the usage Envoy read) turning
// into access lines, metrics and quota charges, including for a response cut
// short and for values no upstream should send.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_LOGGED_PATH_CHARS } from '../../processor/extproc/metadata.ts';
import { createLogger } from '../../processor/log.ts';
import { createMetrics, type GatewayMetrics } from '../../processor/metrics/registry.ts';
import { hashToken, mintToken } from '../../processor/policy/tokens.ts';
import { MemoryQuotaStore } from '../../processor/quota/memory-store.ts';
import { Quotas } from '../../processor/quota/quotas.ts';
import {
  type AccessLogClient,
  accessLogEntry,
  createAccessLogClient,
  policyExchange,
  usageValues,
} from '../support/access-log-client.ts';
import { createExtProcClient, type ExtProcClient, setHeaderValue } from '../support/extproc-client.ts';
import { expectGatewayError } from '../support/extproc-expect.ts';
import { buildTestConfig, startTestProcessor, type TestProcessor } from '../support/extproc-server.ts';

const token = mintToken();
const limitedToken = mintToken();
const upstreamKey = 'sk-ant-api03-metering-test-key';
const config = buildTestConfig(
  {
    workspaces: [{ id: 'research', upstream_api_key: { env: 'ANTHROPIC_API_KEY' } }],
    tokens: [
      { id: 'free', workspace: 'research', env: 'GATEWAY_TOKEN' },
      {
        id: 'limited',
        workspace: 'research',
        sha256: hashToken(limitedToken).toString('hex'),
        quota: { requests_per_minute: 50, tokens_per_minute: 100 },
      },
    ],
  },
  { GATEWAY_TOKEN: token, ANTHROPIC_API_KEY: upstreamKey },
);

let processor: TestProcessor;
let client: ExtProcClient;
let accessLog: AccessLogClient;
let metrics: GatewayMetrics;

beforeAll(async () => {
  metrics = createMetrics({ defaultMetrics: false });
  const quotas = new Quotas({
    plan: () => config.quotaPlan,
    // A clock stopped mid-minute: the counters never cross a window here.
    store: new MemoryQuotaStore(() => Date.UTC(2026, 0, 15, 10, 30, 30)),
    failOpen: false,
    log: createLogger('silent'),
    metrics,
  });
  processor = await startTestProcessor({ config, quotas, metrics });
  client = createExtProcClient(processor.address);
  accessLog = createAccessLogClient(processor.address);
});

afterAll(async () => {
  client?.close();
  accessLog?.close();
  await processor?.stop();
});

/** The access record of `requestId`, once the processor has logged it. */
function accessRecord(requestId: string): Promise<Record<string, unknown>> {
  return vi.waitFor(
    () => {
      const found = processor.logRecords().find((r) => r.msg === 'access' && r.requestId === requestId);
      if (found === undefined) throw new Error(`no access record for ${requestId}`);
      return found;
    },
    { timeout: 2_000, interval: 10 },
  );
}

describe('policy stream: facts for the access log', () => {
  it('names the token and route models for the models listing, and caps the path it hands on', async () => {
    const requestId = randomUUID();
    const path = `/ai-gateway/anthropic/v1/models?after_id=${'x'.repeat(2000)}`;
    const exchange = await policyExchange(client, { token, requestId, path, method: 'GET' });
    expect(exchange.headers.immediate_response).toBeDefined();
    expect(exchange.facts).toMatchObject({ request_id: requestId, token_id: 'free', route: 'models' });
    expect(exchange.facts.path).toBe(path.slice(0, MAX_LOGGED_PATH_CHARS));
  });

  it('hands on request id, path, token id, workspace and route with the headers, the model with the body', async () => {
    const requestId = randomUUID();
    const exchange = await policyExchange(client, { token, requestId, model: 'claude-haiku-4-5' });
    expect(exchange.headers.response).toBe('request_headers');
    expect(exchange.facts).toEqual({
      request_id: requestId,
      path: '/ai-gateway/anthropic/v1/messages',
      token_id: 'free',
      workspace: 'research',
      route: 'messages',
      model: 'claude-haiku-4-5',
    });
    expect(JSON.stringify(exchange.facts)).not.toContain(token);
  });

  it('hands on the reason of a refusal, and never a model outside the catalog but as the requested one', async () => {
    const requestId = randomUUID();
    const model = `my-own-model-<script>\n${'z'.repeat(100)}`;
    const exchange = await policyExchange(client, { token, requestId, model });
    expect(exchange.body?.response).toBe('immediate_response');
    expect(exchange.facts).toMatchObject({ request_id: requestId, reason: 'unknown_model' });
    expect(exchange.facts.model).toBeUndefined();
    // For the access line only: escaped and capped at 64 characters.
    expect(exchange.facts.requested_model).toBe(`my-own-model-<script>\\u000a${'z'.repeat(42)}…`);
    const rejected = await metrics.rejected.get();
    expect(rejected.values.find((v) => v.labels.reason === 'unknown_model')?.value).toBeGreaterThanOrEqual(1);
  });
});

describe('access-log stream', () => {
  it("records a JSON response: usage with cache tokens and Envoy's timings", async () => {
    const requestId = randomUUID();
    const { facts } = await policyExchange(client, { token, requestId });
    const usage = {
      input_tokens: 11,
      output_tokens: 22,
      cache_creation_input_tokens: 33,
      cache_read_input_tokens: 44,
    };
    const stream = accessLog.openStream();
    stream.send([
      accessLogEntry(facts, {
        usage: usageValues({ ...usage, ephemeral_5m_input_tokens: 30, ephemeral_1h_input_tokens: 3 }),
        ttfbMs: 250.5,
        lastByteMs: 251.25,
      }),
    ]);
    const record = await accessRecord(requestId);
    expect(record).toMatchObject({
      tokenId: 'free',
      workspace: 'research',
      model: 'claude-sonnet-4-6',
      route: 'messages',
      status: 200,
      streamed: false,
      complete: true,
      usage,
      cacheCreation: { ephemeral_5m_input_tokens: 30, ephemeral_1h_input_tokens: 3 },
      ttfbMs: 250.5,
      latencyMs: 251.25,
    });
    const tokens = await metrics.tokens.get();
    const kind = (k: string) =>
      tokens.values.find((v) => v.labels.kind === k && v.labels.workspace === 'research')?.value;
    expect(kind('cache_read_input')).toBeGreaterThanOrEqual(44);
    // The stream stays open for the next batch; Envoy's half-close ends it with OK.
    expect((await stream.close()).code).toBe(0);
  });

  it('records every entry of a batch once, and counts what it received', async () => {
    const before = (await metrics.accessLogEntries.get()).values[0]?.value ?? 0;
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const exchanges = await Promise.all(ids.map((requestId) => policyExchange(client, { token, requestId })));
    const stream = accessLog.openStream();
    stream.send(
      exchanges.map(({ facts }, i) =>
        accessLogEntry(facts, { usage: usageValues({ input_tokens: 500 + i }) }),
      ),
    );
    for (const [i, requestId] of ids.entries()) {
      expect(await accessRecord(requestId)).toMatchObject({ usage: { input_tokens: 500 + i } });
      expect(
        processor.logRecords().filter((r) => r.msg === 'access' && r.requestId === requestId),
      ).toHaveLength(1);
    }
    expect((await metrics.accessLogEntries.get()).values[0]?.value).toBe(before + 3);
    await stream.close();
  });

  it('records count_tokens apart from messages usage', async () => {
    const requestId = randomUUID();
    const { facts } = await policyExchange(client, {
      token,
      requestId,
      path: '/ai-gateway/anthropic/v1/messages/count_tokens',
    });
    expect(facts.route).toBe('count_tokens');
    const stream = accessLog.openStream();
    // A count_tokens answer never has usage; were one written, it would not count.
    stream.send([
      accessLogEntry(facts, { usage: usageValues({ counted_input_tokens: 1234, input_tokens: 9 }) }),
    ]);
    const record = await accessRecord(requestId);
    expect(record).toMatchObject({ route: 'count_tokens', countedInputTokens: 1234 });
    expect(record.usage).toBeUndefined();
    const counted = await metrics.countedTokens.get();
    expect(counted.values[0]?.value).toBe(1234);
    await stream.close();
  });

  it('records what a stream reported before its client went away, marked incomplete', async () => {
    const requestId = randomUUID();
    const { facts } = await policyExchange(client, { token, requestId });
    const stream = accessLog.openStream();
    stream.send([
      accessLogEntry(facts, {
        contentType: 'text/event-stream; charset=utf-8',
        usage: usageValues({ input_tokens: 77, output_tokens: 1, cache_read_input_tokens: 5 }),
        lastByteMs: undefined,
        durationMs: 900,
        flags: { downstream_connection_termination: true },
      }),
    ]);
    const record = await accessRecord(requestId);
    expect(record).toMatchObject({
      streamed: true,
      complete: false,
      latencyMs: 900,
      usage: {
        input_tokens: 77,
        output_tokens: 1,
        cache_read_input_tokens: 5,
        cache_creation_input_tokens: 0,
      },
    });
    await stream.close();
  });

  it('records a refused request once, with its reason and no usage', async () => {
    const requestId = randomUUID();
    const { facts } = await policyExchange(client, { token: 'agw_not_a_token', requestId });
    expect(facts).toEqual({
      request_id: requestId,
      path: '/ai-gateway/anthropic/v1/messages',
      reason: 'invalid_credential',
    });
    const stream = accessLog.openStream();
    stream.send([accessLogEntry(facts, { status: 401, usage: usageValues({ input_tokens: 5 }) })]);
    const record = await accessRecord(requestId);
    expect(record).toMatchObject({ status: 401, reason: 'invalid_credential', complete: true });
    expect(record.usage).toBeUndefined();
    expect(record.tokenId).toBeUndefined();
    await stream.close();
  });

  it("records Envoy's own reply, which the policy never saw, under Envoy's request id", async () => {
    const requestId = randomUUID();
    const stream = accessLog.openStream();
    stream.send([accessLogEntry({}, { status: 503, requestId })]);
    const record = await accessRecord(requestId);
    expect(record).toMatchObject({ status: 503, complete: true });
    expect(record.route).toBeUndefined();
    await stream.close();
  });

  it('counts only sane token counts: never NaN, negative, fractional or past 2^53', async () => {
    const requestId = randomUUID();
    const { facts } = await policyExchange(client, { token, requestId });
    const stream = accessLog.openStream();
    stream.send([
      accessLogEntry(facts, {
        usage: {
          input_tokens: { numberValue: Number.NaN },
          output_tokens: { numberValue: -5 },
          cache_creation_input_tokens: { numberValue: 1.5 },
          cache_read_input_tokens: { numberValue: 2 ** 60 },
          ephemeral_5m_input_tokens: { stringValue: '12' },
        },
      }),
    ]);
    const record = await accessRecord(requestId);
    expect(record.usage).toBeUndefined();
    expect(record.cacheCreation).toBeUndefined();
    const sane = randomUUID();
    stream.send([
      accessLogEntry((await policyExchange(client, { token, requestId: sane })).facts, {
        usage: { input_tokens: { numberValue: Number.POSITIVE_INFINITY }, output_tokens: { numberValue: 3 } },
      }),
    ]);
    expect((await accessRecord(sane)).usage).toEqual({
      input_tokens: 0,
      output_tokens: 3,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
    await stream.close();
  });
});

describe('stream errors', () => {
  it('counts a policy failure (answered with 500) in gateway_processor_stream_errors_total', async () => {
    const failingMetrics = createMetrics({ defaultMetrics: false });
    const failing = await startTestProcessor({
      config,
      metrics: failingMetrics,
      logLevel: 'silent',
      policy: () => {
        throw new Error('policy unavailable');
      },
    });
    const failingClient = createExtProcClient(failing.address);
    try {
      const exchange = await policyExchange(failingClient, { token });
      expect(exchange.headers.immediate_response?.status?.code).toBe('InternalServerError');
      const errors = await failingMetrics.streamErrors.get();
      expect(errors.values).toEqual([
        expect.objectContaining({ labels: { stream: 'policy' }, value: 1 }),
        expect.objectContaining({ labels: { stream: 'access_log' }, value: 0 }),
      ]);
    } finally {
      failingClient.close();
      await failing.stop();
    }
  });
});

describe('quotas over gRPC', () => {
  it('charges reported usage and refuses the next request with 429 and retry-after', async () => {
    const first = await policyExchange(client, { token: limitedToken });
    expect(first.headers.response).toBe('request_headers');
    const stream = accessLog.openStream();
    stream.send([
      accessLogEntry(first.facts, { usage: usageValues({ input_tokens: 60, output_tokens: 40 }) }),
    ]);
    await accessRecord(first.facts.request_id ?? '');
    await stream.close();

    const requestId = randomUUID();
    const refused = await policyExchange(client, { token: limitedToken, requestId });
    expectGatewayError(refused.headers, {
      status: 429,
      type: 'rate_limit_error',
      message:
        /^rate limit exceeded: token "limited" has reached its limit of 100 input and output tokens per minute; retry after 30 s$/,
      requestId,
      reason: 'quota_token_tokens_per_minute',
    });
    const retryAfter = Number(
      setHeaderValue(refused.headers.immediate_response?.headers?.set_headers, 'retry-after'),
    );
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.body).toBeUndefined();
    expect(refused.facts).toMatchObject({
      token_id: 'limited',
      workspace: 'research',
      reason: 'quota_token_tokens_per_minute',
    });
  });
});
