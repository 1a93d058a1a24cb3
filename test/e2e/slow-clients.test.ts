// Slow and idle clients through the real Envoy, with the listener's timeouts
// set small: a client trickling its headers, one that never sends a byte, a
// kept-alive connection left idle, a body that arrives too slowly. Each is cut
// by the timeout meant for it (Envoy's counters say which), with an
// Anthropic-shaped 408 where a reply is possible, and nothing reaches the
// upstream. A response that streams for longer than all of them together is
// not cut. And a body declared over the limit is refused at once, before the
// client has sent a byte of it.
import { connect as connectHttp2 } from 'node:http2';
import Anthropic from '@anthropic-ai/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectRawAnthropicError } from '../support/anthropic-error.ts';
import { encodeSse, sha256, textStreamEvents } from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, seedRequest, useStack } from '../support/gateway-stack.ts';
import { openConnection, type RawConnection, trickle } from '../support/raw-http.ts';

const HEADERS_TIMEOUT_S = 1;
const REQUEST_TIMEOUT_S = 2;
const IDLE_TIMEOUT_S = 1;
const stack = useStack({
  config: {
    listen: {
      request_headers_timeout_seconds: HEADERS_TIMEOUT_S,
      request_timeout_seconds: REQUEST_TIMEOUT_S,
      idle_timeout_seconds: IDLE_TIMEOUT_S,
    },
  },
});
let port: number;
beforeAll(() => {
  port = Number(new URL(stack.origin).port);
});

const MESSAGES = '/ai-gateway/anthropic/v1/messages';
const LIMIT = 32 * 1024 * 1024;

/** One of Envoy's counters for the gateway listener (http.gateway.*). */
function counter(name: string): Promise<number> {
  return stack.envoy.admin.stat(`http.gateway.${name}`);
}

function head(lines: readonly string[]): string {
  return `POST ${MESSAGES} HTTP/1.1\r\nhost: localhost\r\n${lines.map((line) => `${line}\r\n`).join('')}\r\n`;
}

const authorized = ['content-type: application/json', `x-api-key: ${GATEWAY_TOKEN}`];

describe('a client that trickles its request headers', () => {
  it('is answered 408 and disconnected after the headers timeout, 300 of them at once', async () => {
    const before = await counter('downstream_rq_header_timeout');
    const request = head([...authorized, 'content-length: 2']);
    const connections = await Promise.all(Array.from({ length: 300 }, () => openConnection(port)));
    const written = await Promise.all(connections.map((connection) => trickle(connection, request, 250)));
    // Cut before the headers were complete, by Envoy (the test never closes them).
    for (const count of written) expect(count).toBeLessThan(request.length);
    for (const connection of connections) {
      expect(connection.isClosed()).toBe(true);
      expectRawAnthropicError(await connection.response, {
        status: 408,
        type: 'timeout_error',
        message: `timed out receiving the request headers (the gateway waits ${HEADERS_TIMEOUT_S} s for them)`,
      });
    }
    expect(await counter('downstream_rq_header_timeout')).toBe(before + 300);
    expect(stack.upstream.arrived).toEqual([]);
  });
});

describe('an idle connection', () => {
  it('that never sends a byte is closed after the idle timeout', async () => {
    const before = await counter('downstream_cx_idle_timeout');
    const connection = await openConnection(port);
    await connection.closed;
    expect(connection.received()).toHaveLength(0);
    expect(await counter('downstream_cx_idle_timeout')).toBeGreaterThan(before);
  });

  it('kept alive after a response is closed after the idle timeout', async () => {
    const before = await counter('downstream_cx_idle_timeout');
    const connection = await openConnection(port);
    const body = JSON.stringify(seedRequest());
    // No `connection: close`: HTTP/1.1 keeps the connection for another request.
    connection.write(head([...authorized, `content-length: ${Buffer.byteLength(body)}`]) + body);
    expect((await connection.response)?.status).toBe(200);
    expect(connection.isClosed()).toBe(false);
    await connection.closed;
    expect(await counter('downstream_cx_idle_timeout')).toBeGreaterThan(before);
    expect(stack.upstream.received).toHaveLength(1);
  });

  it('over HTTP/2 gets a GOAWAY after the idle timeout', async () => {
    const session = connectHttp2(stack.origin);
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code) => resolve(code)));
    const status = await new Promise<number>((resolve, reject) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': MESSAGES,
        'x-api-key': GATEWAY_TOKEN,
        'content-type': 'application/json',
      });
      stream.on('response', (headers) => resolve(Number(headers[':status'])));
      stream.on('error', reject);
      stream.resume();
      stream.end(JSON.stringify(seedRequest()));
    });
    expect(status).toBe(200);
    expect(await goaway).toBe(0); // NO_ERROR: a graceful close
    session.destroy();
  });
});

describe('a body that arrives too slowly', () => {
  it('gets an Anthropic-shaped 408 at the request timeout, and nothing goes upstream', async () => {
    const before = await counter('downstream_rq_timeout');
    const connection = await openConnection(port);
    const body = JSON.stringify(seedRequest());
    connection.write(head([...authorized, `content-length: ${Buffer.byteLength(body)}`]));
    // A byte every 100 ms keeps the stream from ever being idle; the body
    // would take longer than the request timeout to arrive.
    expect(body.length * 100).toBeGreaterThan(REQUEST_TIMEOUT_S * 1000);
    const written = await trickle(connection, body, 100);
    expect(written).toBeLessThan(body.length);
    expectRawAnthropicError(await connection.response, {
      status: 408,
      type: 'timeout_error',
      message: `timed out receiving the request (the gateway waits ${REQUEST_TIMEOUT_S} s for a whole request, body included)`,
    });
    expect(await counter('downstream_rq_timeout')).toBe(before + 1);
    expect(stack.upstream.arrived).toEqual([]);
  });
});

describe('a response that streams for longer than all the timeouts together', () => {
  // One event every 200 ms: 4 s of streaming, against timeouts of 1 and 2 s.
  const pieces = Array.from({ length: 20 }, (_, i) => `piece ${i} `);
  const events = textStreamEvents('claude-sonnet-4-6', pieces);
  const pacedStream = (intervalMs: number) => {
    stack.upstream.queue(async (_request, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      for (const [i, event] of events.entries()) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
        res.write(encodeSse(event));
      }
      res.end();
    });
  };

  it('reaches the SDK whole, to message_stop', async () => {
    pacedStream(200);
    const client = new Anthropic({ apiKey: GATEWAY_TOKEN, baseURL: stack.baseUrl, maxRetries: 0 });
    const stream = client.messages.stream(seedRequest() as Anthropic.MessageStreamParams);
    const texts: string[] = [];
    stream.on('text', (text) => texts.push(text));
    const message = await stream.finalMessage();
    expect(texts).toEqual(pieces);
    expect(message.stop_reason).toBe('end_turn');
    expect(stack.upstream.received).toHaveLength(1);
  });

  it('reaches an HTTP/2 client whole, to message_stop', async () => {
    pacedStream(200);
    const session = connectHttp2(stack.origin);
    const body = await new Promise<string>((resolve, reject) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': MESSAGES,
        'x-api-key': GATEWAY_TOKEN,
        'content-type': 'application/json',
      });
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => resolve(Buffer.concat(chunks).toString()));
      stream.on('error', reject);
      stream.end(JSON.stringify({ ...seedRequest(), stream: true }));
    });
    session.close();
    expect(body).toBe(events.map(encodeSse).join(''));
  });
});

describe('a body declared larger than the limit', () => {
  /** Sends only the request head, then waits: the answer comes before any body byte is written. */
  async function declare(length: string, lines = authorized): Promise<RawConnection> {
    const connection = await openConnection(port);
    connection.write(head([...lines, `content-length: ${length}`]));
    await connection.response;
    return connection;
  }

  for (const length of [
    String(LIMIT + 1),
    `0000${LIMIT + 1}`,
    '9223372036854775807',
    '18446744073709551615', // the largest Envoy's HTTP/1 parser takes
  ]) {
    it(`content-length ${length}: 413 request_too_large, no body byte sent, nothing upstream`, async () => {
      const connection = await declare(length);
      expectRawAnthropicError(await connection.response, {
        status: 413,
        type: 'request_too_large',
        message: "request body is larger than the gateway's limit of 32 MiB",
      });
      // Envoy closes the connection: the body it refused will not be read.
      await connection.closed;
      expect(stack.upstream.arrived).toEqual([]);
    });
  }

  it('without a valid token is 401 first: only a caller who may send learns the limit', async () => {
    const connection = await declare(String(LIMIT + 1), ['content-type: application/json']);
    expectRawAnthropicError(await connection.response, { status: 401, type: 'authentication_error' });
    connection.destroy();
    expect(stack.upstream.arrived).toEqual([]);
  });

  it('over HTTP/2: 413 with no DATA frame sent', async () => {
    const session = connectHttp2(stack.origin);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const stream = session.request(
        {
          ':method': 'POST',
          ':path': MESSAGES,
          'x-api-key': GATEWAY_TOKEN,
          'content-type': 'application/json',
          'content-length': `00${LIMIT + 1}`,
        },
        // The stream stays open for a body that is never written.
        { endStream: false },
      );
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString() }));
      stream.on('error', reject);
    });
    session.destroy();
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual({
      type: 'error',
      error: {
        type: 'request_too_large',
        message: "request body is larger than the gateway's limit of 32 MiB",
      },
    });
    expect(stack.upstream.arrived).toEqual([]);
  });

  it('a body within the limit still passes (the check reads the number, not its length)', async () => {
    const body = JSON.stringify(seedRequest());
    const connection = await openConnection(port);
    connection.write(
      `${head([...authorized, 'connection: close', `content-length: 000${Buffer.byteLength(body)}`])}${body}`,
    );
    expect((await connection.response)?.status).toBe(200);
    expect(stack.upstream.received[0]?.sha256).toBe(sha256(body));
  });
});
