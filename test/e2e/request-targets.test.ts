// Raw bytes in the request target, over HTTP/1.1 (written byte for byte) and
// HTTP/2 (node:http2 sends a latin1 string's bytes as they are), through the
// real Envoy and processor. Over HTTP/1.1 Envoy's parser refuses controls,
// space, DEL and bytes of 0x80 and more; over HTTP/2 its codec resets a stream
// with the first three, but let raw UTF-8 in the query through, to the
// upstream: the processor now refuses it with the same 400. Whatever the
// protocol, such a target reaches nothing upstream.
import { connect as connectHttp2 } from 'node:http2';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectRawAnthropicError } from '../support/anthropic-error.ts';
import { GATEWAY_TOKEN, seedRequest, useStack } from '../support/gateway-stack.ts';
import { buildRequest, rawRequest } from '../support/raw-http.ts';

const stack = useStack();
let port: number;
beforeAll(() => {
  port = Number(new URL(stack.origin).port);
});

const MESSAGES = '/ai-gateway/anthropic/v1/messages';
const body = JSON.stringify(seedRequest());
const MALFORMED = { status: 400, type: 'invalid_request_error', message: 'malformed HTTP request' };

/** A target with `bytes` raw in the query or in the path, as a latin1 string (one character per byte). */
function targetWith(bytes: readonly number[], where: 'query' | 'path'): string {
  const raw = Buffer.from(bytes).toString('latin1');
  return where === 'query' ? `${MESSAGES}?q=a${raw}b` : `${MESSAGES.slice(0, -4)}${raw}ages`;
}

/** buildRequest writes the request line as latin1: one byte per character. */
function http1(target: string) {
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

interface H2Outcome {
  /** 0 when the stream was reset before any response. */
  readonly status: number;
  readonly body: string;
  readonly requestId: string | undefined;
  readonly rstCode: number | undefined;
}

function http2(path: string): Promise<H2Outcome> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(stack.origin);
    session.on('error', reject);
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'x-api-key': GATEWAY_TOKEN,
      'content-type': 'application/json',
    });
    let status = 0;
    let requestId: string | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      requestId = headers['request-id'] as string | undefined;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A reset stream may or may not also report an error: the outcome is read on close.
    stream.on('error', () => {});
    stream.on('close', () => {
      session.close();
      resolve({ status, body: Buffer.concat(chunks).toString(), requestId, rstCode: stream.rstCode });
    });
    stream.end(body);
  });
}

function expectH2Error(outcome: H2Outcome, expected: { status: number; type: string; message: string }) {
  expect({ status: outcome.status, body: outcome.body }).toMatchObject({ status: expected.status });
  expect(outcome.requestId).toBeTruthy();
  expect(JSON.parse(outcome.body)).toEqual({
    type: 'error',
    error: { type: expected.type, message: expected.message },
  });
}

const hex = (bytes: readonly number[]) => bytes.map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ');

describe('raw UTF-8 and other bytes of 0x80 and more in the query: the same 400 over both protocols', () => {
  for (const bytes of [[0xc3, 0xa9], [0xe2, 0x82, 0xac], [0x80], [0xff]]) {
    it(hex(bytes), async () => {
      const target = targetWith(bytes, 'query');
      const one = expectRawAnthropicError(await http1(target), MALFORMED);
      expectH2Error(await http2(target), MALFORMED);
      expect(one.error.message).toBe(MALFORMED.message);
      expect(stack.upstream.arrived).toEqual([]);
    });
  }
});

describe('controls, space and DEL: refused over both protocols, nothing upstream', () => {
  for (const byte of [0x01, 0x09, 0x1b, 0x20, 0x7f]) {
    for (const where of ['query', 'path'] as const) {
      it(`${hex([byte])} in the ${where}: 400 over HTTP/1.1, stream reset over HTTP/2`, async () => {
        const target = targetWith([byte], where);
        expectRawAnthropicError(await http1(target), MALFORMED);
        // Envoy's HTTP/2 codec refuses the header block itself: no HTTP answer is possible.
        const outcome = await http2(target);
        expect(outcome.status).toBe(0);
        expect(outcome.rstCode).not.toBe(0);
        expect(stack.upstream.arrived).toEqual([]);
      });
    }
  }
});

describe('# in the target: the same 400 over both protocols', () => {
  for (const where of ['query', 'path'] as const) {
    it(`in the ${where}`, async () => {
      const target = targetWith([0x23], where);
      expectRawAnthropicError(await http1(target), MALFORMED);
      expectH2Error(await http2(target), MALFORMED);
      expect(stack.upstream.arrived).toEqual([]);
    });
  }
});

describe('bytes of 0x80 and more in the path (not the query)', () => {
  it('400 over HTTP/1.1; over HTTP/2 Envoy percent-encodes them first, so no route matches: 404', async () => {
    const target = targetWith([0xc3, 0xa9], 'path');
    expectRawAnthropicError(await http1(target), MALFORMED);
    expectH2Error(await http2(target), {
      status: 404,
      type: 'not_found_error',
      message:
        '/v1/mess%C3%A9ages is not available through this gateway; it serves POST /v1/messages, POST /v1/messages/count_tokens and GET /v1/models',
    });
    expect(stack.upstream.arrived).toEqual([]);
  });
});

describe('visible ASCII that RFC 3986 wants escaped, raw in the query', () => {
  it('is forwarded as sent, the same over both protocols', async () => {
    const target = `${MESSAGES}?q=a|b{c}"d"<e>^f\`g\\h`;
    expect((await http1(target))?.status).toBe(200);
    expect((await http2(target)).status).toBe(200);
    expect(stack.upstream.received.map((request) => request.url)).toEqual([
      '/v1/messages?q=a|b{c}"d"<e>^f`g\\h',
      '/v1/messages?q=a|b{c}"d"<e>^f`g\\h',
    ]);
  });
});

describe('an https:// absolute-form target on the plain-HTTP listener', () => {
  it('says so, as a 400, and reaches nothing upstream', async () => {
    expectRawAnthropicError(await http1(`https://gateway.example${MESSAGES}`), {
      status: 400,
      type: 'invalid_request_error',
      message:
        'the request target is an https:// URL on a plain-HTTP connection; send only the path, or connect over TLS',
    });
    expect(stack.upstream.arrived).toEqual([]);
  });
});
