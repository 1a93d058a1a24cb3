// Request bodies built to confuse the model check, through the real Envoy and
// processor: the decision must use the same top-level "model" the upstream
// will read, or refuse. Compressed bodies are refused (they cannot be read);
// chunked uploads without content-length work, up to the 32 MiB limit; a body
// cut short never reaches the upstream.
import { connect } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { HUGE_BODY_BYTES } from '../../bench/lib/bodies.ts';
import { hostileShape } from '../../bench/lib/hostile-shapes.ts';
import { expectAnthropicError, expectRawAnthropicError } from '../support/anthropic-error.ts';
import { sha256 } from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, useStack } from '../support/gateway-stack.ts';
import { buildRequest, chunked, rawRequest } from '../support/raw-http.ts';

const stack = useStack();
let port: number;
beforeAll(() => {
  port = Number(new URL(stack.origin).port);
});

const MESSAGES = '/ai-gateway/anthropic/v1/messages';
const REST = '"max_tokens":16,"messages":[{"role":"user","content":"Hi"}]';

function post(body: string | Buffer, headers: Record<string, string> = {}) {
  return fetch(`${stack.baseUrl}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': GATEWAY_TOKEN, ...headers },
    body,
  });
}

const invalid = (message: string | RegExp) => ({ status: 400, type: 'invalid_request_error', message });
const DUPLICATE = invalid('request body has more than one "model" field');
const MISSING = invalid('model: field required');
const NOT_A_STRING = invalid('model: must be a string');
const UNKNOWN = invalid(/^unknown model: "[\x20-\x7e]*"…? \(see GET \/ai-gateway\/anthropic\/v1\/models /);
const NOT_AN_OBJECT = invalid('request body must be a JSON object');
const INVALID_JSON = invalid('request body is not valid JSON');
const EMPTY = invalid('request body is empty; expected a JSON object with a "model" field');

const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('the model check reads the model the upstream will read, or refuses', () => {
  const refused: ReadonlyArray<readonly [string, string | Buffer, ReturnType<typeof invalid>]> = [
    [
      'two top-level "model" keys',
      `{"model":"claude-haiku-4-5",${REST},"model":"claude-opus-4-8"}`,
      DUPLICATE,
    ],
    ['the same model twice', `{"model":"claude-haiku-4-5","model":"claude-haiku-4-5",${REST}}`, DUPLICATE],
    [
      'a second "model" written with escapes',
      `{"model":"claude-haiku-4-5",${REST},"mod\\u0065l":"x"}`,
      DUPLICATE,
    ],
    [
      '"model" only inside messages and tools',
      `{${REST.replace('"Hi"}', '"Hi","model":"claude-haiku-4-5"}')},"tools":[{"name":"t","input_schema":{"model":"claude-haiku-4-5"}}]}`,
      MISSING,
    ],
    ['"Model" in another case', `{"Model":"claude-haiku-4-5",${REST}}`, MISSING],
    ['a number', `{"model":4.5,${REST}}`, NOT_A_STRING],
    ['null', `{"model":null,${REST}}`, NOT_A_STRING],
    ['an array', `{"model":["claude-haiku-4-5"],${REST}}`, NOT_A_STRING],
    ['an object', `{"model":{"id":"claude-haiku-4-5"},${REST}}`, NOT_A_STRING],
    ['true', `{"model":true,${REST}}`, NOT_A_STRING],
    ['an empty string', `{"model":"",${REST}}`, UNKNOWN],
    ['a leading space', `{"model":" claude-haiku-4-5",${REST}}`, UNKNOWN],
    ['a trailing space', `{"model":"claude-haiku-4-5 ",${REST}}`, UNKNOWN],
    ['another case', `{"model":"Claude-Haiku-4-5",${REST}}`, UNKNOWN],
    ['a lone surrogate escape', `{"model":"claude-haiku-4-5\\ud800",${REST}}`, UNKNOWN],
    ['a JSON array body', `[{"model":"claude-haiku-4-5"}]`, NOT_AN_OBJECT],
    ['a JSON string body', '"claude-haiku-4-5"', NOT_AN_OBJECT],
    ['a JSON number body', '42', NOT_AN_OBJECT],
    ['a JSON null body', 'null', NOT_AN_OBJECT],
    ['100000 nested arrays as the body', deep(100_000), NOT_AN_OBJECT],
    [
      'a UTF-8 byte order mark first',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`{"model":"claude-haiku-4-5",${REST}}`)]),
      INVALID_JSON,
    ],
    ['trailing garbage after the object', `{"model":"claude-haiku-4-5",${REST}} x`, INVALID_JSON],
    [
      'a second object after the first',
      `{"model":"claude-haiku-4-5",${REST}}{"model":"claude-opus-4-8"}`,
      INVALID_JSON,
    ],
    ['a trailing comma', `{"model":"claude-haiku-4-5",${REST},}`, INVALID_JSON],
    ['a truncated body', `{"model":"claude-haiku-4-5",${REST}`.slice(0, 40), INVALID_JSON],
    [
      'unbalanced deep nesting',
      `{"model":"claude-haiku-4-5","x":${deep(100_000).slice(0, -1)}}`,
      INVALID_JSON,
    ],
    ['a raw control character in a string', `{"model":"claude-haiku-4-5\u0001",${REST}}`, INVALID_JSON],
    ['single quotes', `{'model':'claude-haiku-4-5'}`, INVALID_JSON],
    ['a comment', `{"model":"claude-haiku-4-5" /* opus */,${REST}}`, INVALID_JSON],
    [
      'bytes that are not UTF-8',
      Buffer.concat([
        Buffer.from(`{"model":"claude-haiku-4-5",${REST},"x":"`),
        Buffer.from([0xc0, 0xaf]),
        Buffer.from('"}'),
      ]),
      invalid('request body is not valid UTF-8'),
    ],
    ['only whitespace', ' \r\n\t ', EMPTY],
    [
      'a gzip body sent without content-encoding',
      gzipSync(`{"model":"claude-haiku-4-5",${REST}}`),
      invalid('request body is not valid UTF-8'),
    ],
  ];
  for (const [name, body, expected] of refused) {
    it(`${name}: ${expected.status} ${expected.message}`, async () => {
      await expectAnthropicError(await post(body), expected);
      expect(stack.upstream.arrived).toEqual([]);
    });
  }

  const accepted: ReadonlyArray<readonly [string, string]> = [
    ['a "model" key written with escapes', `{"mod\\u0065l":"claude-haiku-4-5",${REST}}`],
    ['a model value written with escapes', `{"model":"claude-haiku-4\\u002d5",${REST}}`],
    [
      'the model last, after nested "model" keys',
      `{"metadata":{"model":"claude-opus-4-8"},${REST},"model":"claude-haiku-4-5"}`,
    ],
    ['100000 nested arrays inside a field', `{"x":${deep(100_000)},"model":"claude-haiku-4-5",${REST}}`],
    [
      'a "__proto__" key beside the model',
      `{"__proto__":{"model":"claude-opus-4-8"},"model":"claude-haiku-4-5",${REST}}`,
    ],
  ];
  for (const [name, body] of accepted) {
    it(`${name}: forwarded byte for byte`, async () => {
      const response = await post(body);
      expect(response.status).toBe(200);
      await response.json();
      expect(stack.upstream.received).toHaveLength(1);
      expect(stack.upstream.received[0]?.sha256).toBe(sha256(body));
    });
  }

  it('an empty body: 400, decided before anything is buffered', async () => {
    await expectAnthropicError(await post(''), EMPTY);
    expect(stack.upstream.arrived).toEqual([]);
  });
});

describe('32 MB bodies shaped to make the model scan work hard (bench/lib/hostile-shapes.ts)', () => {
  // Scanned by the processor a slice at a time (processor/policy/body-scan.ts),
  // within Envoy's message timeout; the gateway then serves on.
  for (const name of [
    'deep-arrays-unclosed',
    'deep-objects-unclosed',
    'numbers',
    'tiny-keys',
    'escaped-model',
  ]) {
    const shape = hostileShape(name);
    it(`${name}: ${shape.verdict.forwarded ? 'forwarded byte for byte' : shape.verdict.message}`, async () => {
      const body = shape.build(HUGE_BODY_BYTES);
      const response = await post(body);
      if (shape.verdict.forwarded) {
        expect(response.status).toBe(200);
        await response.json();
        expect(stack.upstream.received[0]?.sha256).toBe(sha256(body));
      } else {
        await expectAnthropicError(response, invalid(shape.verdict.message));
        expect(stack.upstream.arrived).toEqual([]);
      }
      const ordinary = await post(`{"model":"claude-haiku-4-5",${REST}}`);
      expect(ordinary.status).toBe(200);
      await ordinary.json();
    });
  }
});

describe('compressed bodies cannot be checked, so they are refused with 415', () => {
  const plain = `{"model":"claude-haiku-4-5",${REST}}`;
  const cases: ReadonlyArray<readonly [string, Buffer]> = [
    ['gzip', gzipSync(plain)],
    ['br', brotliCompressSync(plain)],
    ['deflate', deflateSync(plain)],
    ['GZIP', gzipSync(plain)],
    ['identity, gzip', gzipSync(plain)],
    ['x-gzip', gzipSync(plain)],
    ['zstd', Buffer.from(plain)],
  ];
  for (const [encoding, body] of cases) {
    it(`content-encoding: ${encoding}`, async () => {
      await expectAnthropicError(await post(body, { 'content-encoding': encoding }), {
        status: 415,
        type: 'invalid_request_error',
        message: `request bodies with content-encoding ${JSON.stringify(encoding)} are not accepted; send the JSON uncompressed`,
      });
      expect(stack.upstream.arrived).toEqual([]);
    });
  }

  it('a second content-encoding header after identity', async () => {
    const request = buildRequest({
      target: MESSAGES,
      headers: [
        ['x-api-key', GATEWAY_TOKEN],
        ['content-encoding', 'identity'],
        ['content-encoding', 'gzip'],
      ],
      body: gzipSync(plain),
    });
    expectRawAnthropicError(await rawRequest(port, request), { status: 415, type: 'invalid_request_error' });
    expect(stack.upstream.arrived).toEqual([]);
  });

  it('content-encoding: identity is a plain body, forwarded', async () => {
    const response = await post(plain, { 'content-encoding': 'identity' });
    expect(response.status).toBe(200);
    expect(stack.upstream.received[0]?.sha256).toBe(sha256(plain));
    expect(stack.upstream.received[0]?.headers.map(([name]) => name)).not.toContain('content-encoding');
  });
});

describe('chunked uploads and cut-short bodies', () => {
  const chunkedRequest = (body: Buffer | string, pieces: number) =>
    Buffer.concat([
      buildRequest({
        target: MESSAGES,
        headers: [
          ['x-api-key', GATEWAY_TOKEN],
          ['content-type', 'application/json'],
          ['transfer-encoding', 'chunked'],
        ],
        contentLength: false,
      }),
      chunked(body, pieces),
    ]);

  it('a chunked upload without content-length is checked and forwarded unchanged', async () => {
    const body = `{${REST},"model":"claude-haiku-4-5"}`;
    const response = await rawRequest(port, chunkedRequest(body, 5));
    expect(response?.status).toBe(200);
    expect(stack.upstream.received).toHaveLength(1);
    expect(stack.upstream.received[0]?.sha256).toBe(sha256(body));
  });

  it('a chunked upload is checked like any other: its model decides', async () => {
    expectRawAnthropicError(
      await rawRequest(port, chunkedRequest(`{"model":"claude-nope",${REST}}`, 3)),
      UNKNOWN,
    );
    expect(stack.upstream.arrived).toEqual([]);
  });

  it('a 32 MB chunked upload whose model comes last reaches the upstream intact', async () => {
    const filler = 'a'.repeat(32_000_000 - 200);
    const body = Buffer.from(
      `{"messages":[{"role":"user","content":"${filler}"}],"max_tokens":1,"model":"claude-haiku-4-5"}`,
    );
    expect(body.length).toBeLessThanOrEqual(32_000_000);
    const response = await rawRequest(port, chunkedRequest(body, 64), { timeoutMs: 60_000 });
    expect(response?.status).toBe(200);
    expect(stack.upstream.received[0]?.sha256).toBe(sha256(body));
  });

  it('a chunked upload over 32 MiB: 413 request_too_large', async () => {
    const body = Buffer.from(`{"model":"claude-haiku-4-5","pad":"${'a'.repeat(32 * 1024 * 1024)}"}`);
    expectRawAnthropicError(await rawRequest(port, chunkedRequest(body, 64), { timeoutMs: 60_000 }), {
      status: 413,
      type: 'request_too_large',
    });
    expect(stack.upstream.arrived).toEqual([]);
  });

  it('a body cut short (the client goes away before content-length is reached) reaches nothing upstream', async () => {
    const resets = () => envoyCounter('http.gateway.downstream_cx_destroy_remote_active_rq');
    const before = await resets();
    const body = `{"model":"claude-haiku-4-5",${REST}}`;
    const head = buildRequest({
      target: MESSAGES,
      headers: [
        ['x-api-key', GATEWAY_TOKEN],
        ['content-type', 'application/json'],
        ['content-length', String(body.length + 100)],
      ],
      contentLength: false,
    });
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end(Buffer.concat([head, Buffer.from(body)]));
        socket.destroy();
        resolve();
      });
      socket.on('error', () => {});
    });
    // Wait until Envoy has seen the connection go with the request unfinished.
    await expect.poll(resets, { timeout: 5_000, interval: 25 }).toBeGreaterThan(before);
    expect(stack.upstream.arrived).toEqual([]);
  });

  it('a request smuggled after a body reaches the upstream only if it passes the checks itself', async () => {
    const body = `{"model":"claude-haiku-4-5",${REST}}`;
    const first = Buffer.from(
      `POST ${MESSAGES} HTTP/1.1\r\nhost: localhost\r\nx-api-key: ${GATEWAY_TOKEN}\r\n` +
        `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    const smuggled = buildRequest({
      target: MESSAGES,
      headers: [['content-type', 'application/json']],
      body,
    });
    const text = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.concat([first, smuggled])));
      let out = '';
      socket.on('data', (chunk: Buffer) => {
        out += chunk.toString('latin1');
      });
      socket.on('close', () => resolve(out));
      socket.on('error', () => {});
      setTimeout(() => socket.destroy(), 10_000).unref();
    });
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 401']);
    expect(stack.upstream.arrived).toHaveLength(1);
  });
});

async function envoyCounter(name: string): Promise<number> {
  const stats = JSON.parse(await stack.envoy.admin.get(`/stats?format=json&filter=^${name}$`)) as {
    stats: Array<{ name: string; value: number }>;
  };
  return stats.stats.find((stat) => stat.name === name)?.value ?? 0;
}
