// HTTP/1.1 written byte for byte over a socket, for the tricks that fetch and
// node:http normalise away (dot segments, raw percent-escapes, repeated or
// mixed-case headers, absolute-form targets, conflicting framing, obs-fold).
import { connect } from 'node:net';

export interface RawResponse {
  readonly status: number;
  /** Whether the body is known to be whole (by content-length or the last chunk). */
  readonly complete: boolean;
  /** Names lower-cased, in order, repeats kept. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
  header(name: string): string | undefined;
}

export interface RawRequestOptions {
  /** Give up waiting for the response after this long (default 10 s). */
  readonly timeoutMs?: number;
  /** Write the request in these pieces, one after another (default: all at once). */
  readonly pieces?: readonly (string | Buffer)[];
}

/**
 * Writes `request` to 127.0.0.1:`port` and reads the first final response (1xx
 * interim responses skipped): until its body is complete, or until the server
 * closes the connection (send `connection: close`). Resolves with undefined if
 * none came.
 */
export function rawRequest(
  port: number,
  request: string | Buffer,
  options: RawRequestOptions = {},
): Promise<RawResponse | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), options.timeoutMs ?? 10_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // Envoy keeps a connection it refused open for a moment (delayed close): no need to wait.
      if (parseResponse(Buffer.concat(chunks))?.complete === true) socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseResponse(Buffer.concat(chunks)));
    });
    const pieces = options.pieces ?? [request];
    for (const piece of pieces) socket.write(piece);
  });
}

const CRLF2 = Buffer.from('\r\n\r\n');

export function parseResponse(data: Buffer): RawResponse | undefined {
  let rest = data;
  for (;;) {
    const end = rest.indexOf(CRLF2);
    if (end === -1) return undefined;
    const [statusLine = '', ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
    if (!Number.isInteger(status)) return undefined;
    const headers = lines.map((line): readonly [string, string] => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    });
    rest = rest.subarray(end + CRLF2.length);
    if (status >= 100 && status < 200) continue;
    const header = (name: string) => headers.find(([key]) => key === name)?.[1];
    const length = header('content-length');
    let body: Buffer;
    let complete = false;
    if (header('transfer-encoding')?.toLowerCase() === 'chunked') {
      body = dechunk(rest);
      complete = rest.includes('0\r\n\r\n');
    } else if (length !== undefined) {
      body = rest.subarray(0, Number(length));
      complete = rest.length >= Number(length);
    } else {
      body = rest;
    }
    return { status, headers, body, header, complete };
  }
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

export interface RequestParts {
  readonly method?: string;
  readonly target: string;
  /** Header lines, written exactly as given (name and value). */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly body?: string | Buffer;
  /** Add `content-length` for the body (default true). */
  readonly contentLength?: boolean;
  /** Add `host: localhost` (default true). */
  readonly host?: boolean;
  readonly version?: string;
}

/** One HTTP/1.1 request as bytes, with `connection: close`. */
export function buildRequest(parts: RequestParts): Buffer {
  const body = parts.body === undefined ? Buffer.alloc(0) : Buffer.from(parts.body);
  const lines = [`${parts.method ?? 'POST'} ${parts.target} ${parts.version ?? 'HTTP/1.1'}`];
  if (parts.host !== false) lines.push('host: localhost');
  for (const [name, value] of parts.headers ?? []) lines.push(`${name}: ${value}`);
  if (parts.contentLength !== false && parts.body !== undefined) lines.push(`content-length: ${body.length}`);
  lines.push('connection: close');
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

/** `body` as chunked transfer coding, in `pieces` chunks, then the trailer fields (none by default). */
export function chunked(
  body: string | Buffer,
  pieces = 3,
  trailers: ReadonlyArray<readonly [string, string]> = [],
): Buffer {
  const bytes = Buffer.from(body);
  const size = Math.max(1, Math.ceil(bytes.length / pieces));
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    const piece = bytes.subarray(at, at + size);
    out.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  const trailerLines = trailers.map(([name, value]) => `${name}: ${value}\r\n`).join('');
  out.push(Buffer.from(`0\r\n${trailerLines}\r\n`, 'latin1'));
  return Buffer.concat(out);
}

/** A client connection kept open by the test, for clients that write slowly or not at all. */
export interface RawConnection {
  write(data: string | Buffer): void;
  /**
   * The first final response, once complete, or what had arrived when the
   * connection closed (undefined if nothing had).
   */
  readonly response: Promise<RawResponse | undefined>;
  /** Settles when the connection is closed, by either side. */
  readonly closed: Promise<void>;
  /** Whether the connection is closed. */
  isClosed(): boolean;
  /** Every byte the server has sent so far. */
  received(): Buffer;
  destroy(): void;
}

/** Opens a connection to 127.0.0.1:`port` and resolves once it is established. */
export function openConnection(port: number): Promise<RawConnection> {
  return new Promise((resolveOpen, rejectOpen) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    let settleResponse: (response: RawResponse | undefined) => void = () => {};
    const response = new Promise<RawResponse | undefined>((resolve) => {
      settleResponse = resolve;
    });
    const closedPromise = new Promise<void>((resolve) => {
      socket.on('close', () => {
        closed = true;
        settleResponse(parseResponse(Buffer.concat(chunks)));
        resolve();
      });
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const parsed = parseResponse(Buffer.concat(chunks));
      if (parsed?.complete === true) settleResponse(parsed);
    });
    socket.on('error', (error) => {
      if (!socket.connecting) return;
      rejectOpen(error);
    });
    socket.once('connect', () =>
      resolveOpen({
        write: (data) => {
          if (!closed) socket.write(data);
        },
        response,
        closed: closedPromise,
        isClosed: () => closed,
        received: () => Buffer.concat(chunks),
        destroy: () => socket.destroy(),
      }),
    );
  });
}

/**
 * Writes `data` to `connection` one byte every `intervalMs`, until all is
 * written or the connection closes; resolves with how many bytes were written.
 */
export async function trickle(
  connection: RawConnection,
  data: string | Buffer,
  intervalMs: number,
): Promise<number> {
  const bytes = Buffer.from(data);
  let written = 0;
  while (written < bytes.length && !connection.isClosed()) {
    connection.write(bytes.subarray(written, written + 1));
    written += 1;
    await Promise.race([new Promise((resolve) => setTimeout(resolve, intervalMs)), connection.closed]);
  }
  return written;
}
