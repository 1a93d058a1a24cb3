// A gRPC server for the processor, on node:http2: every request pays for
// its ext_proc streams, and grpc-js's per-call machinery (interceptors,
// metadata objects, promise chains per message) was the largest share of an
// empty processor's CPU per request, and a large one of the gateway's (the
// figures: docs/benchmarks.md, "Where the cost is" and "The gRPC server
// rule"). This serves the few methods the
// processor has, each a path with a handler; a call's messages are framed and
// decoded by call.ts, with protobufjs's codecs as before.
//
// The only peers are Envoy, the container's healthcheck and Kubernetes probes,
// all plain-text HTTP/2 (h2c) on a private network or a Unix socket.

import {
  createServer,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Address } from '../config/address.ts';
import { type MessageCodec, ServerCall, Status } from './call.ts';

/** One method's codec and handler. */
export interface MethodDefinition<Request, Response> extends MessageCodec<Request, Response> {
  /** Handles one call; the call's events say what happens to it. */
  readonly handle: (call: ServerCall<Request, Response>) => void;
}

/** What the server keeps of a call in flight: enough to cancel it. */
interface CallInFlight {
  cancel(): void;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * A method as the server sees it: each has its own message types, hidden
 * behind `open`, which starts a call on a stream, lets the server `track` it
 * and hands it to the method's handler. Made by `defineMethod`.
 */
export interface Method {
  readonly open: (
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    maxMessageBytes: number,
    track: (call: CallInFlight) => void,
  ) => void;
}

export function defineMethod<Request, Response>(definition: MethodDefinition<Request, Response>): Method {
  return {
    open: (stream, headers, maxMessageBytes, track) => {
      const call = new ServerCall(stream, headers, definition, maxMessageBytes);
      track(call);
      definition.handle(call);
    },
  };
}

/** What a generated service definition (proto-loader's, grpc-health-check's) gives of one method. */
export interface GeneratedMethod {
  readonly path: string;
  readonly requestDeserialize: (bytes: Buffer) => unknown;
  readonly responseSerialize: (message: never) => Buffer;
}

/**
 * The method `name` of a generated service definition, by its path, with
 * `handle`; the definition's codecs are untyped, `Request` and `Response`
 * say what they read and write.
 */
export function generatedMethod<Request, Response>(
  name: string,
  generated: GeneratedMethod | undefined,
  handle: (call: ServerCall<Request, Response>) => void,
): [string, Method] {
  if (generated === undefined) throw new Error(`the service definition has no method ${name}`);
  return [
    generated.path,
    defineMethod({
      deserialize: generated.requestDeserialize as (bytes: Buffer) => Request,
      serialize: generated.responseSerialize as (message: Response) => Buffer,
      handle,
    }),
  ];
}

export interface GrpcServerOptions {
  /** Where to listen (a TCP port 0: a free one). */
  readonly address: Address;
  /** By path: `/package.Service/Method`. */
  readonly methods: Readonly<Record<string, Method>>;
  /** The largest message accepted; a larger one ends its call with RESOURCE_EXHAUSTED. */
  readonly maxMessageBytes: number;
  /** Pings every connection and closes one whose peer does not answer; no pings without it. */
  readonly keepalive?: Keepalive;
  /**
   * Told of each connection (`session`) or stream that fails: a protocol
   * error (the rapid-reset guard's among them), a lost socket, a reset with
   * an error code (a client's CANCEL is not one). The calls on it are
   * cancelled either way; this is to count and log it.
   */
  readonly onError?: (error: Error, where: 'session' | 'stream') => void;
}

export interface Keepalive {
  /** Between the answer to one ping and the next ping. */
  readonly intervalMs: number;
  /** How long a ping may go unanswered before the connection is destroyed. */
  readonly timeoutMs: number;
  /** Told before an unanswered connection is destroyed (to log and count it). */
  readonly onTimeout?: (peer: { readonly remoteAddress: string | undefined }) => void;
}

export interface GrpcServer {
  /** The bound port (0 for a Unix socket). */
  readonly port: number;
  /**
   * Refuses new connections and sends every connection a GOAWAY, so no new
   * call starts; calls in flight go on. `done` runs when the last is over.
   */
  tryShutdown(done: () => void): void;
  /** Ends every call and connection now. */
  forceShutdown(): void;
}

/**
 * Node's guard against rapid resets (CVE-2023-44487), a token bucket per
 * connection: when it is empty the connection is closed with GOAWAY, and every
 * request on it fails. Envoy's ordinary traffic draws from it too: a bucket of
 * 10,000 tokens refilled at 1,000 a second closed a connection every few
 * seconds at 4,500 requests a second (docs/benchmarks.md, "Findings"), so the
 * rate must stay above what one processor can serve at all: a single thread,
 * whose floor is a few thousand streams a second per core (docs/benchmarks.md,
 * "Where the cost is"). A client that resets streams as fast as it opens them
 * costs the server next to nothing per stream and goes far faster; it still
 * empties the bucket within seconds (test/integration/grpc-server.test.ts).
 * Node's default (1,000, then 33 a second) closes connections under load.
 */
export const RAPID_RESET_GUARD = { streamResetBurst: 50_000, streamResetRate: 10_000 } as const;

const UNIMPLEMENTED_TRAILERS = {
  ':status': 200,
  'content-type': 'application/grpc',
  'grpc-status': String(Status.UNIMPLEMENTED),
};

export function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const calls = new Set<CallInFlight>();
  const sessions = new Set<Http2Session>();
  const server = createServer({
    ...RAPID_RESET_GUARD,
    // Node's accounting of a session's buffered memory refuses streams once
    // past it (10 MB by default); a 32 MB body in flight is normal here.
    maxSessionMemory: Number.MAX_SAFE_INTEGER,
  });
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    // A connection that fails is Envoy's to retry; its streams are cancelled.
    session.on('error', (error) => options.onError?.(error, 'session'));
    if (options.keepalive !== undefined && options.keepalive.intervalMs > 0) {
      keepAlive(session, options.keepalive);
    }
  });
  server.on('stream', (stream: ServerHttp2Stream, headers) => {
    stream.on('error', (error) => options.onError?.(error, 'stream'));
    const contentType = headers['content-type'];
    if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      // Not gRPC at all: gRPC over HTTP/2 answers 415, with no gRPC status.
      stream.respond({ ':status': 415 }, { endStream: true });
      return;
    }
    const method = options.methods[headers[':path'] ?? ''];
    if (method === undefined) {
      stream.respond(
        {
          ...UNIMPLEMENTED_TRAILERS,
          'grpc-message': encodeURIComponent(`unknown method ${headers[':path']}`),
        },
        { endStream: true },
      );
      return;
    }
    method.open(stream, headers, options.maxMessageBytes, (call) => {
      calls.add(call);
      call.once('close', () => calls.delete(call));
    });
  });

  const shutdown: GrpcServer['tryShutdown'] = (done) => {
    let pending = 1 + sessions.size;
    const settle = () => {
      pending -= 1;
      if (pending === 0) done();
    };
    server.close(() => settle());
    // server.close() waits for connections; GOAWAY lets them end once idle.
    for (const session of sessions) {
      session.once('close', settle);
      session.close();
    }
  };

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const ready = () => {
      server.off('error', reject);
      const bound = server.address();
      resolve({
        port: typeof bound === 'object' && bound !== null ? (bound as AddressInfo).port : 0,
        tryShutdown: shutdown,
        forceShutdown: () => {
          for (const call of calls) call.cancel();
          for (const session of sessions) session.destroy();
          server.close();
        },
      });
    };
    const { address } = options;
    if (address.kind === 'unix') server.listen(address.path, ready);
    else server.listen(address.port, address.host, ready);
  });
}

/**
 * Pings the session every `intervalMs` and destroys it when a ping goes
 * unanswered for `timeoutMs`. Without this, a connection whose peer is gone
 * without a FIN or RST (an Envoy host that vanished, a flow a NAT dropped)
 * stays open for ever, and so do the calls on it: they would hold their
 * memory and keep a graceful shutdown waiting. Destroying it cancels them.
 */
function keepAlive(session: Http2Session, keepalive: Keepalive): void {
  let next: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  const schedule = () => {
    next = setTimeout(ping, keepalive.intervalMs);
    next.unref();
  };
  const ping = () => {
    // Closing (a graceful shutdown) still pings: a dead peer must not keep the drain waiting.
    if (session.destroyed) return;
    let answered = false;
    const sent = session.ping((error) => {
      answered = true;
      clearTimeout(deadline);
      if (error === null) schedule();
    });
    if (!sent) {
      schedule();
      return;
    }
    deadline = setTimeout(() => {
      // An answer that arrived while the event loop was busy (a large body
      // being parsed) is read in the poll phase, which runs before
      // setImmediate's callbacks: a slow processor is not mistaken for a
      // dead peer.
      setImmediate(() => {
        if (answered || session.destroyed) return;
        keepalive.onTimeout?.({ remoteAddress: session.socket?.remoteAddress });
        session.destroy();
      });
    }, keepalive.timeoutMs);
    deadline.unref();
  };
  schedule();
  session.once('close', () => {
    clearTimeout(next);
    clearTimeout(deadline);
  });
}
