// Graceful shutdown through the real Envoy: the processor gets SIGTERM while
// a request is in flight, and the request completes; the processor exits 0;
// what comes after fails closed. A response still streaming when the
// processor is gone completes, and its usage reaches the processor that is up
// when it ends.
import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256, sseResponder, textStreamEvents } from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, type GatewayStack, seedRequest, startStack } from '../support/gateway-stack.ts';

let stack: GatewayStack;
afterEach(async () => {
  await stack?.stop();
});

/** One of Envoy's ext_proc counters (http.gateway.ext_proc.<name>). */
async function extProcStat(name: string): Promise<number> {
  const text = await stack.envoy.admin.get(`/stats?filter=ext_proc\\.${name}$`);
  const match = /: (\d+)/.exec(text);
  if (match === null) throw new Error(`no ext_proc stat ${name} in ${JSON.stringify(text)}`);
  return Number(match[1]);
}

/** Once Envoy counts more ext_proc messages received than `answered`: the processor has answered the headers. */
function headersDecided(answered: number): Promise<void> {
  return expect
    .poll(() => extProcStat('stream_msgs_received'), {
      timeout: 5_000,
      interval: 25,
      message: 'the headers decision',
    })
    .toBeGreaterThan(answered);
}

function processorExit(): Promise<number | null> {
  const child = stack.processor.process;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

const shuttingDown = (entry: Record<string, unknown>) =>
  typeof entry.msg === 'string' && entry.msg.startsWith('shutting down');

describe('SIGTERM with a request in flight', () => {
  it('lets a request whose body is still arriving complete, exits 0, then fails closed', async () => {
    stack = await startStack();
    const body = Buffer.from(JSON.stringify(seedRequest()));
    const half = Math.floor(body.length / 2);
    const url = new URL(`${stack.baseUrl}/v1/messages`);
    const answered = await extProcStat('stream_msgs_received');

    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': String(body.length),
            'x-api-key': GATEWAY_TOKEN,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      req.on('error', reject);
      req.write(body.subarray(0, half));
      // The processor has answered the headers; Envoy is buffering the body.
      void headersDecided(answered)
        .then(async () => {
          stack.processor.process.kill('SIGTERM');
          await stack.waitForLog(shuttingDown);
          req.end(body.subarray(half));
        })
        .catch(reject);
    });

    const { status } = await response;
    expect(status).toBe(200);
    expect(stack.upstream.received).toHaveLength(1);
    expect(stack.upstream.received[0]?.sha256).toBe(sha256(body));
    expect(await processorExit()).toBe(0);
    const [stopped] = await stack.waitForLog((entry) => entry.msg === 'processor stopped');
    expect(stopped?.outcome).toBe('drained');

    // No processor now: fail closed, nothing reaches the upstream.
    const after = await fetch(`${stack.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': GATEWAY_TOKEN },
      body: JSON.stringify(seedRequest()),
    });
    expect(after.status).toBe(503);
    expect(await after.json()).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(stack.upstream.received).toHaveLength(1);
  });

  /** Starts a held SSE response and reads its first event; `release` lets the rest come. */
  async function heldStream() {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const events = textStreamEvents('claude-sonnet-4-6', ['Neon ', 'is ', 'a ', 'database.']);
    stack.upstream.queue(
      sseResponder(events, async (index) => {
        if (index === 3) await held;
      }),
    );
    const response = await fetch(`${stack.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': GATEWAY_TOKEN },
      body: JSON.stringify(seedRequest('claude-sonnet-4-6', { stream: true })),
    });
    expect(response.status).toBe(200);
    const reader = response.body?.getReader();
    if (reader === undefined) throw new Error('no body');
    const decoder = new TextDecoder();
    const first = decoder.decode((await reader.read()).value);
    const rest = async () => {
      let text = first;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return text;
        text += decoder.decode(value, { stream: true });
      }
    };
    return { release, rest };
  }

  const complete = (text: string) => {
    expect(text).toContain('"text":"database."');
    expect(text.trimEnd().endsWith('data: {"type":"message_stop"}')).toBe(true);
  };

  it('exits once its requests are decided; a stream still passing completes and is recorded by the next processor', async () => {
    stack = await startStack();
    const { release, rest } = await heldStream();
    stack.processor.process.kill('SIGTERM');
    // Nothing is left to decide: the processor ends Envoy's access-log stream and exits.
    expect(await processorExit()).toBe(0);
    const [stopped] = await stack.waitForLog((entry) => entry.msg === 'processor stopped');
    expect(stopped?.outcome).toBe('drained');

    await stack.startProcessor();
    release();
    complete(await rest());
    // Envoy read the stream's usage itself; its entry goes to the processor that is up now.
    const [access] = await stack.waitForLog(
      (entry) => entry.msg === 'access' && entry.streamed === true,
      10_000,
    );
    expect(access).toMatchObject({
      complete: true,
      status: 200,
      usage: { input_tokens: 12, output_tokens: 7 },
    });
  });

  it('past its deadline the processor exits: an undecided request fails closed, a stream completes', async () => {
    stack = await startStack({ config: { processor: { shutdown_timeout_seconds: 1 } } });
    const { release, rest } = await heldStream();
    // A request whose body never finishes keeps its policy stream open.
    const body = Buffer.from(JSON.stringify(seedRequest()));
    const answered = await extProcStat('stream_msgs_received');
    const undecided = new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        new URL(`${stack.baseUrl}/v1/messages`),
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': String(body.length),
            'x-api-key': GATEWAY_TOKEN,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.write(body.subarray(0, 10));
    });
    await headersDecided(answered);
    stack.processor.process.kill('SIGTERM');
    expect(await processorExit()).toBe(0);
    const [stopped] = await stack.waitForLog((entry) => entry.msg === 'processor stopped');
    expect(stopped?.outcome).toBe('deadline');
    expect(await undecided).toBe(503);
    expect(stack.upstream.received).toHaveLength(1);

    release();
    complete(await rest());
  });
});
