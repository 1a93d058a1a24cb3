// Failure paths through the real Envoy: the processor down (fail closed, then
// recovery), the upstream unreachable, the upstream too slow. Every error the
// gateway or Envoy produces must be Anthropic-shaped.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSse, pacedSseResponder, textStreamEvents } from '../support/fake-upstream.ts';
import {
  GATEWAY_TOKEN,
  type GatewayStack,
  seedRequest,
  sendSeed,
  startStack,
  untilOk,
} from '../support/gateway-stack.ts';

/** What the TypeScript SDK makes of the same failure. */
async function sdkErrorOf(stack: GatewayStack): Promise<unknown> {
  const client = new Anthropic({ apiKey: GATEWAY_TOKEN, baseURL: stack.baseUrl, maxRetries: 0 });
  try {
    await client.messages.create(seedRequest() as Anthropic.MessageCreateParamsNonStreaming);
  } catch (error) {
    return error;
  }
  throw new Error('expected the request to fail');
}

async function errorOf(response: Response) {
  expect(response.headers.get('content-type')).toContain('application/json');
  expect(response.headers.get('request-id')).toBeTruthy();
  return (await response.json()) as { type: string; error: { type: string; message: string } };
}

describe('processor down', () => {
  let stack: GatewayStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('fails closed with an Anthropic-shaped 503, and recovers when the processor is back', async () => {
    expect((await sendSeed(stack)).status).toBe(200);
    await stack.stopProcessor();
    stack.upstream.reset();

    const response = await sendSeed(stack);
    expect(response.status).toBe(503);
    expect(await errorOf(response)).toEqual({
      type: 'error',
      error: {
        type: 'api_error',
        message: "the gateway's policy service is unavailable; nothing was sent upstream",
      },
    });
    expect(stack.upstream.received).toHaveLength(0);
    const sdkError = await sdkErrorOf(stack);
    expect(sdkError).toBeInstanceOf(Anthropic.ServiceUnavailableError);
    expect((sdkError as InstanceType<typeof Anthropic.APIError>).message).toContain('api_error');
    expect(stack.upstream.received).toHaveLength(0);

    await stack.startProcessor();
    // Envoy reconnects on its own; no restart of Envoy.
    const recovered = await untilOk(stack, 10_000);
    expect(recovered.status).toBe(200);
    expect(stack.upstream.received.length).toBeGreaterThan(0);
  });
});

describe('processor too slow', () => {
  let stack: GatewayStack;
  beforeAll(async () => {
    stack = await startStack({ config: { processor: { message_timeout_ms: 500 } } });
  });
  afterAll(async () => {
    stack?.processor.process.kill('SIGCONT');
    await stack?.stop();
  });

  it('fails closed when the processor does not answer within the message timeout', async () => {
    expect((await sendSeed(stack)).status).toBe(200);
    stack.upstream.reset();
    // A stopped process keeps its socket: Envoy's stream opens and waits for an answer.
    stack.processor.process.kill('SIGSTOP');
    try {
      const response = await sendSeed(stack);
      expect(response.status).toBe(504);
      expect(await errorOf(response)).toEqual({
        type: 'error',
        error: {
          type: 'timeout_error',
          message: "the gateway's policy check timed out; nothing was sent upstream",
        },
      });
      expect(stack.upstream.received).toHaveLength(0);
    } finally {
      stack.processor.process.kill('SIGCONT');
    }
    expect((await sendSeed(stack)).status).toBe(200);
  });
});

describe('upstream unreachable', () => {
  let stack: GatewayStack;
  beforeAll(async () => {
    // A port nothing listens on: bind, note it, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    stack = await startStack({ upstreamUrl: `http://127.0.0.1:${port}` });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('answers 503 api_error', async () => {
    const response = await sendSeed(stack);
    expect(response.status).toBe(503);
    expect(await errorOf(response)).toEqual({
      type: 'error',
      error: { type: 'api_error', message: 'the upstream is unreachable; try again' },
    });
    expect(await sdkErrorOf(stack)).toBeInstanceOf(Anthropic.ServiceUnavailableError);
  });
});

describe('upstream timeout', () => {
  let stack: GatewayStack;
  let hanging: Server;
  beforeAll(async () => {
    hanging = createServer(() => {
      // Never answers.
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const { port } = hanging.address() as AddressInfo;
    stack = await startStack({
      upstreamUrl: `http://127.0.0.1:${port}`,
      config: { upstream: { timeout_seconds: 1 } },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    hanging.closeAllConnections();
    await new Promise((resolve) => hanging.close(resolve));
  });

  it('answers 504 timeout_error', async () => {
    const response = await sendSeed(stack);
    expect(response.status).toBe(504);
    expect(await errorOf(response)).toEqual({
      type: 'error',
      error: { type: 'timeout_error', message: 'the upstream did not answer in time' },
    });
    expect(await sdkErrorOf(stack)).toBeInstanceOf(Anthropic.GatewayTimeoutError);
  });
});

describe('a stream longer than the upstream timeout', () => {
  let stack: GatewayStack;
  beforeAll(async () => {
    stack = await startStack({ config: { upstream: { timeout_seconds: 1 } } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('is not cut while its events keep coming: the timeout bounds silence, not length', async () => {
    // 14 events 250 ms apart: over three times the 1 s timeout from first byte to last.
    const pieces = Array.from({ length: 8 }, (_, i) => `piece ${i} `);
    const events = textStreamEvents('claude-sonnet-4-6', pieces);
    stack.upstream.queue(pacedSseResponder(events, 250));
    const started = Date.now();
    const response = await sendSeed(stack, 'claude-sonnet-4-6', { stream: true });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(Date.now() - started).toBeGreaterThan(2_000);
    expect(text).toBe(events.map(encodeSse).join(''));
  });
});
