// What the gateway answers itself, through the real Envoy: the models listing
// (with the TypeScript SDK and plain HTTP), the HEAD probe, and the Anthropic
// endpoints it does not serve. None of these reaches the upstream.
import Anthropic from '@anthropic-ai/sdk';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG } from '../../processor/config/default-catalog.ts';
import { indexCatalog } from '../../processor/policy/catalog.ts';
import { anthropicModels } from '../../processor/policy/models.ts';
import { GATEWAY_TOKEN, useStack } from '../support/gateway-stack.ts';

const HAIKU_ONLY_TOKEN = 'agw_e2e_answers_haiku_only_abcdefghijklmnopqrst';
/** The built-in catalog's Anthropic models by release date (test/unit/models.test.ts lists them). */
const NEWEST_FIRST = anthropicModels(indexCatalog(DEFAULT_CATALOG)).map((model) => model.id);

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
afterEach(() => {
  // Nothing in this file may reach the upstream.
  expect(stack.upstream.received).toEqual([]);
});

describe('GET /v1/models', () => {
  it("answers 200 JSON in Anthropic's list shape, with a request-id", async () => {
    const response = await fetch(`${stack.baseUrl}/v1/models`, { headers: { 'x-api-key': GATEWAY_TOKEN } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const body = (await response.json()) as { data: Array<Record<string, unknown>> };
    expect(Object.keys(body).sort()).toEqual(['data', 'first_id', 'has_more', 'last_id']);
    expect(body).toMatchObject({
      has_more: false,
      first_id: 'claude-fable-5-2',
      last_id: 'claude-haiku-4-5-20251001',
    });
    expect(body.data.map((model) => model.id)).toEqual(NEWEST_FIRST);
    for (const model of body.data) {
      expect(model).toMatchObject({ type: 'model', lifecycle: 'active' });
      expect(typeof model.display_name).toBe('string');
      expect(new Date(model.created_at as string).toISOString()).toBe(
        (model.created_at as string).replace('Z', '.000Z'),
      );
    }
  });

  it('requires a valid gateway token', async () => {
    for (const headers of [{}, { 'x-api-key': 'agw_wrong' }, { authorization: 'Basic YTpi' }]) {
      const response = await fetch(`${stack.baseUrl}/v1/models`, { headers });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({
        type: 'error',
        error: { type: 'authentication_error', message: 'invalid or missing credential' },
      });
    }
  });

  it('the TypeScript SDK pages through it with limit, after_id and before_id', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list({ limit: 4 })) ids.push(model.id);
    expect(ids).toEqual(NEWEST_FIRST);

    const first = await client.models.list({ limit: 4 });
    expect(first.data.map((model) => model.id)).toEqual(NEWEST_FIRST.slice(0, 4));
    expect(first.has_more).toBe(true);
    expect(first.hasNextPage()).toBe(true);
    const second = await first.getNextPage();
    expect(second.data.map((model) => model.id)).toEqual(NEWEST_FIRST.slice(4, 8));
    expect(second.hasNextPage()).toBe(NEWEST_FIRST.length > 8);

    const before = await client.models.list({ before_id: 'claude-opus-4-6', limit: 2 });
    expect(before.data.map((model) => model.id)).toEqual(['claude-opus-4-7', 'claude-sonnet-4-6']);
    expect(before.has_more).toBe(true);
  });

  it('shows a scoped token only its models (Bearer too)', async () => {
    const scoped = new Anthropic({ authToken: HAIKU_ONLY_TOKEN, apiKey: null, baseURL: stack.baseUrl });
    const ids: string[] = [];
    for await (const model of scoped.models.list()) ids.push(model.id);
    expect(ids).toEqual(['claude-haiku-4-5']);
    await expect(scoped.models.retrieve('claude-opus-4-8')).rejects.toBeInstanceOf(Anthropic.NotFoundError);
  });

  it('retrieve returns one model; an unknown id is 404 not_found_error', async () => {
    expect(await client.models.retrieve('claude-haiku-4-5')).toMatchObject({
      type: 'model',
      id: 'claude-haiku-4-5',
      display_name: 'Claude Haiku 4.5',
      created_at: '2025-10-15T00:00:00Z',
    });
    const error = await client.models.retrieve('claude-nonexistent').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect((error as InstanceType<typeof Anthropic.NotFoundError>).message).toContain(
      'model \\"claude-nonexistent\\" not found',
    );
  });

  it('answers 400 for a bad paging parameter', async () => {
    const response = await fetch(`${stack.baseUrl}/v1/models?limit=5000`, {
      headers: { 'x-api-key': GATEWAY_TOKEN },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'limit: must be an integer from 1 to 1000' },
    });
  });
});

describe('HEAD probes', () => {
  it('answer 200 with no body on the base URL and the endpoints it serves, without a token', async () => {
    for (const path of ['', '/', '/api/hello', '/v1/messages', '/v1/messages/count_tokens', '/v1/models']) {
      const response = await fetch(`${stack.baseUrl}${path}`, { method: 'HEAD' });
      expect(response.status, path).toBe(200);
      expect(response.headers.get('request-id'), path).toBeTruthy();
      expect(await response.text(), path).toBe('');
    }
  });

  it('HEAD elsewhere is still 404', async () => {
    const response = await fetch(`${stack.origin}/elsewhere`, { method: 'HEAD' });
    expect(response.status).toBe(404);
  });
});

describe('Anthropic endpoints the gateway does not serve', () => {
  it('answer 404 not_found_error saying they are not available through this gateway', async () => {
    for (const [method, path] of [
      ['POST', '/v1/messages/batches'],
      ['GET', '/v1/messages/batches/msgbatch_013Zva2CMHLNnXjNJJKqJ2EF/results'],
      ['POST', '/v1/complete'],
      ['GET', '/v1/files'],
      ['POST', '/v1/skills'],
    ] as const) {
      const response = await fetch(`${stack.baseUrl}${path}`, {
        method,
        headers: { 'x-api-key': GATEWAY_TOKEN, 'content-type': 'application/json' },
        ...(method === 'POST' ? { body: '{"model":"claude-sonnet-4-6"}' } : {}),
      });
      expect(response.status, path).toBe(404);
      expect(response.headers.get('request-id'), path).toBeTruthy();
      expect(await response.json()).toEqual({
        type: 'error',
        error: {
          type: 'not_found_error',
          message: `${path.split('?')[0]} is not available through this gateway; it serves POST /v1/messages, POST /v1/messages/count_tokens and GET /v1/models`,
        },
      });
    }
  });

  it('the SDK raises NotFoundError with that message for Message Batches', async () => {
    const error: unknown = await client.messages.batches
      .create({ requests: [] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    if (!(error instanceof Anthropic.NotFoundError)) return;
    expect(error.message).toContain('/v1/messages/batches is not available through this gateway');
  });
});

describe('a client whose base URL is wrong', () => {
  const message = (body: unknown) => (body as { error: { message: string } }).error.message;

  it('without the /ai-gateway/anthropic prefix: 404 naming the base URL to use', async () => {
    for (const path of [
      '/v1/messages',
      '/v1/messages?beta=true',
      '/v1/models',
      '/v1/messages/count_tokens',
    ]) {
      const response = await fetch(`${stack.origin}${path}`, {
        method: path.startsWith('/v1/models') ? 'GET' : 'POST',
        headers: { 'x-api-key': GATEWAY_TOKEN, 'content-type': 'application/json' },
        body: path.startsWith('/v1/models') ? null : '{"model":"claude-haiku-4-5"}',
      });
      expect(response.status, path).toBe(404);
      expect(response.headers.get('request-id'), path).toBeTruthy();
      const body = await response.json();
      expect(body, path).toEqual({
        type: 'error',
        error: {
          type: 'not_found_error',
          message: `${path.split('?')[0]} is not an endpoint of this gateway; set your client's base URL to ${stack.baseUrl} (the SDKs append /v1/messages themselves)`,
        },
      });
    }
  });

  it('the TypeScript SDK pointed at the bare host raises NotFoundError with that advice', async () => {
    const wrong = new Anthropic({ apiKey: GATEWAY_TOKEN, baseURL: stack.origin, maxRetries: 0 });
    const error = await wrong.messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect(message((error as InstanceType<typeof Anthropic.NotFoundError>).error)).toContain(
      `set your client's base URL to ${stack.baseUrl}`,
    );
  });

  it('ending in /v1: 404 saying to drop it', async () => {
    const wrong = new Anthropic({ apiKey: GATEWAY_TOKEN, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0 });
    const error = await wrong.models.list().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect(message((error as InstanceType<typeof Anthropic.NotFoundError>).error)).toBe(
      `/v1/v1/models is not an endpoint of this gateway: the base URL must not end in /v1; set your client's base URL to ${stack.baseUrl}`,
    );
  });
});
