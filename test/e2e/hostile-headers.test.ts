// Header tricks through the real Envoy and processor, mostly written byte for
// byte: credentials presented ambiguously, headers that try to steer Envoy or
// the upstream (x-envoy-*, x-forwarded-*, host and :authority, hop-by-hop),
// oversized headers and HTTP/1 framing tricks, and the same over HTTP/2. Each
// decision is listed in docs/security.md. Whatever the trick, a refused request
// reaches nothing upstream, and an accepted one reaches it with exactly the
// allowlisted headers and the workspace's key.
import { connect as connectHttp2 } from 'node:http2';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectRawAnthropicError } from '../support/anthropic-error.ts';
import { errorResponder, json, messageBody, sha256 } from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, seedRequest, UPSTREAM_KEY, useStack } from '../support/gateway-stack.ts';
import { buildRequest, type RawResponse, type RequestParts, rawRequest } from '../support/raw-http.ts';

const stack = useStack();
let port: number;
beforeAll(() => {
  port = Number(new URL(stack.origin).port);
});

const MESSAGES = '/ai-gateway/anthropic/v1/messages';
const body = JSON.stringify(seedRequest());
type Header = readonly [string, string];

/** A POST to /v1/messages with a JSON body and exactly these extra header lines (no credential unless given). */
function post(
  headers: readonly Header[],
  parts: Partial<RequestParts> = {},
): Promise<RawResponse | undefined> {
  return rawRequest(
    port,
    buildRequest({
      target: MESSAGES,
      headers: [['content-type', 'application/json'], ...headers],
      body,
      ...parts,
    }),
  );
}

/** The exact header names the upstream may see (see docs/architecture.md: what goes upstream). */
const UPSTREAM_HEADER_NAMES = [
  'accept',
  'anthropic-beta',
  'anthropic-version',
  'content-length',
  'content-type',
  'host',
  'transfer-encoding',
  'user-agent',
  'x-api-key',
];

/** One request reached the upstream, with only allowlisted headers, the workspace key once, the body unchanged. */
function expectForwardedCleanly(response: RawResponse | undefined, forbidden: readonly string[] = []) {
  expect(response?.status).toBe(200);
  expect(stack.upstream.received).toHaveLength(1);
  const [received] = stack.upstream.received;
  const names = received?.headers.map(([name]) => name) ?? [];
  for (const name of names) expect(UPSTREAM_HEADER_NAMES, name).toContain(name);
  expect(received?.headers.filter(([name]) => name === 'x-api-key')).toEqual([['x-api-key', UPSTREAM_KEY]]);
  expect(received?.headers.filter(([name]) => name === 'host')).toEqual([
    ['host', new URL(stack.upstream.url).host],
  ]);
  expect(received?.url).toBe('/v1/messages');
  expect(received?.sha256).toBe(sha256(body));
  const everything = JSON.stringify(received?.headers);
  expect(everything).not.toContain(GATEWAY_TOKEN);
  for (const value of forbidden) expect(everything).not.toContain(value);
}

function expectUnauthorized(response: RawResponse | undefined) {
  expectRawAnthropicError(response, {
    status: 401,
    type: 'authentication_error',
    message: 'invalid or missing credential',
  });
  expect(stack.upstream.arrived).toEqual([]);
}

describe('credentials: accepted', () => {
  const cases: ReadonlyArray<readonly [string, readonly Header[]]> = [
    ['x-api-key alone', [['x-api-key', GATEWAY_TOKEN]]],
    ['Authorization: Bearer alone', [['authorization', `Bearer ${GATEWAY_TOKEN}`]]],
    [
      'both, carrying the same token',
      [
        ['x-api-key', GATEWAY_TOKEN],
        ['authorization', `Bearer ${GATEWAY_TOKEN}`],
      ],
    ],
    ['a lower-case scheme', [['authorization', `bearer ${GATEWAY_TOKEN}`]]],
    ['an upper-case scheme', [['authorization', `BEARER ${GATEWAY_TOKEN}`]]],
    ['extra spaces around the token', [['authorization', `Bearer    ${GATEWAY_TOKEN}   `]]],
    ['header names in mixed case', [['X-API-KEY', GATEWAY_TOKEN]]],
    ['Authorization in mixed case, scheme too', [['AuThOrIzAtIoN', `bEaReR ${GATEWAY_TOKEN}`]]],
  ];
  for (const [name, headers] of cases) {
    it(name, async () => {
      expectForwardedCleanly(await post(headers));
    });
  }
});

describe('credentials: refused with 401 authentication_error, nothing upstream', () => {
  const basic = Buffer.from(`user:${GATEWAY_TOKEN}`).toString('base64');
  const cases: ReadonlyArray<readonly [string, readonly Header[]]> = [
    ['no credential', []],
    [
      'x-api-key and Authorization with different tokens',
      [
        ['x-api-key', GATEWAY_TOKEN],
        ['authorization', 'Bearer agw_someone_else'],
      ],
    ],
    [
      'a good Bearer beside an empty x-api-key',
      [
        ['x-api-key', ''],
        ['authorization', `Bearer ${GATEWAY_TOKEN}`],
      ],
    ],
    [
      'two Authorization headers, even equal',
      [
        ['authorization', `Bearer ${GATEWAY_TOKEN}`],
        ['authorization', `Bearer ${GATEWAY_TOKEN}`],
      ],
    ],
    [
      'two x-api-key headers, differing only in the name’s case',
      [
        ['x-api-key', GATEWAY_TOKEN],
        ['X-Api-Key', GATEWAY_TOKEN],
      ],
    ],
    ['Authorization: Basic', [['authorization', `Basic ${basic}`]]],
    [
      'Basic beside a good x-api-key',
      [
        ['x-api-key', GATEWAY_TOKEN],
        ['authorization', `Basic ${basic}`],
      ],
    ],
    ['a bare token in Authorization', [['authorization', GATEWAY_TOKEN]]],
    ['a tab between scheme and token', [['authorization', `Bearer\t${GATEWAY_TOKEN}`]]],
    ['two tokens after Bearer', [['authorization', `Bearer ${GATEWAY_TOKEN} ${GATEWAY_TOKEN}`]]],
    ['the right prefix, a wrong tail', [['x-api-key', `${GATEWAY_TOKEN.slice(0, -4)}XXXX`]]],
    ['the token cut short', [['x-api-key', GATEWAY_TOKEN.slice(0, -1)]]],
    ['the token with one more character', [['x-api-key', `${GATEWAY_TOKEN}a`]]],
    ['the token in upper case', [['x-api-key', GATEWAY_TOKEN.toUpperCase()]]],
    ['the token inside quotes', [['x-api-key', `"${GATEWAY_TOKEN}"`]]],
    ['a 10 KB x-api-key', [['x-api-key', `${GATEWAY_TOKEN}${'a'.repeat(10_000)}`]]],
    ['a 40 KB Authorization', [['authorization', `Bearer ${'b'.repeat(40_000)}`]]],
    ['the upstream’s own key as the token', [['x-api-key', UPSTREAM_KEY]]],
    ['x_api_key with underscores', [['x_api_key', GATEWAY_TOKEN]]],
    ['Proxy-Authorization', [['proxy-authorization', `Bearer ${GATEWAY_TOKEN}`]]],
    ['a cookie', [['cookie', `x-api-key=${GATEWAY_TOKEN}`]]],
    [
      'x-api-key named hop-by-hop by Connection (Envoy drops it)',
      [
        ['x-api-key', GATEWAY_TOKEN],
        ['connection', 'x-api-key'],
      ],
    ],
  ];
  for (const [name, headers] of cases) {
    it(name, async () => {
      expectUnauthorized(await post(headers));
    });
  }

  it('a token in the query string', async () => {
    expectUnauthorized(
      await post([], { target: `${MESSAGES}?api_key=${GATEWAY_TOKEN}&x-api-key=${GATEWAY_TOKEN}` }),
    );
  });
});

describe('headers that try to steer Envoy or reach the upstream', () => {
  const auth: Header = ['x-api-key', GATEWAY_TOKEN];

  it('client x-envoy-*, x-forwarded-*, forwarding and hop-by-hop headers never reach the upstream', async () => {
    const junk: Header[] = [
      ['x-envoy-original-path', '/admin'],
      ['x-envoy-internal', 'true'],
      ['x-envoy-decorator-operation', 'evil'],
      ['x-envoy-expected-rq-timeout-ms', '1'],
      ['x-envoy-upstream-alt-stat-name', 'evil'],
      ['x-envoy-original-dst-host', '10.0.0.1:80'],
      ['x-forwarded-for', '203.0.113.9, 10.0.0.1'],
      ['x-forwarded-host', 'evil.example'],
      ['x-forwarded-proto', 'https'],
      ['x-forwarded-port', '443'],
      ['x-forwarded-prefix', '/admin'],
      ['x-forwarded-client-cert', 'By=spiffe://evil'],
      ['forwarded', 'for=203.0.113.9;host=evil.example;proto=https'],
      ['x-real-ip', '10.0.0.1'],
      ['true-client-ip', '10.0.0.1'],
      ['via', '1.1 evil'],
      ['x-original-url', '/v1/admin'],
      ['x-rewrite-url', '/v1/admin'],
      ['x-http-method-override', 'DELETE'],
      ['x-request-id', 'client-chosen'],
      ['x-b3-traceid', '463ac35c9f6413ad'],
      ['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
      ['keep-alive', 'timeout=5, max=1000'],
      ['proxy-connection', 'keep-alive'],
      ['te', 'trailers'],
      ['trailer', 'x-api-key'],
      ['proxy-authorization', 'Basic c2VjcmV0'],
      ['cookie', 'session=secret-cookie'],
      ['x_api_key', 'underscore-variant'],
      ['x-stainless-os', 'Linux'],
      ['expect', '100-continue'],
    ];
    const response = await post([auth, ...junk]);
    expectForwardedCleanly(response, ['secret-cookie', 'c2VjcmV0', 'underscore-variant', 'evil', '/admin']);
  });

  it('x-envoy-upstream-rq-timeout-ms does not shorten the upstream timeout', async () => {
    stack.upstream.queue(async (_request, res) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      json(res, 200, messageBody('claude-sonnet-4-6', 'slow but fine'));
    });
    const response = await post([auth, ['x-envoy-upstream-rq-timeout-ms', '1']]);
    expect(response?.status).toBe(200);
    expect(JSON.parse(response?.body.toString() ?? '')).toMatchObject({
      content: [{ text: 'slow but fine' }],
    });
  });

  it('x-envoy-retry-on and x-envoy-max-retries do not make Envoy retry a paid request', async () => {
    stack.upstream.queue(errorResponder(503, 'overloaded_error', 'busy'));
    stack.upstream.queue(errorResponder(503, 'overloaded_error', 'busy'));
    const response = await post([
      auth,
      ['x-envoy-retry-on', '5xx,reset,retriable-status-codes'],
      ['x-envoy-retriable-status-codes', '503'],
      ['x-envoy-max-retries', '3'],
    ]);
    expect(response?.status).toBe(503);
    expect(stack.upstream.arrived).toHaveLength(1);
  });

  describe('host and :authority', () => {
    const cases: ReadonlyArray<readonly [string, Partial<RequestParts>]> = [
      ['host: api.anthropic.com', { host: false, headers: [['host', 'api.anthropic.com']] }],
      ['host: evil.example:443', { host: false, headers: [['host', 'evil.example:443']] }],
      [
        'two host headers',
        {
          host: false,
          headers: [
            ['host', 'localhost'],
            ['host', 'evil.example'],
          ],
        },
      ],
      ['an absolute-form target naming another host', { target: `http://evil.example${MESSAGES}` }],
      [
        'an absolute-form target and a different host header',
        { target: `http://evil.example${MESSAGES}`, host: false, headers: [['host', 'other.example']] },
      ],
    ];
    for (const [name, parts] of cases) {
      it(`${name}: routed the same, host rewritten to the upstream's`, async () => {
        const response = await rawRequest(
          port,
          buildRequest({
            target: MESSAGES,
            ...parts,
            headers: [['content-type', 'application/json'], auth, ...(parts.headers ?? [])],
            body,
          }),
        );
        expectForwardedCleanly(response, ['evil.example', 'other.example']);
      });
    }

    it('no host at all: 400', async () => {
      expectRawAnthropicError(await post([auth], { host: false }), {
        status: 400,
        type: 'invalid_request_error',
      });
      expect(stack.upstream.arrived).toEqual([]);
    });
  });
});

describe('HTTP/1 framing and protocol tricks', () => {
  const auth: Header = ['x-api-key', GATEWAY_TOKEN];
  const refused: ReadonlyArray<readonly [string, () => Buffer, number, string, string | RegExp | undefined]> =
    [
      [
        'content-length and transfer-encoding together (request smuggling)',
        () =>
          buildRequest({
            target: MESSAGES,
            headers: [auth, ['transfer-encoding', 'chunked'], ['content-length', '5']],
            body: `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
            contentLength: false,
          }),
        400,
        'invalid_request_error',
        'malformed HTTP request',
      ],
      [
        'two different content-lengths',
        () =>
          buildRequest({
            target: MESSAGES,
            headers: [
              auth,
              ['content-length', String(body.length)],
              ['content-length', String(body.length + 1)],
            ],
            body,
            contentLength: false,
          }),
        400,
        'invalid_request_error',
        'malformed HTTP request',
      ],
      [
        'a negative content-length',
        () =>
          buildRequest({
            target: MESSAGES,
            headers: [auth, ['content-length', '-1']],
            body,
            contentLength: false,
          }),
        400,
        'invalid_request_error',
        'malformed HTTP request',
      ],
      [
        'transfer-encoding other than chunked',
        () =>
          buildRequest({
            target: MESSAGES,
            headers: [auth, ['transfer-encoding', 'gzip, chunked']],
            body: `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
            contentLength: false,
          }),
        400,
        'invalid_request_error',
        /unsupported transfer-encoding/,
      ],
      [
        'a NUL byte in a header value',
        () => buildRequest({ target: MESSAGES, headers: [auth, ['x-nul', 'a\0b']], body }),
        400,
        'invalid_request_error',
        'malformed HTTP request',
      ],
      [
        'a space before the colon',
        () => buildRequest({ target: MESSAGES, headers: [auth, ['x-api-key ', GATEWAY_TOKEN]], body }),
        400,
        'invalid_request_error',
        'malformed HTTP request',
      ],
      [
        'a lower-case method',
        () => buildRequest({ method: 'post', target: MESSAGES, headers: [auth], body }),
        400,
        'invalid_request_error',
        'malformed HTTP request',
      ],
      [
        'HTTP/1.0',
        () => buildRequest({ target: MESSAGES, headers: [auth], body, version: 'HTTP/1.0' }),
        426,
        'invalid_request_error',
        /HTTP\/1\.0 is not supported/,
      ],
      [
        'a WebSocket upgrade',
        () =>
          Buffer.from(
            buildRequest({ target: MESSAGES, headers: [auth, ['upgrade', 'websocket']], body })
              .toString('latin1')
              .replace('connection: close', 'connection: upgrade'),
            'latin1',
          ),
        403,
        'permission_error',
        /upgrades are not supported/,
      ],
      [
        'headers over Envoy’s 60 KiB limit',
        () => buildRequest({ target: MESSAGES, headers: [auth, ['x-pad', 'a'.repeat(70 * 1024)]], body }),
        431,
        'request_too_large',
        'request headers are too large',
      ],
      [
        'a request line over the limit',
        () => buildRequest({ target: `${MESSAGES}?q=${'a'.repeat(70 * 1024)}`, headers: [auth], body }),
        431,
        'request_too_large',
        'request headers are too large',
      ],
      [
        'more than 100 headers',
        () =>
          buildRequest({
            target: MESSAGES,
            headers: [auth, ...Array.from({ length: 101 }, (_, i): Header => [`x-h${i}`, 'v'])],
            body,
          }),
        431,
        'request_too_large',
        'request headers are too large',
      ],
    ];
  for (const [name, request, status, type, message] of refused) {
    it(`${name}: ${status} ${type}`, async () => {
      expectRawAnthropicError(await rawRequest(port, request()), { status, type, message });
      expect(stack.upstream.arrived).toEqual([]);
    });
  }

  it('a folded (obs-fold) header is unfolded by Envoy and not forwarded', async () => {
    const request = buildRequest({
      target: MESSAGES,
      headers: [auth, ['x-folded', 'first\r\n second']],
      body,
    });
    expectForwardedCleanly(await rawRequest(port, request), ['first', 'second']);
  });

  it('a 50 KB header under the limit passes Envoy and is not forwarded', async () => {
    expectForwardedCleanly(await post([auth, ['x-pad', 'p'.repeat(50 * 1024)]]), ['ppppp']);
  });

  it('an h2c upgrade request is served as HTTP/1.1, upgrade headers not forwarded', async () => {
    const request = buildRequest({
      target: MESSAGES,
      headers: [
        auth,
        ['content-type', 'application/json'],
        ['upgrade', 'h2c'],
        ['http2-settings', 'AAMAAABkAAQAAP__'],
      ],
      body,
    });
    const upgraded = Buffer.from(
      request.toString('latin1').replace('connection: close', 'connection: upgrade, http2-settings, close'),
      'latin1',
    );
    expectForwardedCleanly(await rawRequest(port, upgraded), ['h2c', 'AAMAAABkAAQAAP__']);
  });
});

describe('the same over HTTP/2', () => {
  interface H2Response {
    readonly status: number;
    readonly headers: Record<string, string | string[] | undefined>;
    readonly body: string;
  }

  function h2(headers: Record<string, string | string[]>, payload: string = body): Promise<H2Response> {
    return new Promise((resolve, reject) => {
      const session = connectHttp2(stack.origin);
      session.on('error', reject);
      const stream = session.request({ ':method': 'POST', ':path': MESSAGES, ...headers });
      let status = 0;
      let responseHeaders: H2Response['headers'] = {};
      const chunks: Buffer[] = [];
      stream.on('response', (received) => {
        status = Number(received[':status']);
        responseHeaders = received;
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        session.close();
        resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks).toString() });
      });
      stream.on('error', reject);
      stream.end(payload);
    });
  }

  const expectH2Error = (response: H2Response, status: number, type: string) => {
    expect(response.status).toBe(status);
    expect(response.headers['request-id']).toBeTruthy();
    expect(JSON.parse(response.body)).toEqual({
      type: 'error',
      error: { type, message: expect.any(String) },
    });
    expect(stack.upstream.arrived).toEqual([]);
  };

  it('forwards an ordinary request with only the allowlisted headers', async () => {
    const response = await h2({
      'x-api-key': GATEWAY_TOKEN,
      'content-type': 'application/json',
      'x-forwarded-for': '203.0.113.9',
      'x-envoy-original-path': '/admin',
      cookie: 'session=secret-cookie',
    });
    expect(response.status).toBe(200);
    const [received] = stack.upstream.received;
    for (const [name] of received?.headers ?? []) expect(UPSTREAM_HEADER_NAMES).toContain(name);
    expect(received?.headers.filter(([name]) => name === 'x-api-key')).toEqual([['x-api-key', UPSTREAM_KEY]]);
    expect(JSON.stringify(received?.headers)).not.toMatch(/secret-cookie|203\.0\.113\.9|admin/);
  });

  it('rewrites a foreign :authority to the upstream host', async () => {
    const response = await h2({ ':authority': 'evil.example', 'x-api-key': GATEWAY_TOKEN });
    expect(response.status).toBe(200);
    expect(stack.upstream.received[0]?.headers.filter(([name]) => name === 'host')).toEqual([
      ['host', new URL(stack.upstream.url).host],
    ]);
  });

  it('refuses two x-api-key fields (node:http2 will not send two authorization fields)', async () => {
    expectH2Error(await h2({ 'x-api-key': [GATEWAY_TOKEN, GATEWAY_TOKEN] }), 401, 'authentication_error');
  });

  it('refuses different tokens in x-api-key and authorization', async () => {
    expectH2Error(
      await h2({ 'x-api-key': GATEWAY_TOKEN, authorization: 'Bearer agw_other' }),
      401,
      'authentication_error',
    );
  });

  it('normalises a :path with dot segments before deciding', async () => {
    expectH2Error(
      await h2({ ':path': '/ai-gateway/anthropic/../../v1/messages', 'x-api-key': GATEWAY_TOKEN }),
      404,
      'not_found_error',
    );
  });

  it('refuses a compressed body', async () => {
    expectH2Error(
      await h2({ 'x-api-key': GATEWAY_TOKEN, 'content-encoding': 'gzip' }),
      415,
      'invalid_request_error',
    );
  });
});
