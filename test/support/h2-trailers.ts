// An HTTP/2 request whose trailer block is written byte for byte, for the
// trailers node:http2 refuses to send (pseudo-headers, connection-specific
// names, upper case) and for a request with no DATA frame at all. node:http2
// sends the request's HEADERS (and DATA), then this helper adds a HEADERS
// frame with END_STREAM of its own on the same stream, between two of node's
// frames; the response is read by node:http2 as usual. The block uses HPACK
// literals without indexing, so node's and the peer's header tables stay in
// step.
import { connect as connectHttp2, type IncomingHttpHeaders } from 'node:http2';
import { connect as connectTcp, type Socket } from 'node:net';
import { Duplex } from 'node:stream';

export type Field = readonly [name: string, value: string];

export interface H2Response {
  /** 0 when no response came: the stream was reset or the connection closed. */
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The RST_STREAM code if the peer reset the stream, else undefined. */
  readonly resetCode: number | undefined;
  /** The GOAWAY code if the peer closed the whole connection, else undefined. */
  readonly goawayCode: number | undefined;
}

export interface TrailerRequest {
  /** http://127.0.0.1:<port> */
  readonly origin: string;
  /** Request headers, pseudo-headers included (:method and :path at least). */
  readonly headers: Readonly<Record<string, string | string[]>>;
  /** The body, sent as DATA before the trailers; none at all when undefined or empty. */
  readonly body?: string | Buffer;
  /** The trailer block, exactly as given (names are not lower-cased or checked). */
  readonly trailers: readonly Field[];
}

const PREFACE_LENGTH = 24;
const FRAME_HEADER_LENGTH = 9;
const HEADERS = 0x1;
const DATA = 0x0;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;

/** An HPACK integer with an `prefixBits`-bit prefix (RFC 7541, 5.1), first byte's high bits zero. */
function hpackInteger(value: number, prefixBits: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([value]);
  const bytes = [max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return Buffer.concat([hpackInteger(bytes.length, 7), bytes]);
}

/** A header block of literals without indexing, new names (RFC 7541, 6.2.2). */
export function literalHeaderBlock(fields: readonly Field[]): Buffer {
  return Buffer.concat(
    fields.flatMap(([name, value]) => [Buffer.from([0x00]), hpackString(name), hpackString(value)]),
  );
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_LENGTH);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

interface SeenFrame {
  readonly type: number;
  readonly streamId: number;
}

/**
 * A socket that node:http2 writes through: it follows the client's frames and
 * can slip a frame of ours in at the next frame boundary.
 */
class FrameTap extends Duplex {
  private readonly socket: Socket;
  private prefaceLeft = PREFACE_LENGTH;
  private header = Buffer.alloc(0);
  private payloadLeft = 0;
  private current: SeenFrame | undefined;
  private pending: Buffer | undefined;
  private readonly waiters: Array<{ match: (f: SeenFrame) => boolean; resolve: () => void }> = [];

  constructor(socket: Socket) {
    super();
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.push(chunk));
    socket.on('end', () => this.push(null));
    socket.on('error', (error) => this.destroy(error));
  }

  /** Resolves once a frame matching `match` has gone to the server. */
  sent(match: (f: SeenFrame) => boolean): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** Writes `bytes` to the server at the next frame boundary of the client's output. */
  inject(bytes: Buffer): void {
    if (this.atBoundary()) this.socket.write(bytes);
    else this.pending = Buffer.concat([this.pending ?? Buffer.alloc(0), bytes]);
  }

  private atBoundary(): boolean {
    return this.prefaceLeft === 0 && this.header.length === 0 && this.current === undefined;
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const out: Buffer[] = [];
    let start = 0;
    let at = 0;
    const finished: SeenFrame[] = [];
    while (at < chunk.length) {
      if (this.prefaceLeft > 0) {
        const take = Math.min(this.prefaceLeft, chunk.length - at);
        this.prefaceLeft -= take;
        at += take;
      } else if (this.current === undefined) {
        const take = Math.min(FRAME_HEADER_LENGTH - this.header.length, chunk.length - at);
        this.header = Buffer.concat([this.header, chunk.subarray(at, at + take)]);
        at += take;
        if (this.header.length === FRAME_HEADER_LENGTH) {
          this.payloadLeft = this.header.readUIntBE(0, 3);
          this.current = {
            type: this.header.readUInt8(3),
            streamId: this.header.readUInt32BE(5) & 0x7fffffff,
          };
          this.header = Buffer.alloc(0);
        }
      } else {
        const take = Math.min(this.payloadLeft, chunk.length - at);
        this.payloadLeft -= take;
        at += take;
      }
      if (this.current !== undefined && this.payloadLeft === 0) {
        finished.push(this.current);
        this.current = undefined;
        if (this.pending !== undefined) {
          out.push(chunk.subarray(start, at), this.pending);
          this.pending = undefined;
          start = at;
        }
      }
    }
    out.push(chunk.subarray(start));
    for (const piece of out) this.socket.write(piece);
    for (const seen of finished) {
      for (const waiter of [...this.waiters]) {
        if (waiter.match(seen)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    }
    callback();
  }

  override _final(callback: () => void): void {
    this.socket.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}

/**
 * Sends the request's headers and body with node:http2, then the trailer
 * block as given, and reads the response (or the stream's reset).
 */
export async function h2WithRawTrailers(request: TrailerRequest): Promise<H2Response> {
  const url = new URL(request.origin);
  const socket = connectTcp(Number(url.port), url.hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const tap = new FrameTap(socket);
  const session = connectHttp2(request.origin, { createConnection: () => tap });
  session.on('error', () => {});
  let goawayCode: number | undefined;
  session.on('goaway', (code: number) => {
    goawayCode = code;
  });
  try {
    // The first stream a client opens on a fresh connection is stream 1.
    const id = 1;
    const body = request.body === undefined ? Buffer.alloc(0) : Buffer.from(request.body);
    // Once node's last frame of the request is out, the trailers follow it.
    const lastFrame = tap.sent((f) => f.type === (body.length === 0 ? HEADERS : DATA) && f.streamId === id);
    const stream = session.request({ ...request.headers });
    if (body.length > 0) stream.write(body);
    await lastFrame;
    const response = new Promise<H2Response>((resolve) => {
      let status = 0;
      let headers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on('response', (received) => {
        status = Number(received[':status']);
        headers = received;
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', () => {});
      const done = (resetCode: number | undefined) =>
        resolve({ status, headers, body: Buffer.concat(chunks).toString(), resetCode, goawayCode });
      stream.on('end', () => done(undefined));
      stream.on('close', () => done(stream.rstCode === 0 ? undefined : stream.rstCode));
    });
    tap.inject(frame(HEADERS, END_STREAM | END_HEADERS, id, literalHeaderBlock(request.trailers)));
    return await response;
  } finally {
    session.destroy();
  }
}
