// The official TypeScript SDK (@anthropic-ai/sdk) through the real Envoy,
// changing only its base URL: the seed's examples, streaming, count_tokens,
// and the SDK's error classes for every error the gateway or upstream sends.
import Anthropic from '@anthropic-ai/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  errorResponder,
  json,
  messageBody,
  pacedSseResponder,
  sha256,
  textStreamEvents,
  UPSTREAM_REQUEST_ID,
} from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, UPSTREAM_KEY, useStack } from '../support/gateway-stack.ts';

const HAIKU_ONLY_TOKEN = 'agw_e2e_haiku_only_token_abcdefghijklmnopqrstuv';

const stack = useStack({
  config: {
    tokens: [
      { id: 'default', workspace: 'default', env: 'GATEWAY_TOKEN' },
      { id: 'haiku-only', workspace: 'default', env: 'HAIKU_ONLY_TOKEN', models: ['claude-haiku-4-5'] },
    ],
  },
  env: { HAIKU_ONLY_TOKEN },
});
let client: Anthropic;
beforeAll(() => {
  client = new Anthropic({ apiKey: GATEWAY_TOKEN, baseURL: stack.baseUrl, maxRetries: 0 });
});

const seed = {
  model: 'claude-sonnet-4-6',
  max_tokens: 1024,
  messages: [{ role: 'user' as const, content: 'What is Neon?' }],
};

describe('the seed example', () => {
  it('messages.create returns the upstream message; the upstream saw the workspace key, not the token', async () => {
    const message = await client.messages.create(seed);
    const first = message.content[0];
    expect(first?.type === 'text' ? first.text : undefined).toBe('Hello from the fake upstream.');
    expect(message.model).toBe('claude-sonnet-4-6');

    const received = stack.upstream.received[0];
    expect(received?.url).toBe('/v1/messages');
    const header = (name: string) =>
      received?.headers.filter(([key]) => key === name).map(([, value]) => value);
    expect(header('x-api-key')).toEqual([UPSTREAM_KEY]);
    expect(header('authorization')).toEqual([]);
    expect(received?.headers.some(([name]) => name.startsWith('x-stainless'))).toBe(false);
    expect(received?.body.toString()).not.toContain(GATEWAY_TOKEN);
    expect(JSON.parse(received?.body.toString() ?? '{}')).toEqual(seed);
  });

  it('forwards cache_control and thinking unchanged and returns cache usage', async () => {
    const usage = {
      input_tokens: 50,
      output_tokens: 200,
      cache_creation_input_tokens: 10000,
      cache_read_input_tokens: 0,
    };
    stack.upstream.queue((_request, res) =>
      json(res, 200, messageBody('claude-sonnet-4-6', 'Summary.', usage)),
    );
    const message = await client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 16000,
      thinking: { type: 'enabled', budget_tokens: 10000 },
      system: [
        { type: 'text', text: 'You are a helpful assistant.' },
        { type: 'text', text: 'A long document.', cache_control: { type: 'ephemeral' } },
      ],
      messages: [{ role: 'user', content: 'Summarize the key points.' }],
    });
    expect(message.usage).toMatchObject(usage);
    const sent = JSON.parse(stack.upstream.received[0]?.body.toString() ?? '{}') as Record<string, unknown>;
    expect(sent.thinking).toEqual({ type: 'enabled', budget_tokens: 10000 });
    expect(sent.system).toEqual([
      { type: 'text', text: 'You are a helpful assistant.' },
      { type: 'text', text: 'A long document.', cache_control: { type: 'ephemeral' } },
    ]);
  });

  it('accepts the token as authToken (Authorization: Bearer) too', async () => {
    const bearerClient = new Anthropic({
      authToken: GATEWAY_TOKEN,
      apiKey: null,
      baseURL: stack.baseUrl,
      maxRetries: 0,
    });
    const message = await bearerClient.messages.create(seed);
    expect(message.type).toBe('message');
  });
});

describe('streaming', () => {
  it('messages.stream delivers text events and the final message', async () => {
    stack.upstream.queue(
      pacedSseResponder(textStreamEvents('claude-sonnet-4-6', ['Neon ', 'is ', 'Postgres.']), 5),
    );
    const stream = client.messages.stream(seed);
    const texts: string[] = [];
    stream.on('text', (text) => texts.push(text));
    const final = await stream.finalMessage();
    expect(texts).toEqual(['Neon ', 'is ', 'Postgres.']);
    const first = final.content[0];
    expect(first?.type === 'text' ? first.text : undefined).toBe('Neon is Postgres.');
    expect(final.stop_reason).toBe('end_turn');
    expect(JSON.parse(stack.upstream.received[0]?.body.toString() ?? '{}')).toMatchObject({ stream: true });
  });

  it('create with stream: true yields the raw events in order', async () => {
    const events = textStreamEvents('claude-sonnet-4-6', ['a', 'b']);
    stack.upstream.queue(pacedSseResponder(events, 1));
    const stream = await client.messages.create({ ...seed, stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    // The SDK consumes keep-alive pings itself.
    expect(types).toEqual(events.map((event) => event.event).filter((name) => name !== 'ping'));
  });
});

describe('count_tokens', () => {
  it('returns the upstream count', async () => {
    const result = await client.messages.countTokens({ model: 'claude-haiku-4-5', messages: seed.messages });
    expect(result.input_tokens).toBe(42);
    expect(stack.upstream.received[0]?.url).toBe('/v1/messages/count_tokens');
  });
});

describe('error classes', () => {
  async function caught(promise: Promise<unknown>): Promise<InstanceType<typeof Anthropic.APIError>> {
    try {
      await promise;
    } catch (error) {
      if (!(error instanceof Anthropic.APIError)) throw error;
      // Every error, the gateway's or the upstream's, carries a request id the SDK reads.
      expect(error.requestID).toBeTruthy();
      return error;
    }
    throw new Error('expected the request to fail');
  }

  it('401 AuthenticationError for a bad gateway token, with a request id', async () => {
    const bad = new Anthropic({ apiKey: 'agw_wrong', baseURL: stack.baseUrl, maxRetries: 0 });
    const error = await caught(bad.messages.create(seed));
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(error.status).toBe(401);
    expect(error.message).toContain('invalid or missing credential');
    expect(error.requestID).toBeTruthy();
  });

  it('400 BadRequestError for an unknown model and for another provider', async () => {
    const unknown = await caught(client.messages.create({ ...seed, model: 'claude-unknown' }));
    expect(unknown).toBeInstanceOf(Anthropic.BadRequestError);
    expect(unknown.message).toContain('unknown model');
    // The body the SDK parsed: the requested id, and where the served ones are listed.
    expect(unknown.error).toEqual({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message:
          'unknown model: "claude-unknown" (see GET /ai-gateway/anthropic/v1/models for the models this gateway serves)',
      },
    });
    const other = await caught(client.messages.create({ ...seed, model: 'gemini-2.5-pro' }));
    expect(other).toBeInstanceOf(Anthropic.BadRequestError);
    expect(other.message).toContain('model is not available on this endpoint');
    expect(stack.upstream.received).toHaveLength(0);
  });

  it('403 PermissionDeniedError for a model outside the token scope', async () => {
    const scoped = new Anthropic({ apiKey: HAIKU_ONLY_TOKEN, baseURL: stack.baseUrl, maxRetries: 0 });
    const error = await caught(scoped.messages.create(seed));
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(error.status).toBe(403);
    const allowed = await scoped.messages.create({ ...seed, model: 'claude-haiku-4-5' });
    expect(allowed.type).toBe('message');
  });

  it('404 NotFoundError for an endpoint the gateway does not serve', async () => {
    const error = await caught(client.messages.batches.list());
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect(error.status).toBe(404);
  });

  it('413 ContentTooLargeError for a body over the limit', async () => {
    const error = await caught(
      client.messages.create({
        ...seed,
        messages: [{ role: 'user', content: 'x'.repeat(33 * 1024 * 1024) }],
      }),
    );
    expect(error.status).toBe(413);
    expect(error).toBeInstanceOf(Anthropic.ContentTooLargeError);
    expect(error.message).toContain('request_too_large');
  });

  it('429 RateLimitError, 500 InternalServerError and 529 OverloadedError from the upstream, with its request id', async () => {
    stack.upstream.queue(
      errorResponder(429, 'rate_limit_error', 'Number of requests has exceeded your rate limit', {
        'retry-after': '3',
      }),
    );
    const limited = await caught(client.messages.create(seed));
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect(limited.requestID).toBe(UPSTREAM_REQUEST_ID);
    expect(limited.headers?.get('retry-after')).toBe('3');

    stack.upstream.queue(errorResponder(500, 'api_error', 'Internal server error'));
    const internal = await caught(client.messages.create(seed));
    expect(internal).toBeInstanceOf(Anthropic.InternalServerError);
    expect(internal.status).toBe(500);

    stack.upstream.queue(errorResponder(529, 'overloaded_error', 'Overloaded'));
    const overloaded = await caught(client.messages.create(seed));
    expect(overloaded).toBeInstanceOf(Anthropic.OverloadedError);
    expect(overloaded.status).toBe(529);
    expect(overloaded.message).toContain('Overloaded');
  });

  it('the request reaches the upstream byte for byte even with unusual JSON', async () => {
    const body =
      '{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"\\ud83d\\ude00 \\"q\\""}]}';
    const response = await fetch(`${stack.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': GATEWAY_TOKEN, 'content-type': 'application/json' },
      body,
    });
    expect(response.status).toBe(200);
    expect(stack.upstream.received[0]?.sha256).toBe(sha256(body));
  });
});
