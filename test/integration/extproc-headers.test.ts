// The request_headers phase over a real gRPC connection: who is calling, on
// which route, and the one header mutation that goes upstream.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  GATEWAY_BASE_PATH,
  MESSAGES_PATH,
  requestBody,
  requestHeaders,
  setHeaderEntries,
} from '../support/extproc-client.ts';
import {
  expectBodyContinues,
  expectForwardedHeaders,
  expectGatewayError,
} from '../support/extproc-expect.ts';
import { type GatewayFixture, gatewayFixture, useTestProcessor } from '../support/extproc-server.ts';

const fixture: GatewayFixture = gatewayFixture();
const shared = useTestProcessor(fixture);

/** What the TypeScript SDK sends, besides its credential, plus headers that must not go upstream. */
const SDK_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['accept', 'application/json'],
  ['anthropic-version', '2023-06-01'],
  ['anthropic-beta', 'prompt-caching-2024-07-31'],
  ['anthropic-beta', 'interleaved-thinking-2025-05-14'],
  ['content-type', 'application/json'],
  ['user-agent', 'Anthropic/JS 1.10.0'],
  ['content-length', '96'],
  ['cookie', 'session=abc'],
  ['cookie', 'theme=dark'],
  ['x-stainless-arch', 'x64'],
  ['x-stainless-lang', 'js'],
  ['x-envoy-foo', 'bar'],
  ['x-forwarded-for', '10.0.0.1'],
];

/** Envoy's own x-forwarded-proto and x-request-id are added by requestHeaders(). */
const REMOVED = [
  'cookie',
  'x-stainless-arch',
  'x-stainless-lang',
  'x-envoy-foo',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-request-id',
];

const GOOD_BODY = JSON.stringify({
  model: 'claude-sonnet-4-6',
  max_tokens: 64,
  messages: [{ role: 'user', content: 'Hello' }],
});

describe('authentication', () => {
  it.each([
    ['no credential', []],
    ['an unknown x-api-key', [['x-api-key', 'agw_not-a-real-token']]],
    ['an unknown bearer token', [['authorization', 'Bearer agw_not-a-real-token']]],
    ['Basic authorization', [['authorization', 'Basic dXNlcjpwYXNz']]],
    ['the upstream key itself', [['x-api-key', 'UPSTREAM']]],
  ] as const)('refuses %s with 401 before any body is buffered', async (_name, credential) => {
    const requestId = randomUUID();
    const headers = credential.map(
      ([name, value]) => [name, value === 'UPSTREAM' ? fixture.upstreamKey : value] as const,
    );
    const stream = shared.client.openStream();
    const response = await stream.exchange(
      requestHeaders({ requestId, headers: [...SDK_HEADERS, ...headers] }),
    );
    expectGatewayError(response, {
      status: 401,
      type: 'authentication_error',
      message: 'invalid or missing credential',
      requestId,
      reason: 'invalid_credential',
    });
    expect((await stream.close()).code).toBe(0);
  });

  it('refuses two different credentials at once', async () => {
    const requestId = randomUUID();
    const stream = shared.client.openStream();
    const response = await stream.exchange(
      requestHeaders({
        requestId,
        headers: [
          ['x-api-key', fixture.token],
          ['authorization', `Bearer ${fixture.scopedToken}`],
        ],
      }),
    );
    expectGatewayError(response, {
      status: 401,
      type: 'authentication_error',
      message: 'invalid or missing credential',
      requestId,
    });
    await stream.close();
  });
});

describe('a good request', () => {
  it.each([
    ['x-api-key', (token: string) => ['x-api-key', token] as const, REMOVED],
    [
      'authorization: Bearer',
      (token: string) => ['authorization', `Bearer ${token}`] as const,
      [...REMOVED, 'authorization'],
    ],
  ] as const)(
    'with %s gets the workspace key and an allowlisted header set, then its body passes',
    async (_name, credential, removed) => {
      const stream = shared.client.openStream();
      const headersResponse = await stream.exchange(
        requestHeaders({ headers: [...SDK_HEADERS, credential(fixture.token)] }),
      );
      expectForwardedHeaders(headersResponse, fixture.upstreamKey, removed);

      const bodyResponse = await stream.exchange(requestBody(GOOD_BODY));
      expectBodyContinues(bodyResponse);
      expect((await stream.close()).code).toBe(0);
    },
  );

  it("injects the key of the token's own workspace", async () => {
    const stream = shared.client.openStream();
    const response = await stream.exchange(
      requestHeaders({ headers: [['authorization', `bearer ${fixture.scopedToken}`]] }),
    );
    expectForwardedHeaders(response, fixture.scopedUpstreamKey, [
      'authorization',
      'x-forwarded-proto',
      'x-request-id',
    ]);
    const body = JSON.stringify({ model: fixture.scopedModel, max_tokens: 8, messages: [] });
    expectBodyContinues(await stream.exchange(requestBody(body)));
    await stream.close();
  });

  it('keeps the query string route (Claude Code posts to /v1/messages?beta=true) and count_tokens', async () => {
    for (const path of [`${MESSAGES_PATH}?beta=true`, `${MESSAGES_PATH}/count_tokens`]) {
      const stream = shared.client.openStream();
      const response = await stream.exchange(
        requestHeaders({ path, headers: [['x-api-key', fixture.token]] }),
      );
      expectForwardedHeaders(response, fixture.upstreamKey, ['x-forwarded-proto', 'x-request-id']);
      await stream.close();
    }
  });
});

describe('routes and framing', () => {
  it('refuses a POST /v1/messages whose headers end the stream: there is no body to check', async () => {
    const requestId = randomUUID();
    const stream = shared.client.openStream();
    const response = await stream.exchange(
      requestHeaders({ requestId, endOfStream: true, headers: [['x-api-key', fixture.token]] }),
    );
    expectGatewayError(response, {
      status: 400,
      type: 'invalid_request_error',
      message: /request body is empty/,
      requestId,
      reason: 'empty_body',
    });
    await stream.close();
  });

  it('answers an Anthropic endpoint it does not serve with 404 not_found_error, even with a good token', async () => {
    const requestId = randomUUID();
    const stream = shared.client.openStream();
    const response = await stream.exchange(
      requestHeaders({
        requestId,
        path: `${GATEWAY_BASE_PATH}/v1/complete`,
        headers: [['x-api-key', fixture.token]],
      }),
    );
    expectGatewayError(response, {
      status: 404,
      type: 'not_found_error',
      message:
        '/v1/complete is not available through this gateway; it serves POST /v1/messages, POST /v1/messages/count_tokens and GET /v1/models',
      requestId,
      reason: 'endpoint_not_served',
    });
    await stream.close();
  });

  it('answers GET /v1/messages with 405 and allow: POST', async () => {
    const requestId = randomUUID();
    const stream = shared.client.openStream();
    const response = await stream.exchange(
      requestHeaders({
        requestId,
        method: 'GET',
        endOfStream: true,
        headers: [['x-api-key', fixture.token]],
      }),
    );
    expectGatewayError(response, {
      status: 405,
      type: 'invalid_request_error',
      message: /method GET is not allowed/,
      requestId,
      reason: 'method_not_allowed',
    });
    expect(setHeaderEntries(response.immediate_response?.headers?.set_headers)).toContainEqual([
      'allow',
      'POST',
      'OVERWRITE_IF_EXISTS_OR_ADD',
    ]);
    await stream.close();
  });

  it('refuses a compressed body it could not inspect with 415', async () => {
    const requestId = randomUUID();
    const stream = shared.client.openStream();
    const response = await stream.exchange(
      requestHeaders({
        requestId,
        headers: [
          ['x-api-key', fixture.token],
          ['content-encoding', 'gzip'],
        ],
      }),
    );
    expectGatewayError(response, {
      status: 415,
      type: 'invalid_request_error',
      message: /content-encoding "gzip"/,
      requestId,
    });
    await stream.close();
  });
});
