// A recording HTTP proxy for end-to-end tests (a fixture): put between a
// client we cannot instrument (Claude Code, a native binary) and the gateway,
// it records what the client sent (method, path, headers, the SHA-256 of the
// exact body bytes) and what the gateway answered (status, headers, body
// length), and passes both through unchanged, streaming responses as they come.
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exchange {
  readonly method: string;
  /** The path and query the client asked for. */
  readonly url: string;
  /** Request header names lower-cased, in arrival order, repeats kept. */
  readonly requestHeaders: ReadonlyArray<readonly [string, string]>;
  readonly requestSha256: string;
  readonly requestLength: number;
  /** Filled in once the gateway has answered. */
  status?: number | undefined;
  responseHeaders?: ReadonlyArray<readonly [string, string]> | undefined;
  responseLength?: number | undefined;
}

export interface RecordingProxy {
  /** http://127.0.0.1:<port>: use it in place of the target's origin. */
  readonly origin: string;
  readonly exchanges: Exchange[];
  close(): Promise<void>;
}

const pairs = (raw: readonly string[]): Array<readonly [string, string]> => {
  const list: Array<readonly [string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) list.push([(raw[i] ?? '').toLowerCase(), raw[i + 1] ?? '']);
  return list;
};

/** Set by the proxy itself for the next hop. */
const REWRITTEN: ReadonlySet<string> = new Set(['host', 'content-length', 'transfer-encoding']);

export async function startRecordingProxy(targetOrigin: string): Promise<RecordingProxy> {
  const target = new URL(targetOrigin);
  const exchanges: Exchange[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const exchange: Exchange = {
        method: req.method ?? '',
        url: req.url ?? '',
        requestHeaders: pairs(req.rawHeaders),
        requestSha256: createHash('sha256').update(body).digest('hex'),
        requestLength: body.length,
      };
      exchanges.push(exchange);
      // The client's headers as sent (raw, repeats kept); the body was read
      // whole, so it goes on with a content-length rather than chunked.
      const headers: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i] ?? '';
        if (!REWRITTEN.has(name.toLowerCase())) headers.push(name, req.rawHeaders[i + 1] ?? '');
      }
      headers.push('host', target.host);
      if (body.length > 0 || req.method === 'POST') headers.push('content-length', String(body.length));
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
        (answer) => {
          exchange.status = answer.statusCode;
          exchange.responseHeaders = pairs(answer.rawHeaders);
          let length = 0;
          answer.on('data', (chunk: Buffer) => {
            length += chunk.length;
          });
          answer.on('end', () => {
            exchange.responseLength = length;
          });
          res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
