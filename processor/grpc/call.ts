// One gRPC call on one HTTP/2 stream: length-prefixed messages in, messages
// and a status out. Only what the processor's peers use is here: no
// compression (Envoy sends none; a compressed message is refused with
// UNIMPLEMENTED). A deadline the client sends (`grpc-timeout`: health probes
// do; Envoy's ext_proc and access-log streams do not) ends the call with
// DEADLINE_EXCEEDED.
//
// Events: 'data' (a decoded message), 'end' (the peer has sent all it will),
// 'cancelled' (the stream went away before this side finished: a reset, a
// lost connection, a forced shutdown, the deadline), 'error' (a message this
// side could not take: too large, compressed, undecodable; or a write that
// failed; the call is then finished with that status), 'finish' (this side
// has sent its status), 'close' (the stream is gone, always last).
//
// A message's Buffer fields (a request body) are views of the received bytes,
// never copies, and are valid while its 'data' event is being handled: a
// message that spanned DATA frames is freed as soon as its listeners return
// (see `release`), so a handler that answers it later holds it (`hold`).
import { EventEmitter } from 'node:events';
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';

/** gRPC status codes used here (grpc/doc/statuscodes.md). */
export const Status = {
  OK: 0,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
} as const;

export interface CallError {
  readonly code: number;
  readonly details: string;
}

/** How a method's messages are read and written. */
export interface MessageCodec<Request, Response> {
  readonly deserialize: (bytes: Buffer) => Request;
  readonly serialize: (message: Response) => Buffer;
}

const PREFIX_BYTES = 5;
/** grpc-timeout's units (gRPC over HTTP/2), in milliseconds. */
const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};
/** A positive integer of at most 8 digits, then the unit. */
const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const EMPTY = Buffer.alloc(0);
const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc' };

export class ServerCall<Request, Response> extends EventEmitter {
  /** Set once this side has sent its status (or the stream is gone). */
  private finished = false;
  private headersSent = false;
  private trailers: Record<string, string> = { 'grpc-status': '0' };
  // Received bytes not yet framed into a message. A message that spans many
  // DATA frames (a 32 MB body) is kept as a list and joined once, when whole.
  private chunks: Buffer[] = [];
  private buffered = 0;
  private expected = -1;
  private deadline: NodeJS.Timeout | undefined;
  /** The buffer `take` joined the message being handled into, if it spanned chunks. */
  private joined: Buffer | undefined;

  private readonly stream: ServerHttp2Stream;
  private readonly codec: MessageCodec<Request, Response>;
  private readonly maxMessageBytes: number;
  /** The call's request headers (gRPC metadata). */
  readonly metadata: IncomingHttpHeaders;

  constructor(
    stream: ServerHttp2Stream,
    metadata: IncomingHttpHeaders,
    codec: MessageCodec<Request, Response>,
    maxMessageBytes: number,
  ) {
    super();
    this.stream = stream;
    this.metadata = metadata;
    this.codec = codec;
    this.maxMessageBytes = maxMessageBytes;
    stream.on('wantTrailers', () => {
      stream.sendTrailers(this.trailers);
      this.stopPeer();
    });
    stream.on('data', (chunk: Buffer) => this.receive(chunk));
    // The peer's half-close. (Node also ends the readable side just before
    // it reports a reset; a handler may hear 'end' and then the call is gone.)
    stream.on('end', () => {
      if (!this.finished && !stream.closed) this.emit('end');
    });
    // A reset by the peer (an Envoy without graceful ext_proc close resets
    // every stream it is done with) reaches here as an error before 'close';
    // 'close' says all there is to say.
    stream.on('error', () => {});
    stream.on('close', () => {
      clearTimeout(this.deadline);
      if (!this.finished) {
        this.finished = true;
        this.emit('cancelled');
      }
      this.emit('close');
    });
    const timeout = metadata['grpc-timeout'];
    if (timeout !== undefined) this.startDeadline(timeout);
  }

  /** Whether nothing more can be written: this side has sent its status, or the stream is gone. */
  get done(): boolean {
    return this.finished || this.stream.closed;
  }

  /** A metadata value sent with the call, if any. */
  header(name: string): string | undefined {
    const value = this.metadata[name];
    return Array.isArray(value) ? value[0] : value;
  }

  write(message: Response): void {
    if (this.finished || this.stream.closed) return;
    let payload: Buffer;
    try {
      payload = this.codec.serialize(message);
    } catch {
      // Fail closed: Envoy treats the failed stream as the processor's error.
      this.fail({ code: Status.INTERNAL, details: 'could not encode the response' });
      return;
    }
    const framed = Buffer.allocUnsafe(PREFIX_BYTES + payload.length);
    framed[0] = 0;
    framed.writeUInt32BE(payload.length, 1);
    payload.copy(framed, PREFIX_BYTES);
    this.sendHeaders();
    this.stream.write(framed, this.written);
  }

  /**
   * A write that fails on a stream still open fails the call: the handler
   * hears 'error', the client INTERNAL, and later writes are dropped. (A
   * stream that is reset or destroyed under a pending write closes first,
   * and the call was cancelled then; Node reports the write as ECANCELED
   * after.)
   */
  private readonly written = (error: Error | null | undefined): void => {
    if (error !== null && error !== undefined && !this.finished)
      this.fail({ code: Status.INTERNAL, details: 'could not write the message' });
  };

  /** Finishes the call with OK, or with `error`'s status. */
  end(error?: CallError): void {
    if (this.finished) return;
    this.finished = true;
    this.emit('finish');
    this.sendStatus(error);
  }

  private sendStatus(error: CallError | undefined): void {
    clearTimeout(this.deadline);
    if (this.stream.closed) return;
    const status = error === undefined ? Status.OK : error.code;
    const trailers: Record<string, string> = { 'grpc-status': String(status) };
    if (error !== undefined) trailers['grpc-message'] = encodeURIComponent(error.details);
    if (!this.headersSent) {
      // Trailers-only: a call that ends before any message has one header block.
      this.headersSent = true;
      this.stream.respond({ ...RESPONSE_HEADERS, ...trailers }, { endStream: true });
      this.stopPeer();
      return;
    }
    this.trailers = trailers;
    this.stream.end();
  }

  /** Resets the stream at once, without a status (a forced shutdown). */
  cancel(): void {
    if (!this.stream.closed) this.stream.close(constants.NGHTTP2_CANCEL);
  }

  /**
   * After the status, tells a peer that is still sending to stop: RST_STREAM
   * with NO_ERROR, HTTP/2's way for a server that has answered before the
   * request ended (RFC 9113, 8.1). Envoy keeps an ext_proc stream open until
   * told, and otherwise resets it itself with INTERNAL_ERROR, which Node
   * turns into an error with a formatted stack trace, for every stream the
   * processor ends first: what that cost is in docs/benchmarks.md, "Findings".
   */
  private stopPeer(): void {
    // Not at once: called while Node is still writing the last frames, a
    // reset would overtake the trailers. Node sends what is pending first.
    setImmediate(() => {
      if (!this.stream.readableEnded) this.stream.close(constants.NGHTTP2_NO_ERROR);
    });
  }

  /**
   * The client's deadline: once it passes, the call is cancelled for the
   * handler and the client gets DEADLINE_EXCEEDED (a value that is not a
   * grpc-timeout fails the call at once with INTERNAL, as grpc-js does).
   */
  private startDeadline(value: string | string[]): void {
    const match = typeof value === 'string' ? TIMEOUT.exec(value) : null;
    if (match === null) {
      this.end({ code: Status.INTERNAL, details: `invalid grpc-timeout ${String(value)}` });
      return;
    }
    const ms = Number(match[1]) * (TIMEOUT_UNIT_MS[match[2] as string] as number);
    this.deadline = setTimeout(() => {
      if (this.finished) return;
      this.finished = true;
      this.chunks = [];
      this.buffered = 0;
      this.emit('cancelled');
      this.sendStatus({ code: Status.DEADLINE_EXCEEDED, details: 'deadline exceeded' });
    }, ms);
    this.deadline.unref();
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
  }

  private receive(chunk: Buffer): void {
    if (this.finished) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < PREFIX_BYTES) return;
        const prefix = this.take(PREFIX_BYTES);
        if (prefix[0] !== 0) {
          this.fail({ code: Status.UNIMPLEMENTED, details: 'compressed messages are not supported' });
          return;
        }
        this.expected = prefix.readUInt32BE(1);
        if (this.expected > this.maxMessageBytes) {
          this.fail({
            code: Status.RESOURCE_EXHAUSTED,
            details: `message of ${this.expected} bytes is over the limit of ${this.maxMessageBytes}`,
          });
          return;
        }
      }
      if (this.buffered < this.expected) return;
      const bytes = this.take(this.expected);
      this.expected = -1;
      const handled = this.handle(bytes);
      this.release();
      if (!handled || this.finished) return;
    }
  }

  /** Decodes one message and hands it to the listeners; false if the call failed. */
  private handle(bytes: Buffer): boolean {
    let message: Request;
    try {
      message = this.codec.deserialize(bytes);
    } catch {
      this.fail({ code: Status.INTERNAL, details: 'could not decode the message' });
      return false;
    }
    try {
      this.emit('data', message);
    } catch {
      // A handler that throws fails its call, never the process.
      this.fail({ code: Status.INTERNAL, details: 'the message could not be handled' });
      return false;
    }
    return true;
  }

  /**
   * Keeps the message being handled valid past its 'data' event, for a
   * handler that answers it later (a body scanned in slices, an answer that
   * waits for the one before): call it during the event, and the function it
   * returns once done with the message, which frees it then.
   */
  hold(): () => void {
    const joined = this.joined;
    this.joined = undefined;
    return () => {
      if (joined !== undefined && joined.buffer.byteLength > 0) (joined.buffer as ArrayBuffer).transfer(0);
    };
  }

  /**
   * Frees a joined message (a 200 KB body: the copy it must cost) once it has
   * been handled, instead of leaving it to the collector: bodies are almost
   * all external memory, and V8 answers external memory that piles up with
   * full collections (processor/runtime/garbage-collection.ts). Detaching the
   * buffer releases it at once; every view of it (the decoded body) then
   * reads as empty, never as someone else's bytes. Only a buffer of the
   * call's own: one within a received chunk belongs to Node.
   */
  private release(): void {
    if (this.joined === undefined) return;
    (this.joined.buffer as ArrayBuffer).transfer(0);
    this.joined = undefined;
  }

  /** The next `length` received bytes: a view of a chunk, or joined (once) when they span chunks. */
  private take(length: number): Buffer {
    if (length === 0) return EMPTY;
    this.buffered -= length;
    const first = this.chunks[0] as Buffer;
    if (first.length >= length) {
      if (first.length === length) this.chunks.shift();
      else this.chunks[0] = first.subarray(length);
      return first.subarray(0, length);
    }
    // Its own memory, not a slice of Node's shared pool: `release` may detach it.
    const out = Buffer.allocUnsafeSlow(length);
    if (length > PREFIX_BYTES) this.joined = out;
    let filled = 0;
    while (filled < length) {
      const chunk = this.chunks[0] as Buffer;
      const used = Math.min(chunk.length, length - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    return out;
  }

  private fail(error: CallError): void {
    this.chunks = [];
    this.buffered = 0;
    this.end(error);
    // An EventEmitter throws an 'error' nobody listens to.
    if (this.listenerCount('error') > 0) this.emit('error', new Error(error.details));
  }
}
