// Path tricks, written byte for byte (fetch would normalise them away), through
// the real Envoy and processor: dot segments, percent-encoded dots and
// slashes, doubled slashes, backslashes, paths just outside the prefix,
// absolute-form targets. Envoy normalises the path before any filter runs
// (normalize_path, merge_slashes) and refuses encoded slashes, so the
// processor and the route table judge the same path. Whatever the trick, the
// upstream sees only /v1/messages or /v1/messages/count_tokens.
import { beforeAll, describe, expect, it } from 'vitest';
import { expectRawAnthropicError } from '../support/anthropic-error.ts';
import { sha256 } from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, seedRequest, useStack } from '../support/gateway-stack.ts';
import { buildRequest, type RawResponse, rawRequest } from '../support/raw-http.ts';

const stack = useStack();
let port: number;
beforeAll(() => {
  port = Number(new URL(stack.origin).port);
});

const body = JSON.stringify(seedRequest());

function post(target: string): Promise<RawResponse | undefined> {
  return rawRequest(
    port,
    buildRequest({
      target,
      headers: [
        ['x-api-key', GATEWAY_TOKEN],
        ['content-type', 'application/json'],
      ],
      body,
    }),
  );
}

const BASE = '/ai-gateway/anthropic';

/** The processor names the path it judged: Anthropic's other /v1 endpoints by their own path. */
function notServedMessage(normalised: string): RegExp {
  const quote = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (normalised.startsWith(`${BASE}/v1/`)) {
    return new RegExp(`^${quote(normalised.slice(BASE.length))} is not available through this gateway`);
  }
  // An API path (a v1 segment) outside the prefix: the client's base URL lacks it, and is told which to use.
  const underBase = normalised === BASE || normalised.startsWith(`${BASE}/`);
  const hint = !underBase && /(^|\/)v1(\/|$)/.test(normalised) ? "; set your client's base URL to .*" : '';
  return new RegExp(`^${quote(normalised)} is not an endpoint of this gateway${hint}$`);
}

const ALLOWED_UPSTREAM_PATHS = new Set(['/v1/messages', '/v1/messages/count_tokens']);

/** Whatever happened, only allowlisted paths (with any query) reached the upstream. */
function expectOnlyAllowedUpstreamPaths(): void {
  for (const { url } of stack.upstream.arrived) {
    expect(ALLOWED_UPSTREAM_PATHS.has(url.split('?')[0] ?? ''), url).toBe(true);
  }
}

describe('paths that normalise to a gateway route are served there, and only there', () => {
  const cases: ReadonlyArray<readonly [target: string, upstreamPath: string]> = [
    ['/ai-gateway/anthropic/v1/messages/../messages', '/v1/messages'],
    ['/ai-gateway/anthropic/./v1/./messages', '/v1/messages'],
    ['/ai-gateway/anthropic/%2e%2e/anthropic/v1/messages', '/v1/messages'],
    ['/ai-gateway/anthropic/v1/%2E%2E/v1/messages', '/v1/messages'],
    ['//ai-gateway//anthropic//v1//messages', '/v1/messages'],
    ['/ai-gateway/anthropic/v1/m%65ssages', '/v1/messages'],
    ['/ai-gateway\\anthropic\\v1\\messages', '/v1/messages'],
    ['/ai-gateway/anthropic/v1/messages/./count_tokens', '/v1/messages/count_tokens'],
    ['/ai-gateway/anthropic/v1/messages?x=../../admin&y=%2F..%2F', '/v1/messages?x=../../admin&y=%2F..%2F'],
    // Absolute form: the authority in the target changes nothing (see hostile-headers for host).
    ['http://evil.example/ai-gateway/anthropic/v1/messages', '/v1/messages'],
  ];
  for (const [target, upstreamPath] of cases) {
    it(`${target} → ${upstreamPath}`, async () => {
      const response = await post(target);
      expect(response?.status).toBe(200);
      expect(stack.upstream.received.map((request) => request.url)).toEqual([upstreamPath]);
      expect(stack.upstream.received[0]?.sha256).toBe(sha256(body));
      expectOnlyAllowedUpstreamPaths();
    });
  }
});

describe('paths that leave the gateway routes get 404 not_found_error from the processor, naming the path it judged', () => {
  const cases: ReadonlyArray<readonly [target: string, normalised: string]> = [
    ['/ai-gateway/anthropic/../v1/messages', '/ai-gateway/v1/messages'],
    ['/ai-gateway/anthropic/v1/messages/../../../../v1/messages', '/v1/messages'],
    ['/ai-gateway/anthropic/%2e%2e/%2e%2e/v1/messages', '/v1/messages'],
    ['/ai-gateway/anthropic/v1/messages/%2e%2e/complete', '/ai-gateway/anthropic/v1/complete'],
    ['/v1/messages', '/v1/messages'],
    ['/ai-gateway/anthropicX/v1/messages', '/ai-gateway/anthropicX/v1/messages'],
    ['/ai-gateway/anthropic/v1/messagesX', '/ai-gateway/anthropic/v1/messagesX'],
    ['/ai-gateway/anthropic/v1/messages/', '/ai-gateway/anthropic/v1/messages/'],
    ['/ai-gateway/anthropic/v1/messages;jsessionid=1', '/ai-gateway/anthropic/v1/messages;jsessionid=1'],
    ['/ai-gateway/anthropic/v1/messages/batches', '/ai-gateway/anthropic/v1/messages/batches'],
    ['/ai-gateway/anthropic/v1/complete', '/ai-gateway/anthropic/v1/complete'],
    ['/ai-gateway/anthropic', '/ai-gateway/anthropic'],
    ['/AI-GATEWAY/ANTHROPIC/V1/MESSAGES', '/AI-GATEWAY/ANTHROPIC/V1/MESSAGES'],
    ['/ai-gateway/anthropic/v1/messages%3Fbeta=true', '/ai-gateway/anthropic/v1/messages%3Fbeta=true'],
  ];
  for (const [target, normalised] of cases) {
    it(`${target}`, async () => {
      expectRawAnthropicError(await post(target), {
        status: 404,
        type: 'not_found_error',
        message: notServedMessage(normalised),
      });
      expect(stack.upstream.arrived).toEqual([]);
    });
  }
});

describe('paths Envoy refuses outright get 400 invalid_request_error with a request-id', () => {
  for (const target of [
    '/ai-gateway/anthropic/v1%2Fmessages',
    '/ai-gateway/anthropic/v1%2fmessages',
    '/ai-gateway%2Fanthropic/v1/messages',
    '/ai-gateway/anthropic/v1%5Cmessages',
    '/ai-gateway/anthropic/v1/messages%00',
    '/ai-gateway/anthropic/v1/messages#fragment',
    '/ai-gateway/anthropic/v1/mess ages',
    'ai-gateway/anthropic/v1/messages',
    '*',
  ]) {
    it(JSON.stringify(target), async () => {
      expectRawAnthropicError(await post(target), {
        status: 400,
        type: 'invalid_request_error',
        message: 'malformed HTTP request',
      });
      expect(stack.upstream.arrived).toEqual([]);
    });
  }
});
