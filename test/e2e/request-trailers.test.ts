// Request trailers through the real Envoy and processor, to the production
// path: a TLS upstream that offers h2 by ALPN, as Anthropic's API does. Envoy
// forwards request trailers to an HTTP/2 upstream verbatim (an HTTP/1.1
// upstream hides this: Envoy drops them there), and they never pass through
// the processor's header mutation, so the gateway strips them before the
// router. A request that ends in trailers without any body is refused as an
// empty body, over HTTP/2 as over HTTP/1.1. The upstream's CA is a throw-away
// one (test/support/test-ca.ts), trusted through `upstream.ca_file`; a wrong
// one fails closed. See docs/security.md.
import { connect as connectHttp2, type IncomingHttpHeaders } from 'node:http2';
import Anthropic from '@anthropic-ai/sdk';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_BODY } from '../../processor/policy/request-policy.ts';
import { expectAnthropicError, expectRawAnthropicError } from '../support/anthropic-error.ts';
import { type ReceivedRequest, sha256, sseResponder, textStreamEvents } from '../support/fake-upstream.ts';
import { runs } from '../support/fuzz.ts';
import {
  GATEWAY_TOKEN,
  type GatewayStack,
  startStack,
  UPSTREAM_KEY,
  useStack,
} from '../support/gateway-stack.ts';
import { type Field, h2WithRawTrailers } from '../support/h2-trailers.ts';
import { buildRequest, chunked, rawRequest } from '../support/raw-http.ts';
import { createTestCa } from '../support/test-ca.ts';

const ca = createTestCa();
afterAll(() => ca.remove());
const stack = useStack({ upstreamTls: ca });

const MESSAGES = '/ai-gateway/anthropic/v1/messages';
const seed = {
  model: 'claude-sonnet-4-6',
  max_tokens: 1024,
  messages: [{ role: 'user' as const, content: 'What is Neon?' }],
};
const body = JSON.stringify(seed);

/** What a client sends besides its credential: allowlisted headers, and some that must not go upstream. */
const CLIENT_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json',
  'anthropic-version': '2023-06-01',
  'anthropic-beta': 'prompt-caching-2024-07-31',
  accept: 'application/json',
  'user-agent': 'trailers-e2e/1.0',
  cookie: 'session=secret-cookie',
  'x-forwarded-for': '203.0.113.9',
};

/** Exactly what the upstream may see of CLIENT_HEADERS plus a body of `length` bytes. */
function allowlisted(length: number): Array<readonly [string, string]> {
  return [
    ['accept', 'application/json'],
    ['anthropic-beta', 'prompt-caching-2024-07-31'],
    ['anthropic-version', '2023-06-01'],
    ['content-length', String(length)],
    ['content-type', 'application/json'],
    ['user-agent', 'trailers-e2e/1.0'],
    ['x-api-key', UPSTREAM_KEY],
  ];
}

const sorted = (fields: ReadonlyArray<readonly [string, string]>) =>
  [...fields].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** The one request upstream, over HTTP/2, with no trailers at all, only `headers` and the body unchanged. */
function expectForwardedOverHttp2(headers: ReadonlyArray<readonly [string, string]>): ReceivedRequest {
  expect(stack.upstream.received).toHaveLength(1);
  const received = stack.upstream.received[0] as ReceivedRequest;
  expect(received.httpVersion).toBe('2.0');
  expect(received.trailers).toBeUndefined();
  expect(sorted(received.headers)).toEqual(sorted(headers));
  expect(sorted(received.pseudoHeaders)).toEqual(
    sorted([
      [':method', 'POST'],
      [':path', '/v1/messages'],
      [':authority', new URL(stack.upstream.url).host],
      // The upstream connection's scheme, not the client's plain-text one.
      [':scheme', 'https'],
    ]),
  );
  expect(received.sha256).toBe(sha256(body));
  expect(JSON.stringify(received)).not.toContain(GATEWAY_TOKEN);
  return received;
}

interface H2Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A POST over HTTP/2 with node:http2, the trailers sent with its own sendTrailers. */
function h2WithTrailers(
  headers: Readonly<Record<string, string>>,
  payload: string,
  trailers: Readonly<Record<string, string>>,
): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(stack.origin);
    session.on('error', reject);
    const stream = session.request(
      { ':method': 'POST', ':path': MESSAGES, ...headers },
      { waitForTrailers: true },
    );
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    let reply: Pick<H2Reply, 'status' | 'headers'> = { status: 0, headers: {} };
    const chunks: Buffer[] = [];
    stream.on('response', (received) => {
      reply = { status: Number(received[':status']), headers: received };
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      session.close();
      resolve({ ...reply, body: Buffer.concat(chunks).toString() });
    });
    stream.on('error', reject);
    stream.end(payload);
  });
}

/** Trailers a client might try to smuggle a credential, a cookie or a model past the gateway with. */
const SMUGGLED: Readonly<Record<string, string>> = {
  'x-api-key': 'sk-ant-smuggled-key',
  authorization: `Bearer ${GATEWAY_TOKEN}`,
  'anthropic-beta': 'smuggled-beta',
  cookie: 'session=smuggled',
  model: 'claude-opus-4-8',
  'x-envoy-original-path': '/admin',
  'content-type': 'text/plain',
};

describe('the production path: TLS, h2 by ALPN, to the upstream', () => {
  it('the SDK works over it; the upstream spoke HTTP/2 and saw only allowlisted headers', async () => {
    const client = new Anthropic({ apiKey: GATEWAY_TOKEN, baseURL: stack.baseUrl, maxRetries: 0 });
    const message = await client.messages.create(seed);
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake upstream.' });
    expect(stack.upstream.received).toHaveLength(1);
    const received = stack.upstream.received[0] as ReceivedRequest;
    expect(received.httpVersion).toBe('2.0');
    expect(received.trailers).toBeUndefined();
    expect(received.pseudoHeaders).toContainEqual([':scheme', 'https']);
    const names = received.headers.map(([name]) => name);
    for (const name of names) {
      expect([
        'accept',
        'anthropic-version',
        'content-length',
        'content-type',
        'user-agent',
        'x-api-key',
      ]).toContain(name);
    }
    expect(received.headers.filter(([name]) => name === 'x-api-key')).toEqual([['x-api-key', UPSTREAM_KEY]]);
    expect(JSON.parse(received.body.toString())).toEqual(seed);
  });

  it('a streamed answer comes back whole over it', async () => {
    stack.upstream.queue(sseResponder(textStreamEvents('claude-sonnet-4-6', ['Neon ', 'is a gas.'])));
    const client = new Anthropic({ apiKey: GATEWAY_TOKEN, baseURL: stack.baseUrl, maxRetries: 0 });
    const stream = client.messages.stream(seed);
    const pieces: string[] = [];
    stream.on('text', (text) => pieces.push(text));
    await stream.finalMessage();
    expect(pieces).toEqual(['Neon ', 'is a gas.']);
    expect(stack.upstream.received[0]?.httpVersion).toBe('2.0');
  });
});

describe('request trailers never reach the upstream', () => {
  it('HTTP/2: credential, cookie, beta and model trailers are removed, the request is forwarded', async () => {
    const response = await h2WithTrailers(
      { ...CLIENT_HEADERS, 'x-api-key': GATEWAY_TOKEN, 'content-length': String(body.length) },
      body,
      SMUGGLED,
    );
    expect(response.status).toBe(200);
    const received = expectForwardedOverHttp2(allowlisted(body.length));
    expect(JSON.stringify(received)).not.toMatch(/smuggled|secret-cookie|admin/);
  });

  it('HTTP/2: pseudo-header, upper-case and connection-specific trailers: the connection is refused, nothing upstream', async () => {
    const blocks: readonly Field[][] = [
      [
        [':path', '/v1/admin'],
        ['x-api-key', 'sk-ant-smuggled-key'],
      ],
      [[':authority', 'evil.example']],
      [[':method', 'GET']],
      [[':status', '200']],
      [['X-Api-Key', 'sk-ant-smuggled-key']],
      [['connection', 'close']],
      [['transfer-encoding', 'chunked']],
      [['upgrade', 'h2c']],
    ];
    // Envoy closes such a connection (after its delayed-close second): all at once.
    const responses = await Promise.all(
      blocks.map((trailers) =>
        h2WithRawTrailers({
          origin: stack.origin,
          headers: { ':method': 'POST', ':path': MESSAGES, ...CLIENT_HEADERS, 'x-api-key': GATEWAY_TOKEN },
          body,
          trailers,
        }),
      ),
    );
    expect(responses.map((response) => response.status)).toEqual(blocks.map(() => 0));
    expect(stack.upstream.arrived).toEqual([]);
  });

  it('HTTP/1.1: chunked trailers are dropped, the request is forwarded', async () => {
    const port = Number(new URL(stack.origin).port);
    const response = await rawRequest(
      port,
      buildRequest({
        target: MESSAGES,
        headers: [
          ['x-api-key', GATEWAY_TOKEN],
          ['content-type', 'application/json'],
          ['anthropic-version', '2023-06-01'],
          ['transfer-encoding', 'chunked'],
          ['te', 'trailers'],
          ['trailer', 'x-api-key, authorization, cookie'],
        ],
        body: chunked(body, 3, Object.entries(SMUGGLED)),
        contentLength: false,
      }),
    );
    expect(response?.status).toBe(200);
    const received = expectForwardedOverHttp2([
      ['anthropic-version', '2023-06-01'],
      ['content-type', 'application/json'],
      ['x-api-key', UPSTREAM_KEY],
    ]);
    expect(JSON.stringify(received)).not.toMatch(/smuggled|admin/);
  });

  describe('property-tested trailer blocks', () => {
    /** HTTP/2 forbids these (RFC 9113 §8.2.2; `te` unless "trailers"): Envoy may reset the stream. */
    const CONNECTION_SPECIFIC = [
      'connection',
      'keep-alive',
      'proxy-connection',
      'transfer-encoding',
      'upgrade',
      'te',
    ];
    /** Names Envoy takes in a trailer whatever their value. */
    const plainName = fc.oneof(
      fc.constantFrom(
        ...Object.keys(SMUGGLED),
        'anthropic-version',
        'accept',
        'user-agent',
        'x-forwarded-for',
        'x-request-id',
        'x_api_key',
        'grpc-status',
      ),
      // A generated name can spell a connection-specific one (`te` came up in
      // CI): those belong to strictName, whose refusal is asserted apart.
      fc.stringMatching(/^[a-z][a-z0-9_-]{0,24}$/).filter((name) => !CONNECTION_SPECIFIC.includes(name)),
    );
    /** Names Envoy may refuse in a trailer (always, or for some values). */
    const strictName = fc.constantFrom(
      ':path',
      ':authority',
      'X-Api-Key',
      'Authorization',
      ...CONNECTION_SPECIFIC,
      'host',
      'content-length',
    );
    const value = fc.oneof(
      fc.constantFrom(GATEWAY_TOKEN, `Bearer ${GATEWAY_TOKEN}`, UPSTREAM_KEY, '', 'trailers', '102'),
      fc.stringMatching(/^[!-~]( ?[!-~]){0,30}$/),
    );
    const send = (trailers: readonly Field[]) => {
      stack.upstream.reset();
      return h2WithRawTrailers({
        origin: stack.origin,
        headers: {
          ':method': 'POST',
          ':path': MESSAGES,
          ...CLIENT_HEADERS,
          'x-api-key': GATEWAY_TOKEN,
          'content-length': String(body.length),
        },
        body,
        trailers,
      });
    };

    it('plain fields: the request is forwarded, without any of them', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(plainName, value), { minLength: 1, maxLength: 8 }),
          async (trailers) => {
            expect((await send(trailers)).status).toBe(200);
            expectForwardedOverHttp2(allowlisted(body.length));
          },
        ),
        { numRuns: runs(20) },
      );
    });

    it('any fields: forwarded without them, or refused with nothing upstream', async () => {
      const field = fc.tuple(fc.oneof(plainName, strictName), value);
      await fc.assert(
        fc.asyncProperty(fc.array(field, { minLength: 1, maxLength: 6 }), async (trailers) => {
          const response = await send(trailers);
          if (response.status === 200) expectForwardedOverHttp2(allowlisted(body.length));
          else {
            expect(response.status).toBe(0);
            expect(stack.upstream.arrived).toEqual([]);
          }
        }),
        // A refused block costs Envoy's delayed close (a second): fewer runs.
        { numRuns: runs(8) },
      );
    });
  });

  it('the processor hears of trailers only when a request has them', async () => {
    const sent = () => stack.envoy.admin.stat('http.gateway.ext_proc.stream_msgs_sent');
    const before = await sent();
    const plain = await fetch(`${stack.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': GATEWAY_TOKEN, 'content-type': 'application/json' },
      body,
    });
    expect(plain.status).toBe(200);
    await plain.arrayBuffer();
    // Headers and body: the common request pays nothing for trailers.
    expect(await sent()).toBe(before + 2);
    const withTrailers = await h2WithTrailers({ 'x-api-key': GATEWAY_TOKEN }, body, { 'x-trailer': 'v' });
    expect(withTrailers.status).toBe(200);
    expect(await sent()).toBe(before + 2 + 3);
  });
});

describe('headers, then trailers, and no body: 400 invalid_request_error, nothing upstream', () => {
  const expected = { status: 400, type: 'invalid_request_error', message: EMPTY_BODY.message } as const;

  it('HTTP/2, no DATA frame at all', async () => {
    const response = await h2WithRawTrailers({
      origin: stack.origin,
      headers: { ':method': 'POST', ':path': MESSAGES, ...CLIENT_HEADERS, 'x-api-key': GATEWAY_TOKEN },
      trailers: [['x-api-key', 'sk-ant-smuggled-key']],
    });
    expect(response.status).toBe(400);
    expect(response.headers['request-id']).toBeTruthy();
    expect(response.headers['x-should-retry']).toBe('false');
    expect(JSON.parse(response.body)).toEqual({
      type: 'error',
      error: { type: expected.type, message: expected.message },
    });
    expect(stack.upstream.arrived).toEqual([]);
  });

  it('HTTP/2, as node:http2 sends it (end() with trailers and no data)', async () => {
    const response = await h2WithTrailers({ 'x-api-key': GATEWAY_TOKEN }, '', { 'x-trailer': 'v' });
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toEqual({
      type: 'error',
      error: { type: expected.type, message: expected.message },
    });
    expect(stack.upstream.arrived).toEqual([]);
  });

  it('HTTP/1.1, a chunked body of no chunks with trailers', async () => {
    const port = Number(new URL(stack.origin).port);
    const response = await rawRequest(
      port,
      buildRequest({
        target: MESSAGES,
        headers: [
          ['x-api-key', GATEWAY_TOKEN],
          ['content-type', 'application/json'],
          ['transfer-encoding', 'chunked'],
        ],
        body: chunked('', 1, [['x-api-key', 'sk-ant-smuggled-key']]),
        contentLength: false,
      }),
    );
    expectRawAnthropicError(response, expected);
    expect(stack.upstream.arrived).toEqual([]);
  });
});

describe('a CA that did not sign the upstream certificate: fails closed with 503', () => {
  const cases: ReadonlyArray<readonly [string, Record<string, string>]> = [
    ['another CA', { ANTHROPIC_UPSTREAM_CA_FILE: ca.otherCaFile }],
    // What a TLS-inspecting egress proxy looks like without upstream.ca_file.
    ['the default, the system bundle', { ANTHROPIC_UPSTREAM_CA_FILE: '' }],
  ];
  for (const [name, env] of cases) {
    describe(name, () => {
      let wrong: GatewayStack;
      beforeAll(async () => {
        wrong = await startStack({ upstreamTls: ca, env });
      });
      afterAll(async () => {
        await wrong?.stop();
      });

      it('answers 503 api_error; nothing is served upstream', async () => {
        const response = await fetch(`${wrong.baseUrl}/v1/messages`, {
          method: 'POST',
          headers: { 'x-api-key': GATEWAY_TOKEN, 'content-type': 'application/json' },
          body,
        });
        await expectAnthropicError(response, {
          status: 503,
          type: 'api_error',
          message: 'the upstream is unreachable; try again',
        });
        expect(wrong.upstream.arrived).toEqual([]);
        expect(
          await wrong.envoy.admin.stat('cluster.anthropic_upstream.ssl.fail_verify_error'),
        ).toBeGreaterThan(0);
      });
    });
  }
});
