// A fake Anthropic API for the end-to-end tests (a fixture, never product
// code). It records exactly what reached it (method, path, raw headers, body
// hash, trailers, HTTP version) and answers like the real API: JSON messages,
// paced or gated SSE, count_tokens, and errors with request-id and
// retry-after. Tests steer it by queueing a responder before they send a
// request. By default it speaks plain HTTP/1.1; given a certificate it serves
// HTTPS with ALPN h2 (and http/1.1), as the real API does.
import { createHash } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  /** "1.1" or "2.0": what the gateway spoke to the upstream. */
  readonly httpVersion: string;
  /**
   * Header names lower-cased, in arrival order, repeats kept. Over HTTP/2
   * the pseudo-headers are not among them (see `pseudoHeaders`).
   */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** HTTP/2 only: :method, :path, :authority, :scheme as they arrived; empty over HTTP/1.1. */
  readonly pseudoHeaders: ReadonlyArray<readonly [string, string]>;
  /**
   * The trailer section, names lower-cased, or undefined when none came at
   * all. Over HTTP/2 even an empty trailing HEADERS frame counts as one.
   */
  readonly trailers: ReadonlyArray<readonly [string, string]> | undefined;
  readonly body: Buffer;
  readonly sha256: string;
}

/** What a responder writes to: the part that an HTTP/1.1 and an HTTP/2 response share. */
export interface UpstreamResponse {
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown;
  write(chunk: string | Uint8Array): boolean;
  end(chunk?: string | Uint8Array): unknown;
  /** Resets the stream (HTTP/2) or the connection (HTTP/1.1). */
  destroy(): unknown;
}

export type Responder = (request: ReceivedRequest, res: UpstreamResponse) => void | Promise<void>;

export interface FakeUpstream {
  readonly url: string;
  readonly received: ReceivedRequest[];
  /**
   * Every request whose head arrived, even one whose body never finished (a
   * stream Envoy reset): proves that nothing at all reached the upstream.
   */
  readonly arrived: ReadonlyArray<{ readonly method: string; readonly url: string }>;
  /** Answer the next request with `responder` (first in, first out); otherwise the default. */
  queue(responder: Responder): void;
  /** Answer every request not queued for with `responder` (until reset), e.g. for a client that sends several. */
  useDefault(responder: Responder): void;
  /** Forgets what was received and queued, and restores the built-in default responder. */
  reset(): void;
  close(): Promise<void>;
}

export interface FakeUpstreamOptions {
  /**
   * Serve HTTPS at https://localhost:<port> with this certificate (for
   * `localhost`, see test/support/test-ca.ts), offering h2 and http/1.1 by ALPN.
   */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export const UPSTREAM_REQUEST_ID = 'req_fake_upstream_0001';

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function pairs(raw: readonly string[]): Array<readonly [string, string]> {
  const result: Array<readonly [string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) result.push([(raw[i] ?? '').toLowerCase(), raw[i + 1] ?? '']);
  return result;
}

type AnyRequest = IncomingMessage | Http2ServerRequest;

function isHttp2(req: AnyRequest): req is Http2ServerRequest {
  return req.httpVersionMajor === 2;
}

/** An HTTP/2 compatibility response, as an UpstreamResponse (its reset is the stream's). */
function http2Response(req: Http2ServerRequest, res: Http2ServerResponse): UpstreamResponse {
  return {
    writeHead: (status, headers) => res.writeHead(status, headers),
    write: (chunk) => res.write(chunk),
    end: (chunk) => (chunk === undefined ? res.end() : res.end(chunk)),
    destroy: () => req.stream.destroy(),
  };
}

export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const received: ReceivedRequest[] = [];
  const arrived: Array<{ method: string; url: string }> = [];
  const queued: Responder[] = [];
  let fallback: Responder = defaultResponder;

  const handle = (req: AnyRequest, res: UpstreamResponse) => {
    arrived.push({ method: req.method ?? '', url: req.url ?? '' });
    // Over HTTP/2, any trailing HEADERS frame, even an empty one.
    let http2Trailers: Array<readonly [string, string]> | undefined;
    if (isHttp2(req)) {
      req.stream.on('trailers', (_headers, _flags, rawTrailers: string[]) => {
        http2Trailers = [...(http2Trailers ?? []), ...pairs(rawTrailers)];
      });
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const all = pairs(req.rawHeaders);
      const rawTrailers = pairs(req.rawTrailers);
      const request: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        httpVersion: req.httpVersion,
        headers: all.filter(([name]) => !name.startsWith(':')),
        pseudoHeaders: all.filter(([name]) => name.startsWith(':')),
        trailers: isHttp2(req) ? http2Trailers : rawTrailers.length > 0 ? rawTrailers : undefined,
        body,
        sha256: sha256(body),
      };
      received.push(request);
      const responder = queued.shift() ?? fallback;
      void Promise.resolve(responder(request, res)).catch(() => res.destroy());
    });
  };

  let server: Server | Http2SecureServer;
  const sockets = new Set<Socket>();
  if (options.tls === undefined) {
    server = createServer((req: IncomingMessage, res: ServerResponse) => handle(req, res));
  } else {
    const secure = createSecureServer(
      { cert: options.tls.cert, key: options.tls.key, allowHTTP1: true },
      (req, res) => {
        if (isHttp2(req)) handle(req, http2Response(req, res));
        // allowHTTP1: a client that picks http/1.1 gets node:http's request and
        // response, whatever the handler's declared types say.
        else handle(req as unknown as IncomingMessage, res as unknown as ServerResponse);
      },
    );
    secure.on('secureConnection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    server = secure;
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    // The certificate names localhost, as the real API's names its host.
    url: options.tls === undefined ? `http://127.0.0.1:${port}` : `https://localhost:${port}`,
    received,
    arrived,
    queue: (responder) => {
      queued.push(responder);
    },
    useDefault: (responder) => {
      fallback = responder;
    },
    reset: () => {
      received.length = 0;
      arrived.length = 0;
      queued.length = 0;
      fallback = defaultResponder;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function modelOf(request: ReceivedRequest): string {
  try {
    const parsed = JSON.parse(request.body.toString()) as { model?: unknown };
    return typeof parsed.model === 'string' ? parsed.model : 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

export function messageBody(
  model: string,
  text: string,
  usage: Usage = { input_tokens: 12, output_tokens: 7 },
) {
  return {
    id: 'msg_fake_0001',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage,
  };
}

export const defaultResponder: Responder = (request, res) => {
  if (request.url.startsWith('/v1/messages/count_tokens')) {
    json(res, 200, { input_tokens: 42 });
    return;
  }
  json(res, 200, messageBody(modelOf(request), 'Hello from the fake upstream.'));
};

export function json(
  res: UpstreamResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(payload.length),
    'request-id': UPSTREAM_REQUEST_ID,
    ...headers,
  });
  res.end(payload);
}

export function errorResponder(
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
) {
  return ((_request, res) =>
    json(res, status, { type: 'error', error: { type, message } }, headers)) satisfies Responder;
}

export interface SseEvent {
  readonly event: string;
  readonly data: unknown;
}

/** The event sequence of a streamed text message, as the real API sends it. */
export function textStreamEvents(
  model: string,
  pieces: readonly string[],
  usage: Usage = { input_tokens: 12, output_tokens: 7 },
): SseEvent[] {
  return [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          ...messageBody(model, '', { ...usage, output_tokens: 1 }),
          content: [],
          stop_reason: null,
        },
      },
    },
    {
      event: 'content_block_start',
      data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    },
    { event: 'ping', data: { type: 'ping' } },
    ...pieces.map((text) => ({
      event: 'content_block_delta',
      data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } },
    })),
    { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: usage.output_tokens },
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  ];
}

export function encodeSse(event: SseEvent): string {
  return `event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/**
 * Streams `events`; before sending event i (i >= 1), awaits `gate(i)`. A test
 * can hold the stream open until the client has seen earlier events, which
 * proves event-by-event delivery without measuring time.
 */
export function sseResponder(
  events: readonly SseEvent[],
  gate: (index: number) => Promise<void> = async () => {},
): Responder {
  return async (_request, res) => {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'request-id': UPSTREAM_REQUEST_ID,
    });
    for (let i = 0; i < events.length; i += 1) {
      if (i > 0) await gate(i);
      res.write(encodeSse(events[i] as SseEvent));
    }
    res.end();
  };
}

/** Streams with a fixed pause between events (the paced mock of the guide). */
export function pacedSseResponder(events: readonly SseEvent[], intervalMs: number): Responder {
  return sseResponder(events, () => new Promise((resolve) => setTimeout(resolve, intervalMs)));
}
