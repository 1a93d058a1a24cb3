// The official Python SDK (`anthropic` from PyPI, in .venv) through the real
// Envoy, changing only its base URL: create, stream with its helpers,
// count_tokens, models, and its error classes for every status the gateway or
// the upstream sends. The SDK reports the SHA-256 of the bytes it sent; the
// fake upstream must have received exactly those.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG } from '../../processor/config/default-catalog.ts';
import { indexCatalog } from '../../processor/policy/catalog.ts';
import { anthropicModels } from '../../processor/policy/models.ts';
import { CACHE_USAGE, message, messageEvents, THINKING_SIGNATURE } from '../support/anthropic-fixtures.ts';
import {
  errorResponder,
  json,
  pacedSseResponder,
  type ReceivedRequest,
  sseResponder,
  textStreamEvents,
  UPSTREAM_REQUEST_ID,
} from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, type GatewayStack, startStack, UPSTREAM_KEY } from '../support/gateway-stack.ts';
import { failed, ok, type PythonSdk, startPythonSdk } from '../support/python-sdk.ts';

const HAIKU_ONLY_TOKEN = 'agw_e2e_python_haiku_only_abcdefghijklmnopqrstuv';
/** Envoy's x-request-id, returned as request-id on the gateway's own errors. */
const ENVOY_REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let stack: GatewayStack;
let py: PythonSdk;

beforeAll(async () => {
  stack = await startStack({
    config: {
      tokens: [
        { id: 'default', workspace: 'default', env: 'GATEWAY_TOKEN' },
        { id: 'haiku-only', workspace: 'default', env: 'HAIKU_ONLY_TOKEN', models: ['claude-haiku-4-5'] },
      ],
    },
    env: { HAIKU_ONLY_TOKEN },
  });
  py = startPythonSdk(stack.baseUrl, { api_key: GATEWAY_TOKEN });
});
afterAll(async () => {
  await py?.close();
  await stack?.stop();
});
beforeEach(() => {
  stack.upstream.reset();
});

const seed = {
  model: 'claude-sonnet-4-6',
  max_tokens: 1024,
  messages: [{ role: 'user', content: 'What is Neon?' }],
};

const header = (request: ReceivedRequest | undefined, name: string) =>
  request?.headers.filter(([key]) => key === name).map(([, value]) => value);

describe('messages', () => {
  it('messages.create returns the message; the upstream got the SDK bytes and the workspace key', async () => {
    const reply = await py.call('create', seed);
    const result = ok(reply) as { content: Array<{ text: string }>; model: string };
    expect(result.content[0]?.text).toBe('Hello from the fake upstream.');
    expect(result.model).toBe('claude-sonnet-4-6');

    const [sent] = reply.sent;
    // SDK 2.10 sends api_key as Authorization: Bearer (older ones sent x-api-key).
    expect(sent).toMatchObject({
      method: 'POST',
      url: `${stack.baseUrl}/v1/messages`,
      authorization: 'Bearer',
      x_api_key: false,
    });
    const received = stack.upstream.received[0];
    expect(received?.url).toBe('/v1/messages');
    expect(received?.sha256).toBe(sent?.sha256);
    expect(header(received, 'x-api-key')).toEqual([UPSTREAM_KEY]);
    expect(header(received, 'authorization')).toEqual([]);
    expect(header(received, 'user-agent')?.[0]).toMatch(/^Anthropic\/Python 2\.10\.0/);
    expect(sent?.anthropic_version).toBeTruthy();
    expect(header(received, 'anthropic-version')).toEqual([sent?.anthropic_version]);
    expect(received?.headers.some(([name]) => name.startsWith('x-stainless'))).toBe(false);
  });

  it('accepts the token as auth_token (Authorization: Bearer)', async () => {
    const reply = await py.call('create', seed, { auth_token: GATEWAY_TOKEN });
    expect(ok(reply)).toMatchObject({ type: 'message' });
    expect(reply.sent[0]).toMatchObject({ authorization: 'Bearer', x_api_key: false });
    expect(header(stack.upstream.received[0], 'x-api-key')).toEqual([UPSTREAM_KEY]);
  });

  it('beta.messages.create: several betas arrive intact in anthropic-beta', async () => {
    const betas = ['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07', 'future-beta-2027-01-01'];
    const reply = await py.call('beta_create', { ...seed, betas });
    expect(ok(reply)).toMatchObject({ type: 'message' });
    const [sent] = reply.sent;
    expect(sent?.anthropic_beta?.split(',')).toEqual(betas);
    const received = stack.upstream.received[0];
    expect(header(received, 'anthropic-beta')).toEqual([sent?.anthropic_beta]);
    const url = new URL(sent?.url ?? '');
    expect(received?.url).toBe(`${url.pathname.replace('/ai-gateway/anthropic', '')}${url.search}`);
    expect(received?.sha256).toBe(sent?.sha256);
  });

  it('messages.stream: text_stream yields each delta, get_final_message the whole message', async () => {
    stack.upstream.queue(
      pacedSseResponder(textStreamEvents('claude-sonnet-4-6', ['Neon ', 'is ', 'Postgres.']), 5),
    );
    const reply = await py.call('stream_text', seed);
    const result = ok(reply) as {
      texts: string[];
      final: { content: Array<{ text: string }>; stop_reason: string };
    };
    expect(result.texts).toEqual(['Neon ', 'is ', 'Postgres.']);
    expect(result.final.content[0]?.text).toBe('Neon is Postgres.');
    expect(result.final.stop_reason).toBe('end_turn');
    const received = stack.upstream.received[0];
    expect(received?.sha256).toBe(reply.sent[0]?.sha256);
    expect(JSON.parse(received?.body.toString() ?? '{}')).toMatchObject({ stream: true });
  });

  it('messages.create(stream=True) yields the raw events in order', async () => {
    const events = textStreamEvents('claude-sonnet-4-6', ['a', 'b']);
    stack.upstream.queue(sseResponder(events));
    const result = ok(await py.call('create_stream', seed)) as Array<{ type: string }>;
    // The SDK consumes keep-alive pings itself.
    expect(result.map((event) => event.type)).toEqual(
      events.map((event) => event.event).filter((name) => name !== 'ping'),
    );
  });

  it('messages.count_tokens returns the upstream count', async () => {
    const reply = await py.call('count_tokens', { model: 'claude-haiku-4-5', messages: seed.messages });
    expect(ok(reply)).toEqual({ input_tokens: 42 });
    expect(stack.upstream.received[0]?.url).toBe('/v1/messages/count_tokens');
    expect(stack.upstream.received[0]?.sha256).toBe(reply.sent[0]?.sha256);
  });
});

describe('models', () => {
  interface ModelsList {
    first_page: {
      data: Array<{ type: string; id: string; display_name: string; created_at: string }>;
      has_more: boolean;
      first_id: string | null;
      last_id: string | null;
    };
    all_ids: string[];
  }
  // The built-in catalog's Anthropic models, newest first (the order GET /v1/models lists).
  const NEWEST_FIRST = anthropicModels(indexCatalog(DEFAULT_CATALOG)).map((model) => model.id);

  it('models.list returns the Anthropic models of the catalog, answered by the gateway', async () => {
    const result = ok(await py.call<ModelsList>('models_list'));
    // One page: the gateway's default page holds 20.
    expect(result.first_page.data.map((model) => model.id)).toEqual(NEWEST_FIRST);
    expect(result.first_page).toMatchObject({
      has_more: false,
      first_id: NEWEST_FIRST[0],
      last_id: NEWEST_FIRST[NEWEST_FIRST.length - 1],
    });
    expect(result.first_page.data[0]).toMatchObject({
      type: 'model',
      id: 'claude-fable-5-2',
      display_name: 'Claude Fable 5.2',
      created_at: '2026-11-09T00:00:00Z',
    });
    expect(result.all_ids).toEqual(NEWEST_FIRST);
    expect(stack.upstream.received).toHaveLength(0);
  });

  it('auto-pagination follows has_more and last_id forward with limit', async () => {
    const reply = await py.call<ModelsList>('models_list', { limit: 2 });
    expect(ok(reply).all_ids).toEqual(NEWEST_FIRST);
    const pages = Math.ceil(NEWEST_FIRST.length / 2);
    expect(reply.sent.map((request) => new URL(request.url).search)).toEqual([
      '?limit=2',
      ...Array.from({ length: pages - 1 }, (_, i) => `?limit=2&after_id=${NEWEST_FIRST[2 * i + 1]}`),
    ]);
  });

  it('and backward with before_id and first_id', async () => {
    const last = NEWEST_FIRST.length - 1;
    const reply = await py.call<ModelsList>('models_list', { limit: 2, before_id: NEWEST_FIRST[last] });
    // Pages of two, walking back from the last model: each page in order, the pages newest last.
    const expected: string[] = [];
    for (let end = last; end > 0; end -= 2) expected.push(...NEWEST_FIRST.slice(Math.max(0, end - 2), end));
    expect(ok(reply).all_ids).toEqual(expected);
    expect(reply.sent).toHaveLength(Math.ceil(last / 2));
  });

  it('a scoped token sees only its models', async () => {
    const result = ok(await py.call<ModelsList>('models_list', {}, { api_key: HAIKU_ONLY_TOKEN }));
    expect(result.all_ids).toEqual(['claude-haiku-4-5']);
  });

  it('models.retrieve returns one model; an unknown or hidden one is NotFoundError', async () => {
    expect(ok(await py.call('models_retrieve', { model_id: 'claude-sonnet-4-6' }))).toMatchObject({
      type: 'model',
      id: 'claude-sonnet-4-6',
      display_name: 'Claude Sonnet 4.6',
      created_at: '2026-02-17T00:00:00Z',
    });
    for (const [modelId, credential] of [
      ['claude-unknown-9', { api_key: GATEWAY_TOKEN }],
      ['gpt-4o', { api_key: GATEWAY_TOKEN }],
      ['claude-sonnet-4-6', { api_key: HAIKU_ONLY_TOKEN }],
    ] as const) {
      const error = failed(await py.call('models_retrieve', { model_id: modelId }, credential));
      expect(error, modelId).toMatchObject({
        class: 'NotFoundError',
        status_code: 404,
        type: 'not_found_error',
        api_message: `model "${modelId}" not found`,
      });
    }
  });

  it('models.list without a valid token is AuthenticationError', async () => {
    const error = failed(await py.call('models_list', {}, { api_key: 'agw_not_a_token' }));
    expect(error).toMatchObject({ class: 'AuthenticationError', status_code: 401 });
  });
});

describe('error classes: status_code, class, type and request_id', () => {
  const expectGatewayError = (error: ReturnType<typeof failed>) => {
    expect(error.request_id).toMatch(ENVOY_REQUEST_ID);
    expect(stack.upstream.received).toHaveLength(0);
  };

  it('400 BadRequestError for an unknown model', async () => {
    const error = failed(await py.call('create', { ...seed, model: 'claude-unknown' }));
    expect(error).toMatchObject({
      class: 'BadRequestError',
      status_code: 400,
      type: 'invalid_request_error',
      api_message: expect.stringMatching(/^unknown model: "claude-unknown" /),
    });
    expectGatewayError(error);
  });

  it('401 AuthenticationError for a bad token', async () => {
    const error = failed(await py.call('create', seed, { api_key: 'agw_wrong' }));
    expect(error).toMatchObject({
      class: 'AuthenticationError',
      status_code: 401,
      type: 'authentication_error',
      api_message: 'invalid or missing credential',
    });
    expectGatewayError(error);
  });

  it('403 PermissionDeniedError for a model outside the token scope', async () => {
    const error = failed(await py.call('create', seed, { api_key: HAIKU_ONLY_TOKEN }));
    expect(error).toMatchObject({
      class: 'PermissionDeniedError',
      status_code: 403,
      type: 'permission_error',
    });
    expectGatewayError(error);
  });

  it('404 NotFoundError for Message Batches, saying it is not available through this gateway', async () => {
    const error = failed(await py.call('batches_list'));
    expect(error).toMatchObject({ class: 'NotFoundError', status_code: 404, type: 'not_found_error' });
    expect(error.api_message).toContain('/v1/messages/batches is not available through this gateway');
    expectGatewayError(error);
  });

  it('413 ContentTooLargeError for a body over 32 MiB', async () => {
    const error = failed(
      await py.call('create', {
        ...seed,
        messages: [{ role: 'user', content: 'x'.repeat(33 * 1024 * 1024) }],
      }),
    );
    expect(error).toMatchObject({
      class: 'ContentTooLargeError',
      status_code: 413,
      type: 'request_too_large',
    });
    expectGatewayError(error);
  });

  it('429 RateLimitError, 500 InternalServerError, 529 OverloadedError from the upstream, with its request id', async () => {
    const cases = [
      [429, 'rate_limit_error', 'RateLimitError'],
      [500, 'api_error', 'InternalServerError'],
      [529, 'overloaded_error', 'OverloadedError'],
    ] as const;
    for (const [status, type, errorClass] of cases) {
      stack.upstream.queue(errorResponder(status, type, `upstream says ${type}`, { 'retry-after': '1' }));
      const error = failed(await py.call('create', seed));
      expect(error, errorClass).toMatchObject({
        class: errorClass,
        status_code: status,
        type,
        api_message: `upstream says ${type}`,
        request_id: UPSTREAM_REQUEST_ID,
      });
    }
    expect(stack.upstream.received).toHaveLength(3);
  });
});

describe('features through the Python SDK', () => {
  it('prompt caching: cache usage reaches the client in JSON', async () => {
    stack.upstream.queue((_request, res) =>
      json(res, 200, message('claude-sonnet-4-6', [{ type: 'text', text: 'Summary.' }], CACHE_USAGE)),
    );
    const result = ok(
      await py.call('create', {
        ...seed,
        system: [{ type: 'text', text: 'A long document.', cache_control: { type: 'ephemeral' } }],
      }),
    );
    expect(result).toMatchObject({ usage: CACHE_USAGE });
  });

  it('thinking: the stream helper sees thinking and signature events; the final message keeps both blocks', async () => {
    const content = [
      { type: 'thinking', thinking: 'Let me think about Neon.', signature: THINKING_SIGNATURE },
      { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3p' },
      { type: 'text', text: 'Neon is serverless Postgres.' },
    ] as const;
    stack.upstream.queue(sseResponder(messageEvents('claude-sonnet-4-6', content, CACHE_USAGE)));
    const result = ok(
      await py.call('stream_events', {
        ...seed,
        max_tokens: 16000,
        thinking: { type: 'enabled', budget_tokens: 10000 },
      }),
    ) as { events: Array<{ type: string; delta?: string; signature?: string }>; final: unknown };
    const thinking = result.events.filter((event) => event.type === 'thinking').map((event) => event.delta);
    expect(thinking.join('')).toBe('Let me think about Neon.');
    expect(result.events.filter((event) => event.type === 'signature')).toEqual([
      { type: 'signature', signature: THINKING_SIGNATURE },
    ]);
    expect(result.final).toMatchObject({ content, usage: CACHE_USAGE });
  });
});
