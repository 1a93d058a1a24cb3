// Usage metering through the real Envoy: usage read by Envoy's own filters
// (sse_to_metadata, json_to_metadata), each request's entry on Envoy's
// access-log stream to the processor, the access line per request, and the
// Prometheus endpoint, for JSON, streamed, count_tokens, refused, failed and
// disconnected requests. Each test gives its upstream response unique usage
// numbers (or model) and finds its access line by them.
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  json,
  messageBody,
  type SseEvent,
  sseResponder,
  textStreamEvents,
  type Usage,
} from '../support/fake-upstream.ts';
import {
  GATEWAY_TOKEN,
  type GatewayStack,
  type LogEntry,
  seedRequest,
  startStack,
  UPSTREAM_KEY,
} from '../support/gateway-stack.ts';

let stack: GatewayStack;
let client: Anthropic;

beforeAll(async () => {
  stack = await startStack();
  client = new Anthropic({ apiKey: GATEWAY_TOKEN, baseURL: stack.baseUrl, maxRetries: 0 });
});
afterAll(async () => {
  await stack?.stop();
});

const isAccess = (entry: LogEntry) => entry.msg === 'access';

/** The seed's request, typed for the SDK. */
const seed = (model = 'claude-sonnet-4-6'): Anthropic.MessageCreateParamsNonStreaming => ({
  model,
  max_tokens: 1024,
  messages: [{ role: 'user', content: 'What is Neon?' }],
});

async function accessLine(match: (entry: LogEntry) => boolean, timeoutMs = 10_000): Promise<LogEntry> {
  const [entry] = await stack.waitForLog((e) => isAccess(e) && match(e), timeoutMs);
  return entry;
}

const withInput = (tokens: number) => (entry: LogEntry) =>
  (entry.usage as Usage | undefined)?.input_tokens === tokens;

/** A streamed message whose message_delta repeats every cumulative field, as the API now does. */
function cumulativeStream(usage: Required<Usage>, pieces: string[]): SseEvent[] {
  const events = textStreamEvents('claude-sonnet-4-6', pieces, usage);
  const delta = events.find((e) => e.event === 'message_delta');
  if (delta !== undefined) (delta.data as { usage: Usage }).usage = { ...usage };
  return events;
}

async function metricsText(): Promise<string> {
  const response = await fetch(stack.metricsUrl);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return response.text();
}

describe('access log', () => {
  it('records a JSON message with its cache tokens', async () => {
    const usage = {
      input_tokens: 1101,
      output_tokens: 57,
      cache_creation_input_tokens: 5000,
      cache_read_input_tokens: 300,
    };
    stack.upstream.queue((_request, res) => json(res, 200, messageBody('claude-haiku-4-5', 'hi', usage)));
    const message = await client.messages.create(seed('claude-haiku-4-5'));
    expect(message.usage).toMatchObject(usage);

    const line = await accessLine(withInput(1101));
    expect(line).toMatchObject({
      level: 30,
      tokenId: 'default',
      workspace: 'default',
      model: 'claude-haiku-4-5',
      route: 'messages',
      status: 200,
      streamed: false,
      complete: true,
      usage,
    });
    expect(typeof line.requestId).toBe('string');
    expect(line.latencyMs).toEqual(expect.any(Number));
    expect(line.ttfbMs).toEqual(expect.any(Number));
    expect(line.ttfbMs as number).toBeLessThanOrEqual(line.latencyMs as number);
  });

  it('records a streamed message once, cache tokens counted once though message_delta repeats them', async () => {
    const usage = {
      input_tokens: 1202,
      output_tokens: 88,
      cache_creation_input_tokens: 64,
      cache_read_input_tokens: 9000,
    };
    stack.upstream.queue(sseResponder(cumulativeStream(usage, ['Neon ', 'is ', 'Postgres.'])));
    const stream = client.messages.stream(seed());
    const final = await stream.finalMessage();
    expect(final.usage).toMatchObject(usage);

    const line = await accessLine(withInput(1202));
    expect(line).toMatchObject({ streamed: true, complete: true, status: 200, usage });
    expect(
      stack.processorLog.filter((l) => l.includes('"input_tokens":1202') && l.includes('"access"')),
    ).toHaveLength(1);
  });

  it('records count_tokens apart, as counted tokens', async () => {
    stack.upstream.queue((_request, res) => json(res, 200, { input_tokens: 1303 }));
    const counted = await client.messages.countTokens({
      model: 'claude-sonnet-4-6',
      messages: seed().messages,
    });
    expect(counted.input_tokens).toBe(1303);
    const line = await accessLine((e) => e.countedInputTokens === 1303);
    expect(line).toMatchObject({ route: 'count_tokens', status: 200 });
    expect(line.usage).toBeUndefined();
  });

  it('records what a stream had consumed when its client disconnected', async () => {
    const usage = {
      input_tokens: 1404,
      output_tokens: 500,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 77,
    };
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The upstream sends message_start and a first delta, then holds the rest.
    stack.upstream.queue(
      sseResponder(cumulativeStream(usage, ['one', 'two', 'three']), (i) =>
        i >= 4 ? held : Promise.resolve(),
      ),
    );
    const abort = new AbortController();
    const response = await fetch(`${stack.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': GATEWAY_TOKEN,
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify(seedRequest('claude-sonnet-4-6', { stream: true })),
      signal: abort.signal,
    });
    expect(response.status).toBe(200);
    const reader = response.body?.getReader();
    let seen = '';
    while (!seen.includes('content_block_delta')) {
      const chunk = await reader?.read();
      if (chunk === undefined || chunk.done) break;
      seen += new TextDecoder().decode(chunk.value);
    }
    abort.abort();
    release();

    // Once the client is gone Envoy ends the request and logs it: its entry, with the
    // usage read so far, reaches the processor on the access-log stream at the next flush.
    const line = await accessLine(withInput(1404), 20_000);
    expect(line).toMatchObject({
      streamed: true,
      complete: false,
      usage: {
        input_tokens: 1404,
        output_tokens: 1,
        cache_read_input_tokens: 77,
        cache_creation_input_tokens: 0,
      },
    });
  });

  it('records a refused request with its reason and the request-id the client saw, never the token', async () => {
    const secret = 'agw_e2e_wrong_token_must_never_be_logged_0001';
    const response = await fetch(`${stack.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': secret, 'content-type': 'application/json' },
      body: JSON.stringify(seedRequest()),
    });
    expect(response.status).toBe(401);
    const requestId = response.headers.get('request-id');
    expect(requestId).toBeTruthy();
    const line = await accessLine((e) => e.requestId === requestId);
    expect(line).toMatchObject({ status: 401, reason: 'invalid_credential', complete: true });
    const log = stack.processorLog.join('\n');
    expect(log).not.toContain(secret);
    expect(log).not.toContain(GATEWAY_TOKEN);
    expect(log).not.toContain(UPSTREAM_KEY);
  });

  it('records the model a refused request asked for, capped, and never as a metric label', async () => {
    // A client invents model ids; each one as a label would be a new time series.
    const invented = `claude-invented-${'q'.repeat(80)}`;
    const response = await fetch(`${stack.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': GATEWAY_TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify(seedRequest(invented)),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
      `unknown model: "${invented.slice(0, 64)}"… (see GET /ai-gateway/anthropic/v1/models for the models this gateway serves)`,
    );
    const line = await accessLine((e) => e.requestId === response.headers.get('request-id'));
    expect(line).toMatchObject({
      status: 400,
      reason: 'unknown_model',
      requestedModel: `${invented.slice(0, 64)}…`,
      tokenId: 'default',
      workspace: 'default',
    });
    expect(line.model).toBeUndefined();
    const text = await metricsText();
    expect(text).not.toContain('claude-invented-');
    expect(text).toMatch(
      /^gateway_requests_total\{workspace="default",token="default",model="none",route="messages",status="400"\} [1-9]\d*$/m,
    );
  });

  it("records Envoy's own replies (413, upstream gone) under the request-id the client saw", async () => {
    const tooLarge = await fetch(`${stack.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': GATEWAY_TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ ...seedRequest(), pad: 'x'.repeat(33 * 1024 * 1024) }),
    });
    expect(tooLarge.status).toBe(413);
    await tooLarge.text();
    stack.upstream.queue((_request, res) => {
      res.destroy();
    });
    const gone = await fetch(`${stack.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': GATEWAY_TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify(seedRequest()),
    });
    expect(gone.status).toBe(503);
    await gone.text();
    for (const [response, status] of [
      [tooLarge, 413],
      [gone, 503],
    ] as const) {
      const requestId = response.headers.get('request-id');
      expect(requestId).toBeTruthy();
      const line = await accessLine((e) => e.requestId === requestId);
      expect(line).toMatchObject({ status });
      expect(line.usage).toBeUndefined();
      // The upstream failure comes after the policy's answers, so their facts are
      // there. A 413 may not: Envoy keeps reading the body while the headers are
      // being decided and can reply before the policy has answered; then the line
      // has no token facts, but never another token's.
      if (status === 503) {
        expect(line).toMatchObject({ tokenId: 'default', workspace: 'default', route: 'messages' });
      } else if (line.tokenId !== undefined) {
        expect(line).toMatchObject({ tokenId: 'default', workspace: 'default', route: 'messages' });
      }
    }
  });
});

/** Until every entry Envoy has logged so far has reached the processor (a barrier, not a wait for time). */
async function allDelivered(): Promise<void> {
  const envoyLogged = async () => {
    const text = await stack.envoy.admin.get('/stats?filter=^access_logs\\.grpc_access_log\\.logs_written$');
    return Number(/: (\d+)/.exec(text)?.[1] ?? -1);
  };
  const received = async () =>
    Number(/^gateway_access_log_entries_total (\d+)$/m.exec(await metricsText())?.[1] ?? 0);
  await expect.poll(async () => (await received()) - (await envoyLogged()), { timeout: 10_000 }).toBe(0);
}

describe('what is read, and how often', () => {
  it('never counts usage from an answer that is not a success, whatever its body says', async () => {
    const usage = { input_tokens: 1606, output_tokens: 5 };
    stack.upstream.queue((_request, res) =>
      json(res, 529, { type: 'error', error: { type: 'overloaded_error', message: 'busy' }, usage }),
    );
    stack.upstream.queue(sseResponder(textStreamEvents('claude-opus-4-7', ['x'], usage)));
    const overloaded = await fetch(`${stack.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': GATEWAY_TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify(seedRequest('claude-opus-4-7')),
    });
    expect(overloaded.status).toBe(529);
    await overloaded.text();
    // The same usage in a 200 stream is counted: the status alone made the difference.
    const streamed = await client.messages.stream(seed('claude-opus-4-7')).finalMessage();
    expect(streamed.usage.input_tokens).toBe(1606);
    const line = await accessLine((e) => e.model === 'claude-opus-4-7' && e.status === 529);
    expect(line.usage).toBeUndefined();
    await accessLine((e) => e.model === 'claude-opus-4-7' && e.status === 200 && withInput(1606)(e));
    await allDelivered();
    const text = await metricsText();
    expect(text).toMatch(
      /^gateway_tokens_total\{workspace="default",token="default",model="claude-opus-4-7",kind="input"\} 1606$/m,
    );
  });

  it('writes exactly one access line per request, whoever answered it', async () => {
    stack.upstream.queue((_request, res) =>
      json(res, 200, messageBody('claude-opus-4-5', 'one line', { input_tokens: 1808, output_tokens: 1 })),
    );
    const send = (path: string, body: unknown, token = GATEWAY_TOKEN) =>
      fetch(`${stack.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'x-api-key': token, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const answers = await Promise.all([
      send('/v1/messages', seedRequest('claude-opus-4-5')), // forwarded
      send('/v1/messages', seedRequest(), 'agw_e2e_not_a_token_at_all_0123456789abcd'), // refused: 401
      send('/v1/messages', seedRequest('no-such-model')), // the processor's own answer: 400
      send('/v1/elsewhere', {}), // not an endpoint: 404
      send('/v1/messages', { ...seedRequest(), pad: 'x'.repeat(33 * 1024 * 1024) }), // Envoy's own: 413
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 401, 400, 404, 413]);
    await Promise.all(answers.map((a) => a.text()));
    const ids = answers.slice(1).map((a) => a.headers.get('request-id'));
    // Each line arrives once its request is over on Envoy's side (an early reply
    // may come before the client has stopped sending); then every entry Envoy
    // logged by then has reached the processor: a second line would be there.
    await accessLine(withInput(1808));
    for (const requestId of ids) {
      expect(requestId).toBeTruthy();
      await accessLine((e) => e.requestId === requestId, 20_000);
    }
    await allDelivered();
    const lines = stack.processorLog.map((l) => JSON.parse(l) as LogEntry).filter(isAccess);
    expect(lines.filter(withInput(1808))).toHaveLength(1);
    for (const requestId of ids) expect(lines.filter((e) => e.requestId === requestId)).toHaveLength(1);
  });

  it('passes a JSON answer larger than 1 MiB whole and reads its usage', async () => {
    const text = 'Neon is serverless Postgres. '.repeat(110_000); // about 3 MiB
    const usage = { input_tokens: 1909, output_tokens: 700_000 };
    stack.upstream.queue((_request, res) => json(res, 200, messageBody('claude-opus-4-8', text, usage)));
    const message = await client.messages.create(seed('claude-opus-4-8'));
    expect(message.content[0]).toMatchObject({ type: 'text', text });
    const line = await accessLine(withInput(1909));
    expect(line).toMatchObject({ model: 'claude-opus-4-8', streamed: false, complete: true, usage });
  });
});

describe('metrics endpoint', () => {
  it('serves requests, tokens by kind, histograms, refusals and stream errors', async () => {
    stack.upstream.queue((_request, res) =>
      json(res, 200, messageBody('claude-opus-4-6', 'hi', { input_tokens: 1505, output_tokens: 3 })),
    );
    await client.messages.create(seed('claude-opus-4-6'));
    await accessLine(withInput(1505));
    const text = await metricsText();
    expect(text).toMatch(
      /^gateway_requests_total\{workspace="default",token="default",model="claude-opus-4-6",route="messages",status="200"\} 1$/m,
    );
    expect(text).toMatch(
      /^gateway_tokens_total\{workspace="default",token="default",model="claude-opus-4-6",kind="input"\} 1505$/m,
    );
    expect(text).toMatch(
      /^gateway_tokens_total\{workspace="default",token="default",model="claude-opus-4-6",kind="output"\} 3$/m,
    );
    expect(text).toMatch(
      /^gateway_count_tokens_input_tokens_total\{workspace="default",token="default",model="claude-sonnet-4-6"\} 1303$/m,
    );
    expect(text).toMatch(
      /^gateway_request_duration_seconds_count\{route="messages",model="claude-opus-4-6"\} 1$/m,
    );
    expect(text).toMatch(
      /^gateway_time_to_first_byte_seconds_bucket\{le="\+Inf",route="messages",model="claude-opus-4-6"\} 1$/m,
    );
    expect(text).toMatch(/^gateway_rejected_requests_total\{reason="invalid_credential"\} [1-9]\d*$/m);
    expect(text).toMatch(
      /^gateway_requests_total\{workspace="none",token="none",model="none",route="none",status="401"\} [1-9]\d*$/m,
    );
    expect(text).toContain('# TYPE gateway_processor_stream_errors_total counter');
    // Refusals, Envoy's own errors and a client that went away are not stream errors.
    for (const stream of ['policy', 'access_log'])
      expect(text).toMatch(
        new RegExp(`^gateway_processor_stream_errors_total\\{stream="${stream}"\\} 0$`, 'm'),
      );
    for (const operation of ['admit', 'charge'])
      expect(text).toMatch(
        new RegExp(`^gateway_quota_store_errors_total\\{operation="${operation}"\\} 0$`, 'm'),
      );
    // Node's default metrics under their conventional names, as stock dashboards expect them.
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
    ])
      expect(text).toMatch(new RegExp(`^${name} \\d`, 'm'));
    expect(text).not.toContain('gateway_processor_process_');
  });

  it('answers 404 for anything but /metrics', async () => {
    const response = await fetch(stack.metricsUrl.replace('/metrics', '/other'));
    expect(response.status).toBe(404);
    await response.text();
  });
});
