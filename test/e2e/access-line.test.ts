// The access line's request fields through the real Envoy: the method, the
// client's path and query, the client address, the user agent and the
// upstream's request-id come from Envoy's access-log entry, the start time
// is Envoy's, and the token id is on every line of a request that presented
// a valid token, the models listing (the processor's own answer) included.
// A stream the client aborts lasts until the client left, by Envoy's clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, messageBody, sseResponder, textStreamEvents } from '../support/fake-upstream.ts';
import {
  GATEWAY_TOKEN,
  type GatewayStack,
  type LogEntry,
  seedRequest,
  startStack,
} from '../support/gateway-stack.ts';

let stack: GatewayStack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

async function accessLine(match: (entry: LogEntry) => boolean, timeoutMs = 10_000): Promise<LogEntry> {
  const [entry] = await stack.waitForLog((e) => e.msg === 'access' && match(e), timeoutMs);
  return entry;
}

const withInput = (tokens: number) => (entry: LogEntry) =>
  (entry.usage as { input_tokens?: number } | undefined)?.input_tokens === tokens;

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('access line', () => {
  it('names the method, client path and query, address, user agent, upstream request-id and start time', async () => {
    stack.upstream.queue((_request, res) =>
      json(res, 200, messageBody('claude-sonnet-4-6', 'hi', { input_tokens: 2101, output_tokens: 2 }), {
        'request-id': 'req_e2e_access_line_0001',
      }),
    );
    const before = Date.now();
    const response = await fetch(`${stack.baseUrl}/v1/messages?beta=true`, {
      method: 'POST',
      headers: {
        'x-api-key': GATEWAY_TOKEN,
        'content-type': 'application/json',
        'user-agent': 'observe-e2e/1.0 (access line)',
      },
      body: JSON.stringify(seedRequest()),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('request-id')).toBe('req_e2e_access_line_0001');
    await response.text();
    const after = Date.now();

    const line = await accessLine(withInput(2101));
    expect(line).toMatchObject({
      method: 'POST',
      // The client's path, not the /v1/messages the route sent upstream.
      path: '/ai-gateway/anthropic/v1/messages?beta=true',
      clientAddress: '127.0.0.1',
      userAgent: 'observe-e2e/1.0 (access line)',
      upstreamRequestId: 'req_e2e_access_line_0001',
      tokenId: 'default',
      route: 'messages',
      status: 200,
    });
    // The gateway's own id is another.
    expect(line.requestId).toEqual(expect.any(String));
    expect(line.requestId).not.toBe(line.upstreamRequestId);
    // When the request reached Envoy: ISO-8601, between the test's own clock readings.
    expect(line.startTime).toMatch(ISO_8601);
    const start = Date.parse(line.startTime as string);
    expect(start).toBeGreaterThanOrEqual(before - 1);
    expect(start).toBeLessThanOrEqual(after);
  });

  it('logs the models listing under its route with its token id, and the HEAD probe without one', async () => {
    const listing = await fetch(`${stack.baseUrl}/v1/models?limit=2`, {
      headers: { 'x-api-key': GATEWAY_TOKEN, 'user-agent': 'observe-e2e/models' },
    });
    expect(listing.status).toBe(200);
    await listing.text();
    const probe = await fetch(stack.baseUrl, {
      method: 'HEAD',
      headers: { 'user-agent': 'observe-e2e/probe' },
    });
    expect(probe.status).toBe(200);

    const models = await accessLine((e) => e.requestId === listing.headers.get('request-id'));
    expect(models).toMatchObject({
      method: 'GET',
      path: '/ai-gateway/anthropic/v1/models?limit=2',
      tokenId: 'default',
      workspace: 'default',
      route: 'models',
      status: 200,
      userAgent: 'observe-e2e/models',
      complete: true,
    });
    // The gateway answered: no upstream, so no upstream request-id, no model, no usage.
    expect(models.upstreamRequestId).toBeUndefined();
    expect(models.usage).toBeUndefined();

    const probed = await accessLine((e) => e.userAgent === 'observe-e2e/probe');
    expect(probed).toMatchObject({ method: 'HEAD', path: '/ai-gateway/anthropic', status: 200 });
    expect(probed.tokenId).toBeUndefined();
    expect(probed.route).toBeUndefined();

    // Counted under route="models" and the token, not route="none".
    await expect
      .poll(async () => (await fetch(stack.metricsUrl)).text())
      .toMatch(
        /^gateway_requests_total\{workspace="default",token="default",model="none",route="models",status="200"\} [1-9]\d*$/m,
      );
  });

  it('names the token on a refusal after the credential was checked, and none before', async () => {
    const send = (token: string, userAgent: string) =>
      fetch(`${stack.baseUrl}/v1/messages`, {
        method: 'POST',
        headers: {
          'x-api-key': token,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'user-agent': userAgent,
        },
        body: JSON.stringify(seedRequest()),
      }).then(async (response) => {
        await response.text();
        return response.status;
      });
    expect(await send(GATEWAY_TOKEN, 'observe-e2e/gzip')).toBe(415);
    expect(await send('agw_e2e_not_a_token_at_all_0123456789abcd', 'observe-e2e/wrong')).toBe(401);
    const refused = await accessLine((e) => e.userAgent === 'observe-e2e/gzip');
    expect(refused).toMatchObject({
      tokenId: 'default',
      workspace: 'default',
      route: 'messages',
      reason: 'content_encoding',
      status: 415,
    });
    const unknown = await accessLine((e) => e.userAgent === 'observe-e2e/wrong');
    expect(unknown).toMatchObject({ reason: 'invalid_credential', status: 401, method: 'POST' });
    expect(unknown.tokenId).toBeUndefined();
  });

  it("ends an aborted stream's duration when the client left, not when Envoy closed the upstream", async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // message_start and a first delta, then the upstream holds the rest until the line is in.
    stack.upstream.queue(
      sseResponder(
        textStreamEvents('claude-sonnet-4-6', ['one', 'two', 'three'], {
          input_tokens: 2404,
          output_tokens: 9,
        }),
        (i) => (i >= 4 ? held : Promise.resolve()),
      ),
    );
    const abort = new AbortController();
    const started = Date.now();
    const response = await fetch(`${stack.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': GATEWAY_TOKEN, 'content-type': 'application/json' },
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
    const abortedAfterMs = Date.now() - started;
    try {
      // The line comes while the upstream still holds its stream: it cannot wait for the upstream's end.
      const line = await accessLine(withInput(2404), 20_000);
      expect(line).toMatchObject({ streamed: true, complete: false });
      const latency = line.latencyMs as number;
      expect(latency).toBeGreaterThanOrEqual(line.ttfbMs as number);
      // Envoy's duration ends with the client's stream: within the time the test
      // saw pass before it aborted, give or take the scheduling of a loaded
      // machine; the old metering stream reported Envoy's deferred close, 5 s
      // later (5,064 ms for an abort like this one).
      expect(latency).toBeLessThan(abortedAfterMs + 2_500);
    } finally {
      release();
    }
  });
});
