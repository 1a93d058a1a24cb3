// Graceful shutdown through the real Envoy: the processor gets SIGTERM while
// a request is in flight, and the request completes; the processor exits 0;
// what comes after fails closed.
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

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

function processorExit(): Promise<number | null> {
  const child = stack.processor.process;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** The processor's gauge of open ext_proc streams of one kind. */
async function openStreams(kind: 'policy' | 'metering'): Promise<number> {
  const text = await (await fetch(stack.metricsUrl)).text();
  const match = new RegExp(`^gateway_processor_open_streams\\{stream="${kind}"\\} (\\d+)$`, 'm').exec(text);
  return Number(match?.[1] ?? 0);
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
      void until(async () => (await extProcStat('stream_msgs_received')) > answered, 'the headers decision')
        .then(async () => {
          stack.processor.process.kill('SIGTERM');
          await until(async () => (await stack.waitForLog(shuttingDown, 0)).length > 0, 'shutting down');
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
    // The response's metering stream has reached the processor: it is in flight there too.
    await until(async () => (await openStreams('metering')) === 1, 'the metering stream');
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

  it('lets a streamed response finish, and meters it, before it exits', async () => {
    stack = await startStack();
    const { release, rest } = await heldStream();
    stack.processor.process.kill('SIGTERM');
    await until(async () => (await stack.waitForLog(shuttingDown, 0)).length > 0, 'shutting down');

    release();
    complete(await rest());
    expect(await processorExit()).toBe(0);
    const entries = stack.processorLog.map((line) => JSON.parse(line) as Record<string, unknown>);
    const access = entries.findIndex((entry) => entry.msg === 'access' && entry.streamed === true);
    const stopped = entries.findIndex((entry) => entry.msg === 'processor stopped');
    // The usage of the whole stream was recorded, before the processor stopped.
    expect(entries[access]).toMatchObject({ complete: true, usage: { output_tokens: 7 } });
    expect(access).toBeLessThan(stopped);
    expect(entries[stopped]?.outcome).toBe('drained');
  });

  it('past its deadline the processor exits, and the streamed response still completes', async () => {
    stack = await startStack({ config: { processor: { shutdown_timeout_seconds: 1 } } });
    const { release, rest } = await heldStream();
    stack.processor.process.kill('SIGTERM');
    // The upstream still holds the stream: the processor gives up metering it and exits.
    expect(await processorExit()).toBe(0);
    const [stopped] = await stack.waitForLog((entry) => entry.msg === 'processor stopped');
    expect(stopped?.outcome).toBe('deadline');

    release();
    complete(await rest());
  });
});
