// The processor's gRPC server (processor/grpc) at the wire: framing, status
// codes, cancellation and shutdown, driven by a raw HTTP/2 client so that
// every byte is the test's own. The ext_proc tests and the e2e tier run it
// with grpc-js's client and with Envoy.
import {
  type ClientHttp2Session,
  connect,
  constants,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
  type Settings,
} from 'node:http2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseAddress } from '../../processor/config/address.ts';
import type { ServerCall } from '../../processor/grpc/call.ts';
import {
  defineMethod,
  type GrpcServer,
  type GrpcServerOptions,
  type Keepalive,
  type Method,
  RAPID_RESET_GUARD,
  startGrpcServer,
} from '../../processor/grpc/server.ts';
import { createHealth } from '../../processor/health/service.ts';
import { type BlackholeProxy, startBlackholeProxy } from '../support/blackhole-proxy.ts';

const ECHO = '/test.Echo/Upper';
const MAX_MESSAGE_BYTES = 1024;

type EchoCall = ServerCall<string, string>;

/** Answers each message with it in upper case; finishes when the client has. */
function echoMethod(seen: EchoCall[] = []): Method {
  return defineMethod<string, string>({
    deserialize: (bytes) => {
      const text = bytes.toString('utf8');
      if (text === 'undecodable') throw new Error('bad message');
      return text;
    },
    serialize: (text) => {
      if (text === 'UNENCODABLE') throw new Error('bad response');
      return Buffer.from(text, 'utf8');
    },
    handle: (call) => {
      seen.push(call);
      call.on('data', (text: string) => {
        if (text === 'throw') throw new Error('handler bug');
        if (text === 'bye') {
          call.write('BYE');
          call.end();
          return;
        }
        // 'big N': one message of N bytes, then the status, while the client is still sending.
        if (text.startsWith('big ')) {
          call.write('X'.repeat(Number(text.slice(4))));
          call.end();
          return;
        }
        if (text !== 'hold') call.write(text.toUpperCase());
      });
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
  });
}

function frame(payload: Buffer | string, flag = 0): Buffer {
  const bytes = Buffer.from(payload);
  const framed = Buffer.alloc(5 + bytes.length);
  framed[0] = flag;
  framed.writeUInt32BE(bytes.length, 1);
  bytes.copy(framed, 5);
  return framed;
}

interface Exchange {
  readonly messages: string[];
  readonly status: Promise<{ code: number; message: string | undefined }>;
  /** The RST_STREAM code the stream closed with, once closed. */
  readonly closed: Promise<number | undefined>;
  write(bytes: Buffer): void;
  end(): void;
  reset(): void;
  /** RST_STREAM INTERNAL_ERROR alone, as Envoy resets a stream it fails (Node's close() half-closes first). */
  abort(): void;
}

/** One call on `session`; the status comes from the trailers or a trailers-only answer. */
function openCall(
  session: ClientHttp2Session,
  path = ECHO,
  metadata: Readonly<Record<string, string>> = {},
): Exchange {
  const stream = session.request({
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...metadata,
  });
  const messages: string[] = [];
  let pending = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const length = pending.readUInt32BE(1);
      messages.push(pending.subarray(5, 5 + length).toString('utf8'));
      pending = pending.subarray(5 + length);
    }
  });
  const statusOf = (headers: IncomingHttpHeaders) => {
    const message = headers['grpc-message'];
    return {
      code: Number(headers['grpc-status']),
      message: typeof message === 'string' ? decodeURIComponent(message) : undefined,
    };
  };
  const status = new Promise<{ code: number; message: string | undefined }>((resolve, reject) => {
    stream.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined) resolve(statusOf(headers));
    });
    stream.on('trailers', (headers) => resolve(statusOf(headers)));
    stream.on('close', () => reject(new Error(`stream closed without a status (code ${stream.rstCode})`)));
    stream.on('error', () => {});
  });
  const closed = new Promise<number | undefined>((resolve) =>
    stream.on('close', () => resolve(stream.rstCode)),
  );
  // Tests that reset the call never ask for its status.
  status.catch(() => {});
  stream.resume();
  return {
    messages,
    status,
    closed,
    write: (bytes) => stream.write(bytes),
    end: () => stream.end(),
    // CANCEL, as Envoy resets (NO_ERROR would half-close first).
    reset: () => stream.close(constants.NGHTTP2_CANCEL),
    abort: () => stream.destroy(new Error('the client failed')),
  };
}

const servers: GrpcServer[] = [];
const sessions: ClientHttp2Session[] = [];
afterEach(() => {
  for (const session of sessions.splice(0)) session.destroy();
  for (const server of servers.splice(0)) server.forceShutdown();
});

async function start(
  methods: GrpcServerOptions['methods'],
  options: {
    keepalive?: Keepalive;
    via?: (address: string) => Promise<string>;
    onError?: GrpcServerOptions['onError'];
    maxMessageBytes?: number;
  } = {},
) {
  const server = await startGrpcServer({
    address: parseAddress('127.0.0.1:0'),
    maxMessageBytes: options.maxMessageBytes ?? MAX_MESSAGE_BYTES,
    methods,
    ...(options.keepalive === undefined ? {} : { keepalive: options.keepalive }),
    ...(options.onError === undefined ? {} : { onError: options.onError }),
  });
  servers.push(server);
  const address = `127.0.0.1:${server.port}`;
  const session = connectTo(options.via === undefined ? address : await options.via(address));
  return { server, session, address };
}

/** Another client connection, with its own HTTP/2 settings if given. */
function connectTo(address: string, settings?: Settings): ClientHttp2Session {
  const session = connect(`http://${address}`, settings === undefined ? {} : { settings });
  session.on('error', () => {});
  sessions.push(session);
  return session;
}

/** How long expect.poll waits here for what a connection does next. */
const SOON = { timeout: 2_000, interval: 10 };

describe('the gRPC server: framing and status', () => {
  it('reassembles a message sent a byte at a time and splits several sent in one write', async () => {
    const { session } = await start({ [ECHO]: echoMethod() });
    const call = openCall(session);
    for (const byte of frame('first')) call.write(Buffer.of(byte));
    call.write(Buffer.concat([frame('second'), frame(''), frame('third')]));
    call.end();
    expect(await call.status).toEqual({ code: 0, message: undefined });
    expect(call.messages).toEqual(['FIRST', 'SECOND', '', 'THIRD']);
  });

  it('takes a message of exactly the limit and ends a larger one with RESOURCE_EXHAUSTED, unread', async () => {
    const seen: EchoCall[] = [];
    const { session } = await start({ [ECHO]: echoMethod(seen) });
    const atLimit = openCall(session);
    atLimit.write(frame('a'.repeat(MAX_MESSAGE_BYTES)));
    atLimit.end();
    expect((await atLimit.status).code).toBe(0);
    expect(atLimit.messages).toEqual(['A'.repeat(MAX_MESSAGE_BYTES)]);

    const over = openCall(session);
    const received: string[] = [];
    over.write(frame('b'.repeat(MAX_MESSAGE_BYTES + 1)));
    await expect.poll(() => seen.length, SOON).toBe(2);
    seen[1]?.on('data', (text: string) => received.push(text));
    const status = await over.status;
    expect(status.code).toBe(8);
    expect(status.message).toMatch(/over the limit of 1024/);
    expect(received).toEqual([]);
  });

  it('refuses a compressed message with UNIMPLEMENTED and an undecodable one with INTERNAL', async () => {
    const { session } = await start({ [ECHO]: echoMethod() });
    const compressed = openCall(session);
    compressed.write(frame('zipped', 1));
    expect((await compressed.status).code).toBe(12);

    const undecodable = openCall(session);
    undecodable.write(frame('fine'));
    undecodable.write(frame('undecodable'));
    const status = await undecodable.status;
    expect(status).toEqual({ code: 13, message: 'could not decode the message' });
    expect(undecodable.messages).toEqual(['FINE']);
  });

  it('after its status, stops a client that is still sending with RST_STREAM NO_ERROR', async () => {
    const { session } = await start({ [ECHO]: echoMethod() });
    const call = openCall(session);
    call.write(frame('bye'));
    // The status arrives whole, before the reset (which Envoy would otherwise send itself).
    expect(await call.status).toEqual({ code: 0, message: undefined });
    expect(call.messages).toEqual(['BYE']);
    expect(await call.closed).toBe(constants.NGHTTP2_NO_ERROR);
  });

  it('fails the call, not the process, when a handler throws or a response cannot be encoded', async () => {
    const { session } = await start({ [ECHO]: echoMethod() });
    const throwing = openCall(session);
    throwing.write(frame('throw'));
    expect(await throwing.status).toEqual({ code: 13, message: 'the message could not be handled' });
    const unencodable = openCall(session);
    unencodable.write(frame('unencodable'));
    expect(await unencodable.status).toEqual({ code: 13, message: 'could not encode the response' });
    // The server goes on.
    const fine = openCall(session);
    fine.write(frame('still up'));
    fine.end();
    expect((await fine.status).code).toBe(0);
    expect(fine.messages).toEqual(['STILL UP']);
  });

  it('answers an unknown method UNIMPLEMENTED without calling anything', async () => {
    const seen: EchoCall[] = [];
    const { session } = await start({ [ECHO]: echoMethod(seen) });
    const call = openCall(session, '/test.Echo/Nothing');
    const status = await call.status;
    expect(status.code).toBe(12);
    expect(status.message).toMatch(/unknown method \/test\.Echo\/Nothing/);
    expect(seen).toEqual([]);
  });
});

describe('the gRPC server: cancellation and shutdown', () => {
  /** A call the handler holds open, and the handler's events of it from then on. */
  async function heldCall(listenFor: readonly string[]) {
    const seen: EchoCall[] = [];
    const { server, session } = await start({ [ECHO]: echoMethod(seen) });
    const call = openCall(session);
    call.write(frame('hold'));
    await expect.poll(() => seen.length, SOON).toBe(1);
    const events: string[] = [];
    for (const event of listenFor) seen[0]?.on(event, () => events.push(event));
    return { server, session, call, handled: seen[0] as EchoCall, events };
  }

  it('tells the handler a call was cancelled when the connection is lost', async () => {
    const { session, events } = await heldCall(['end', 'cancelled', 'finish', 'close']);
    session.destroy();
    await expect.poll(() => events, SOON).toContain('close');
    expect(events).toEqual(['cancelled', 'close']);
  });

  it('ends a call the client resets, and ignores writes to it afterwards', async () => {
    const { call, handled, events } = await heldCall(['end', 'cancelled', 'close']);
    call.reset();
    await expect.poll(() => events, SOON).toContain('close');
    // Node reports the peer's end of input before the reset: the handler hears
    // one or the other, then 'close'.
    expect(events.at(-1)).toBe('close');
    expect(events.filter((event) => event !== 'close')).toHaveLength(1);
    expect(() => {
      handled.write('late');
      handled.end();
    }).not.toThrow();
  });

  it('lets a call in flight finish after tryShutdown, and refuses new ones', async () => {
    const { server, session, call: inFlight } = await heldCall([]);
    let drained = false;
    server.tryShutdown(() => {
      drained = true;
    });
    // A new call refused proves the shutdown has begun; the call in flight still holds it open.
    const late = openCall(session);
    await expect(late.status).rejects.toThrow(/without a status/);
    expect(drained).toBe(false);
    inFlight.write(frame('still here'));
    inFlight.end();
    expect((await inFlight.status).code).toBe(0);
    expect(inFlight.messages).toEqual(['STILL HERE']);
    await expect.poll(() => drained, SOON).toBe(true);
  });

  it('cancels what is left at forceShutdown', async () => {
    const { server, call, events } = await heldCall(['cancelled']);
    server.forceShutdown();
    await expect(call.status).rejects.toThrow(/without a status/);
    await expect.poll(() => events, SOON).toContain('cancelled');
  });
});

describe('the gRPC server: keepalive', () => {
  const proxies: BlackholeProxy[] = [];
  afterEach(async () => {
    for (const proxy of proxies.splice(0)) await proxy.close();
  });

  it('keeps a connection whose peer answers its pings', async () => {
    const timeouts: unknown[] = [];
    const { session } = await start(
      { [ECHO]: echoMethod() },
      { keepalive: { intervalMs: 20, timeoutMs: 200, onTimeout: (peer) => timeouts.push(peer) } },
    );
    let pings = 0;
    session.on('ping', () => {
      pings += 1;
    });
    await expect.poll(() => pings, SOON).toBeGreaterThanOrEqual(5);
    const call = openCall(session);
    call.write(frame('still here'));
    call.end();
    expect(await call.status).toEqual({ code: 0, message: undefined });
    expect(call.messages).toEqual(['STILL HERE']);
    expect(timeouts).toEqual([]);
  });

  it('destroys a connection whose pings go unanswered, cancelling its calls, and says so first', async () => {
    const seen: EchoCall[] = [];
    const timeouts: Array<{ remoteAddress: string | undefined }> = [];
    let proxy: BlackholeProxy | undefined;
    const { session } = await start(
      { [ECHO]: echoMethod(seen) },
      {
        keepalive: { intervalMs: 20, timeoutMs: 100, onTimeout: (peer) => timeouts.push(peer) },
        via: async (address) => {
          proxy = await startBlackholeProxy(address);
          proxies.push(proxy);
          return proxy.address;
        },
      },
    );
    const call = openCall(session);
    call.write(frame('hold'));
    await expect.poll(() => seen.length, SOON).toBe(1);
    let cancelled = false;
    seen[0]?.on('cancelled', () => {
      cancelled = true;
    });
    const [connection] = proxy?.blackhole() ?? [];
    await expect.poll(() => connection?.targetOpen, SOON).toBe(false);
    expect(cancelled).toBe(true);
    expect(timeouts).toEqual([{ remoteAddress: '127.0.0.1' }]);
  });
});

describe('the health service on it', () => {
  it('watches: the status now, every change, SERVICE_UNKNOWN for an unknown name, all ended by closeWatches', async () => {
    const health = createHealth();
    const { session } = await start(health.methods);
    // HealthCheckRequest { service: '' } is an empty message; { service: 'x' } is 0a 01 78.
    const whole = openCall(session, '/grpc.health.v1.Health/Watch');
    whole.write(frame(Buffer.alloc(0)));
    const unknown = openCall(session, '/grpc.health.v1.Health/Watch');
    unknown.write(frame(Buffer.of(0x0a, 0x01, 0x78)));
    await expect.poll(() => [whole.messages.length, unknown.messages.length], SOON).toEqual([1, 1]);
    health.set('SERVING');
    await expect.poll(() => whole.messages.length, SOON).toBe(2);
    health.closeWatches();
    expect((await whole.status).code).toBe(0);
    expect((await unknown.status).code).toBe(0);
    // HealthCheckResponse.status: NOT_SERVING is 2, SERVING 1, SERVICE_UNKNOWN 3 (field 1, varint).
    expect(whole.messages.map((m) => Buffer.from(m).toString('hex'))).toEqual(['0802', '0801']);
    expect(unknown.messages.map((m) => Buffer.from(m).toString('hex'))).toEqual(['0803']);
  });
});

describe('the gRPC server: what is not gRPC', () => {
  it('answers a request that is not gRPC with 415 and no gRPC status, calling nothing', async () => {
    const seen: EchoCall[] = [];
    const { session } = await start({ [ECHO]: echoMethod(seen) });
    for (const contentType of ['application/json', 'text/plain', undefined]) {
      const stream = session.request({
        ':method': 'POST',
        ':path': ECHO,
        ...(contentType === undefined ? {} : { 'content-type': contentType }),
      });
      stream.on('error', () => {});
      stream.resume();
      stream.end(frame('hello'));
      const headers = await new Promise<IncomingHttpHeaders>((resolve) => stream.on('response', resolve));
      expect(headers[':status']).toBe(415);
      expect(headers['grpc-status']).toBeUndefined();
    }
    expect(seen).toEqual([]);
  });
});

describe('the gRPC server: deadlines', () => {
  /** A method that answers nothing and records what its call tells it. */
  function silentMethod(events: string[]): Method {
    return defineMethod<string, string>({
      deserialize: (bytes) => bytes.toString('utf8'),
      serialize: (text) => Buffer.from(text, 'utf8'),
      handle: (call) => {
        for (const event of ['data', 'end', 'cancelled', 'finish', 'close'])
          call.on(event, () => {
            events.push(event);
            // Whatever the handler does once cancelled goes nowhere.
            if (event === 'cancelled') {
              call.write('too late');
              call.end();
            }
          });
      },
    });
  }

  it('ends a call whose grpc-timeout passes with DEADLINE_EXCEEDED, cancelled for its handler', async () => {
    const events: string[] = [];
    const { session } = await start({ [ECHO]: silentMethod(events) });
    const call = openCall(session, ECHO, { 'grpc-timeout': '200m' });
    call.write(frame('anyone there?'));
    expect(await call.status).toEqual({ code: 4, message: 'deadline exceeded' });
    await call.closed;
    await vi.waitFor(() => expect(events).toEqual(['data', 'cancelled', 'close']));
    expect(call.messages).toEqual([]);
  });

  it('lets a call that ends in time end as usual, and refuses a grpc-timeout that is not one', async () => {
    const { session } = await start({ [ECHO]: echoMethod() });
    const inTime = openCall(session, ECHO, { 'grpc-timeout': '10S' });
    inTime.write(frame('quick'));
    inTime.end();
    expect(await inTime.status).toEqual({ code: 0, message: undefined });
    expect(inTime.messages).toEqual(['QUICK']);
    for (const timeout of ['1.5S', '123456789m', '10', 'soon']) {
      const malformed = openCall(session, ECHO, { 'grpc-timeout': timeout });
      malformed.write(frame('hello'));
      expect(await malformed.status).toEqual({ code: 13, message: `invalid grpc-timeout ${timeout}` });
      expect(malformed.messages).toEqual([]);
    }
  });
});

describe('the gRPC server: failures are told', () => {
  it('fails a call whose write fails: its handler hears an error, the client INTERNAL', async () => {
    const seen: EchoCall[] = [];
    const { session } = await start({ [ECHO]: echoMethod(seen) });
    const call = openCall(session);
    call.write(frame('first'));
    await vi.waitFor(() => expect(call.messages).toEqual(['FIRST']));
    const handled = seen[0] as EchoCall;
    const errors: string[] = [];
    handled.on('error', (error: Error) => errors.push(error.message));
    // A fault injected into the live stream: its next write fails, as a failing native write would.
    const stream = (handled as unknown as { stream: ServerHttp2Stream }).stream;
    stream.write = ((_chunk: unknown, done: (error: Error) => void) => {
      process.nextTick(done, new Error('injected write failure'));
      return false;
    }) as typeof stream.write;
    call.write(frame('second'));
    expect(await call.status).toEqual({ code: 13, message: 'could not write the message' });
    expect(errors).toEqual(['could not write the message']);
    expect(call.messages).toEqual(['FIRST']);
  });

  it('reports a stream the client resets with an error code, not one it cancels', async () => {
    const seen: EchoCall[] = [];
    const reported: Array<{ where: string; message: string }> = [];
    const { session } = await start(
      { [ECHO]: echoMethod(seen) },
      { onError: (error, where) => reported.push({ where, message: error.message }) },
    );
    const cancelled = openCall(session);
    cancelled.write(frame('hold'));
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    cancelled.reset();
    await cancelled.closed;
    const failed = openCall(session);
    failed.write(frame('hold'));
    await vi.waitFor(() => expect(seen).toHaveLength(2));
    failed.abort();
    await vi.waitFor(() =>
      expect(reported).toEqual([
        { where: 'stream', message: expect.stringMatching(/NGHTTP2_INTERNAL_ERROR/) },
      ]),
    );
  });
});

describe('the gRPC server: rapid resets', () => {
  /** `count` calls at a time, as Envoy makes them: the server ends each first; the client cancels `cancelEvery`th one. */
  async function traffic(session: ClientHttp2Session, count: number, cancelEvery: number) {
    const results = { answered: 0, cancelled: 0 };
    for (let batch = 0; batch < count / 100; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const call = openCall(session);
          if ((batch * 100 + i) % cancelEvery === 0) {
            call.write(frame('hold'));
            call.reset();
            await call.closed;
            results.cancelled += 1;
            return;
          }
          call.write(frame('bye'));
          expect(await call.status).toEqual({ code: 0, message: undefined });
          expect(call.messages).toEqual(['BYE']);
          expect(await call.closed).toBe(constants.NGHTTP2_NO_ERROR);
          results.answered += 1;
        }),
      );
    }
    return results;
  }

  it('serves thousands of calls on one connection, more client cancellations among them than Node allows by default', async () => {
    const reported: string[] = [];
    const { session } = await start(
      { [ECHO]: echoMethod() },
      { onError: (_error, where) => reported.push(where) },
    );
    let goaway = false;
    session.on('goaway', () => {
      goaway = true;
    });
    // 1,500 cancellations: more than Node's default burst of 1,000.
    expect(await traffic(session, 4_500, 3)).toEqual({ answered: 3_000, cancelled: 1_500 });
    expect(goaway).toBe(false);
    expect(session.closed).toBe(false);
    expect(reported).toEqual([]);
  }, 60_000);

  it('closes a connection whose client resets streams as fast as it opens them, and only that one', async () => {
    const reported: string[] = [];
    const { session: bystander, address } = await start(
      { [ECHO]: echoMethod() },
      { onError: (_error, where) => reported.push(where) },
    );
    const attacker = connectTo(address);
    const goaway = new Promise<number>((resolve) => attacker.once('goaway', resolve));
    const closed = new Promise((resolve) => attacker.once('close', resolve));
    // A safety stop: the guard must close the connection long before it.
    const limit = 10 * RAPID_RESET_GUARD.streamResetBurst;
    let sent = 0;
    while (!attacker.closed && !attacker.destroyed && sent < limit) {
      for (let i = 0; i < 100; i++) {
        const stream = attacker.request({
          ':method': 'POST',
          ':path': ECHO,
          'content-type': 'application/grpc',
        });
        stream.on('error', () => {});
        stream.close(constants.NGHTTP2_CANCEL);
        sent += 1;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(sent).toBeLessThan(limit);
    expect(sent).toBeGreaterThan(RAPID_RESET_GUARD.streamResetBurst);
    expect(await goaway).toBe(constants.NGHTTP2_INTERNAL_ERROR);
    await closed;
    await vi.waitFor(() => expect(reported).toContain('session'));
    // The server and its other connections go on.
    expect(await traffic(bystander, 100, 10)).toEqual({ answered: 90, cancelled: 10 });
  }, 60_000);
});

describe('the gRPC server: the reset after the status', () => {
  it('never cuts the last message or the trailers, even through a tiny flow-control window', async () => {
    const { address } = await start({ [ECHO]: echoMethod() });
    // Sixteen bytes of window per stream: every message waits for the client's WINDOW_UPDATEs.
    const session = connectTo(address, { initialWindowSize: 16 });
    for (const size of [0, 10, 11, 12, 16, 17, 20_000]) {
      const call = openCall(session);
      // The client is still sending when the server ends the call: the server resets it, after its status.
      call.write(frame(`big ${size}`));
      expect(await call.status).toEqual({ code: 0, message: undefined });
      expect(call.messages).toEqual(['X'.repeat(size)]);
      expect(await call.closed).toBe(constants.NGHTTP2_NO_ERROR);
    }
  });
});

describe("the gRPC server: a message's bytes", () => {
  interface Kept {
    readonly bytes: Buffer;
    /** What the bytes read while the message was being handled. */
    readonly during: string;
    /** Whether they were a view of a larger buffer (the received bytes) then. */
    readonly view: boolean;
  }

  /** A method whose messages are their bytes as received, kept past their event. */
  function keepingMethod(kept: Kept[]): Method {
    return defineMethod<Buffer, string>({
      deserialize: (bytes) => bytes,
      serialize: (text) => Buffer.from(text, 'utf8'),
      handle: (call) => {
        call.on('data', (bytes: Buffer) => {
          kept.push({ bytes, during: bytes.toString('utf8'), view: bytes.buffer.byteLength > bytes.length });
          call.write('ok');
        });
        call.on('end', () => call.end());
      },
    });
  }

  /** Sends `text` as the one message of a call to a keepingMethod and returns what it kept of it. */
  async function keptOf(text: string, maxMessageBytes = MAX_MESSAGE_BYTES): Promise<Kept | undefined> {
    const kept: Kept[] = [];
    const { session } = await start({ [ECHO]: keepingMethod(kept) }, { maxMessageBytes });
    const call = openCall(session);
    call.write(frame(text));
    call.end();
    expect((await call.status).code).toBe(0);
    expect(kept).toHaveLength(1);
    expect(kept[0]?.during).toBe(text);
    return kept[0];
  }

  it('hands over a message that arrives in one chunk as a view of the received bytes, never copied', async () => {
    const kept = await keptOf('a'.repeat(1000));
    expect(kept?.view).toBe(true);
    // Node's memory, not the server's: left as it is.
    expect(kept?.bytes.toString('utf8')).toBe('a'.repeat(1000));
  });

  it('joins a message that spans chunks once, and frees it as soon as its event is handled', async () => {
    // Over 16 KiB: more than one HTTP/2 DATA frame, each a chunk of its own.
    const kept = await keptOf('b'.repeat(20_000), 64 * 1024);
    // Its own buffer, exactly the message, then released: a view kept past the event reads empty.
    expect(kept?.view).toBe(false);
    expect(kept?.bytes.length).toBe(0);
  });

  it('keeps a message held during its event until the handler lets it go', async () => {
    const later: { bytes: Buffer; release: () => void }[] = [];
    const method = defineMethod<Buffer, string>({
      deserialize: (bytes) => bytes,
      serialize: (text) => Buffer.from(text, 'utf8'),
      handle: (call) => {
        call.on('data', (bytes: Buffer) => later.push({ bytes, release: call.hold() }));
        call.on('end', () => {
          const [held] = later;
          // Past its event, read as a handler answering later would.
          call.write(held?.bytes.toString('utf8') === 'c'.repeat(20_000) ? 'intact' : 'lost');
          held?.release();
          call.write(held?.bytes.length === 0 ? 'freed' : 'kept');
          call.end();
        });
      },
    });
    const { session } = await start({ [ECHO]: method }, { maxMessageBytes: 64 * 1024 });
    const call = openCall(session);
    call.write(frame('c'.repeat(20_000)));
    call.end();
    const status = await call.status;
    expect(status.code).toBe(0);
    expect(call.messages).toEqual(['intact', 'freed']);
  });
});
