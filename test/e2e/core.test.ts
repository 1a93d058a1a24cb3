// The gateway's core behaviour through the real Envoy, the processor and the
// fake upstream, with plain HTTP (fetch) as the client.
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  errorResponder,
  sha256,
  sseResponder,
  textStreamEvents,
  UPSTREAM_REQUEST_ID,
} from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, seedRequest, UPSTREAM_KEY, useStack } from '../support/gateway-stack.ts';

const stack = useStack();

const anthropicHeaders = {
  'content-type': 'application/json',
  'anthropic-version': '2023-06-01',
};

function post(path: string, body: string | Buffer, headers: Record<string, string> = {}) {
  return fetch(`${stack.baseUrl}${path}`, {
    method: 'POST',
    headers: { ...anthropicHeaders, 'x-api-key': GATEWAY_TOKEN, ...headers },
    body,
  });
}

async function expectAnthropicError(response: Response, status: number, type: string, message?: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain('application/json');
  expect(response.headers.get('request-id')).toBeTruthy();
  const body = (await response.json()) as { type: string; error: { type: string; message: string } };
  expect(body.type).toBe('error');
  expect(body.error.type).toBe(type);
  expect(typeof body.error.message).toBe('string');
  if (message !== undefined) expect(body.error.message).toBe(message);
  return body;
}

describe('forwarding', () => {
  it('sends exactly the allowlisted headers, the workspace key and the unchanged body upstream', async () => {
    const body = JSON.stringify(seedRequest());
    const response = await post('/v1/messages?beta=true', body, {
      authorization: `Bearer ${GATEWAY_TOKEN}`,
      'anthropic-beta': 'prompt-caching-2024-07-31,interleaved-thinking-2025-05-14',
      'user-agent': 'e2e-test/1.0',
      accept: 'application/json',
      cookie: 'session=secret',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-host': 'evil.example',
      'x-request-id': 'client-chosen-id',
      'x-envoy-retry-on': '5xx',
      'x-stainless-os': 'Linux',
      'x-custom': 'dropped',
    });
    expect(response.status).toBe(200);
    await response.json();

    expect(stack.upstream.received).toHaveLength(1);
    const received = stack.upstream.received[0];
    expect(received?.method).toBe('POST');
    expect(received?.url).toBe('/v1/messages?beta=true');
    expect(received?.sha256).toBe(sha256(body));
    const names = received?.headers.map(([name]) => name).sort();
    expect(names).toEqual(
      [
        'accept',
        'anthropic-beta',
        'anthropic-version',
        'content-length',
        'content-type',
        'host',
        'user-agent',
        'x-api-key',
      ].sort(),
    );
    const header = (name: string) => received?.headers.find(([key]) => key === name)?.[1];
    expect(header('x-api-key')).toBe(UPSTREAM_KEY);
    expect(header('host')).toBe(new URL(stack.upstream.url).host);
    expect(header('anthropic-beta')).toBe('prompt-caching-2024-07-31,interleaved-thinking-2025-05-14');
    expect(header('user-agent')).toBe('e2e-test/1.0');
  });

  it('forwards count_tokens and strips the prefix', async () => {
    const response = await post('/v1/messages/count_tokens', JSON.stringify(seedRequest()));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ input_tokens: 42 });
    expect(stack.upstream.received[0]?.url).toBe('/v1/messages/count_tokens');
  });

  it('accepts the token as Authorization: Bearer without x-api-key', async () => {
    const response = await fetch(`${stack.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { ...anthropicHeaders, authorization: `Bearer ${GATEWAY_TOKEN}` },
      body: JSON.stringify(seedRequest()),
    });
    expect(response.status).toBe(200);
    expect(stack.upstream.received).toHaveLength(1);
  });

  it('forwards fields it does not know, byte for byte', async () => {
    const body = `{"model":"claude-opus-4-8" ,"max_tokens":16000,
      "thinking":{"type":"enabled","budget_tokens":10000},
      "system":[{"type":"text","text":"doc","cache_control":{"type":"ephemeral"}}],
      "messages":[{"role":"user","content":"caf\\u00e9 \u2603"}],"future_field":{"x":[1,2.50,3e3]}}`;
    const response = await post('/v1/messages', body);
    expect(response.status).toBe(200);
    expect(stack.upstream.received[0]?.sha256).toBe(sha256(body));
  });

  it('passes a 32 MB body through unchanged', async () => {
    const filler = 'a'.repeat(32_000_000 - 100);
    const body = Buffer.from(
      `{"messages":[{"role":"user","content":"${filler}"}],"max_tokens":1,"model":"claude-haiku-4-5"}`,
    );
    expect(body.length).toBeLessThanOrEqual(32_000_000);
    const response = await post('/v1/messages', body);
    expect(response.status).toBe(200);
    expect(stack.upstream.received[0]?.sha256).toBe(sha256(body));
  });
});

describe('responses pass through unchanged', () => {
  it('keeps upstream errors, their status, request-id and retry-after', async () => {
    stack.upstream.queue(errorResponder(429, 'rate_limit_error', 'slow down', { 'retry-after': '17' }));
    const response = await post('/v1/messages', JSON.stringify(seedRequest()));
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('17');
    expect(response.headers.get('request-id')).toBe(UPSTREAM_REQUEST_ID);
    expect(await response.json()).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'slow down' },
    });
  });

  it('keeps a 529 overloaded_error as the upstream sent it', async () => {
    stack.upstream.queue(errorResponder(529, 'overloaded_error', 'Overloaded'));
    const response = await post('/v1/messages', JSON.stringify(seedRequest()));
    expect(response.status).toBe(529);
    expect(await response.json()).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: 'Overloaded' },
    });
  });

  it('streams SSE event by event: the client sees the first event before the upstream sends the last', async () => {
    const events = textStreamEvents('claude-sonnet-4-6', ['Hello', ', ', 'world']);
    let releaseRest: () => void = () => {};
    const rest = new Promise<void>((resolve) => {
      releaseRest = resolve;
    });
    let upstreamSentLast = false;
    stack.upstream.queue(
      sseResponder(events, async (index) => {
        if (index === 1) await rest;
        if (index === events.length - 1) upstreamSentLast = true;
      }),
    );
    const response = await post(
      '/v1/messages',
      JSON.stringify(seedRequest('claude-sonnet-4-6', { stream: true })),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('\n\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text.startsWith('event: message_start\n')).toBe(true);
    expect(upstreamSentLast).toBe(false);
    releaseRest();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(upstreamSentLast).toBe(true);
    expect(text.match(/^event: /gm)).toHaveLength(events.length);
    expect(text).toContain('"text":"world"');
  });
});

describe('rejections (nothing reaches the upstream)', () => {
  afterAll(() => {});
  beforeEach(() => {
    stack.upstream.reset();
  });
  const expectNothingUpstream = () => expect(stack.upstream.received).toHaveLength(0);

  it('401 without a token', async () => {
    const response = await fetch(`${stack.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: anthropicHeaders,
      body: JSON.stringify(seedRequest()),
    });
    await expectAnthropicError(response, 401, 'authentication_error', 'invalid or missing credential');
    expectNothingUpstream();
  });

  it('401 with a wrong token, decided at the headers: the processor never sees the body', async () => {
    const body = Buffer.from(
      JSON.stringify(seedRequest('claude-haiku-4-5', { pad: 'x'.repeat(1024 * 1024) })),
    );
    const response = await post('/v1/messages', body, { 'x-api-key': `${GATEWAY_TOKEN}x` });
    const { status } = response;
    const requestId = response.headers.get('request-id');
    await expectAnthropicError(response, 401, 'authentication_error', 'invalid or missing credential');
    expect(status).toBe(401);
    expectNothingUpstream();
    const decisions = await stack.waitForLog(
      (entry) => entry.requestId === requestId && entry.msg === 'request rejected',
    );
    expect(decisions.map((entry) => entry.phase)).toEqual(['request_headers']);
  });

  it('400 unknown model', async () => {
    const response = await post('/v1/messages', JSON.stringify(seedRequest('claude-nonexistent-9')));
    await expectAnthropicError(
      response,
      400,
      'invalid_request_error',
      'unknown model: "claude-nonexistent-9" (see GET /ai-gateway/anthropic/v1/models for the models this gateway serves)',
    );
    expectNothingUpstream();
  });

  it('400 for a catalog model of another provider', async () => {
    const response = await post('/v1/messages', JSON.stringify(seedRequest('gpt-4o')));
    await expectAnthropicError(
      response,
      400,
      'invalid_request_error',
      'model is not available on this endpoint',
    );
    expectNothingUpstream();
  });

  it('400 for a body that is not a JSON object, or has no string model', async () => {
    await expectAnthropicError(
      await post('/v1/messages', 'not json'),
      400,
      'invalid_request_error',
      'request body is not valid JSON',
    );
    await expectAnthropicError(
      await post('/v1/messages', '[1,2]'),
      400,
      'invalid_request_error',
      'request body must be a JSON object',
    );
    await expectAnthropicError(
      await post('/v1/messages', '{"max_tokens":1}'),
      400,
      'invalid_request_error',
      'model: field required',
    );
    await expectAnthropicError(
      await post('/v1/messages', '{"model":7}'),
      400,
      'invalid_request_error',
      'model: must be a string',
    );
    expectNothingUpstream();
  });

  it('404 for other paths under and outside the prefix', async () => {
    for (const path of [
      '/ai-gateway/anthropic/v1/complete',
      '/ai-gateway/anthropic/v1/messages/batches',
      '/other',
      '/',
    ]) {
      const response = await fetch(`${stack.origin}${path}`, {
        method: 'POST',
        headers: { ...anthropicHeaders, 'x-api-key': GATEWAY_TOKEN },
        body: JSON.stringify(seedRequest()),
      });
      await expectAnthropicError(response, 404, 'not_found_error');
    }
    expectNothingUpstream();
  });

  it('405 for a wrong method on a known route', async () => {
    const response = await fetch(`${stack.baseUrl}/v1/messages`, { headers: { 'x-api-key': GATEWAY_TOKEN } });
    await expectAnthropicError(response, 405, 'invalid_request_error');
    expect(response.headers.get('allow')).toBe('POST');
    expectNothingUpstream();
  });

  it('413 request_too_large for a body over 32 MiB', async () => {
    const body = Buffer.from(`{"model":"claude-haiku-4-5","pad":"${'a'.repeat(32 * 1024 * 1024)}"}`);
    const response = await post('/v1/messages', body);
    await expectAnthropicError(response, 413, 'request_too_large');
    expectNothingUpstream();
  });
});
