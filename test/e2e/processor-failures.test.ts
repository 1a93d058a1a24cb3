// The real Envoy in front of a processor that misbehaves (test/support/
// rogue-processor.ts): it crashes mid-stream, answers later than the message
// timeout, fails its stream, closes it without answering, or answers garbage.
// Envoy must fail closed every time, with an Anthropic-shaped 5xx and a
// request-id, nothing may reach the upstream, and once a good processor is
// back on the same address, traffic flows again without restarting Envoy.
// Then the processor's own code failing for one request, seen end to end.
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../../processor/config/load.ts';
import type { CatalogModel } from '../../processor/policy/catalog.ts';
import type { Policy } from '../../processor/policy/request-policy.ts';
import { expectAnthropicError } from '../support/anthropic-error.ts';
import { buildTestConfig, startTestProcessor, type TestProcessor } from '../support/extproc-server.ts';
import { sha256, sseResponder, textStreamEvents } from '../support/fake-upstream.ts';
import {
  GATEWAY_TOKEN,
  type GatewayStack,
  seedRequest,
  sendSeed,
  startStack,
  UPSTREAM_KEY,
  untilOk,
} from '../support/gateway-stack.ts';
import {
  ROGUE_BEHAVIOURS,
  ROGUE_UPSTREAM_KEY,
  type RogueBehaviour,
  startRogueProcessor,
} from '../support/rogue-processor.ts';

/** Small, so the slow and hanging processors time out quickly; roomy enough for a loaded machine. */
const MESSAGE_TIMEOUT_MS = 1_000;

interface Expected {
  readonly status: number;
  readonly type: string;
  readonly message: string;
}
const UNAVAILABLE: Expected = {
  status: 503,
  type: 'api_error',
  message: "the gateway's policy service is unavailable; nothing was sent upstream",
};
const TOO_SLOW: Expected = {
  status: 504,
  type: 'timeout_error',
  message: "the gateway's policy check timed out; nothing was sent upstream",
};
const INTERNAL: Expected = {
  status: 500,
  type: 'api_error',
  message: 'the gateway failed to process the request',
};

/** What the client gets for each misbehaviour. */
const EXPECTED: Readonly<Record<RogueBehaviour, Expected>> = {
  crash: UNAVAILABLE,
  hang: TOO_SLOW,
  slow: TOO_SLOW,
  abort: UNAVAILABLE,
  // A stream closed cleanly means "go on" in ext_proc; the approval check stops it.
  end: INTERNAL,
  'end-after-headers': INTERNAL,
  'wrong-phase': UNAVAILABLE,
  empty: UNAVAILABLE,
  'garbage-bytes': UNAVAILABLE,
  'mutate-authority': UNAVAILABLE,
  'mutate-crlf': UNAVAILABLE,
  'remove-path': UNAVAILABLE,
};

const body = JSON.stringify(seedRequest());

describe('a misbehaving processor', () => {
  let stack: GatewayStack;
  let address: string;
  let goodConfig: LoadedConfig;

  beforeAll(async () => {
    // Reserve an address: the rogues, the good processor and Envoy all use it.
    const first = await startRogueProcessor('hang', '127.0.0.1:0');
    address = first.address;
    await first.stop();
    stack = await startStack({
      processorAddress: address,
      config: { processor: { message_timeout_ms: MESSAGE_TIMEOUT_MS } },
    });
    goodConfig = buildTestConfig({}, { GATEWAY_TOKEN, ANTHROPIC_API_KEY: UPSTREAM_KEY });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  for (const behaviour of ROGUE_BEHAVIOURS) {
    const expected = EXPECTED[behaviour];
    it(`${behaviour}: fails closed with ${expected.status} ${expected.type}, then recovers with a good processor`, async () => {
      stack.upstream.reset();
      const rogue = await startRogueProcessor(behaviour, address);
      try {
        await expectAnthropicError(await sendSeed(stack), expected);
        // Not vacuous: the rogue was asked.
        expect(rogue.received()).toBeGreaterThan(0);
        if (behaviour === 'crash') expect(await rogue.exited).toBe('SIGKILL');
      } finally {
        await rogue.stop();
      }
      // Not even a request head reached the upstream.
      expect(stack.upstream.arrived).toEqual([]);

      const good = await startTestProcessor({ config: goodConfig, address, logLevel: 'silent' });
      try {
        const recovered = await untilOk(stack);
        expect(recovered.status).toBe(200);
        await recovered.json();
        expect(stack.upstream.received).toHaveLength(1);
        const keys = stack.upstream.received[0]?.headers.filter(([name]) => name === 'x-api-key');
        expect(keys).toEqual([['x-api-key', UPSTREAM_KEY]]);
        expect(stack.upstream.received[0]?.sha256).toBe(sha256(body));
      } finally {
        await good.stop();
      }
    });
  }

  it('the SDKs see these failures as retryable server errors', async () => {
    stack.upstream.reset();
    const client = new Anthropic({ apiKey: GATEWAY_TOKEN, baseURL: stack.baseUrl, maxRetries: 0 });
    const create = () => client.messages.create(seedRequest() as Anthropic.MessageCreateParamsNonStreaming);
    for (const [behaviour, errorClass] of [
      ['garbage-bytes', Anthropic.ServiceUnavailableError],
      ['end', Anthropic.InternalServerError],
    ] as const) {
      const rogue = await startRogueProcessor(behaviour, address);
      try {
        await expect(create()).rejects.toBeInstanceOf(errorClass);
      } finally {
        await rogue.stop();
      }
    }
    expect(stack.upstream.arrived).toEqual([]);
  });

  it('recovers with the real processor process too, without restarting Envoy', async () => {
    stack.upstream.reset();
    const envoyPid = stack.envoy.process.pid;
    await stack.startProcessor();
    try {
      const recovered = await untilOk(stack);
      expect(recovered.status).toBe(200);
      await recovered.json();
      expect(stack.envoy.process.pid).toBe(envoyPid);
      expect(stack.envoy.process.exitCode).toBeNull();
      // The rogue's key was never used.
      for (const request of stack.upstream.received) {
        expect(request.headers).not.toContainEqual(['x-api-key', ROGUE_UPSTREAM_KEY]);
      }
    } finally {
      await stack.stopProcessor();
    }
  });
});

/** A catalog whose lookup throws for one model: a bug inside the processor, for that request only. */
class ExplodingCatalog extends Map<string, CatalogModel> {
  override get(model: string): CatalogModel | undefined {
    if (model === 'claude-explode') throw new Error('catalog lookup failed');
    return super.get(model);
  }
}

describe('an exception inside the processor, through Envoy', () => {
  let stack: GatewayStack;
  let processor: TestProcessor;

  beforeAll(async () => {
    const config = buildTestConfig({}, { GATEWAY_TOKEN, ANTHROPIC_API_KEY: UPSTREAM_KEY });
    const policy: Policy = { ...config.policy, catalog: new ExplodingCatalog(config.policy.catalog) };
    processor = await startTestProcessor({ config, policy: () => policy, logLevel: 'trace' });
    stack = await startStack({ processorAddress: processor.address });
  });
  afterAll(async () => {
    await stack?.stop();
    await processor?.stop();
  });

  it('answers that request 500 api_error and leaves the process and other streams running', async () => {
    // A streamed answer held open by the upstream while the failure happens.
    const events = textStreamEvents('claude-sonnet-4-6', ['still', ' streaming']);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    stack.upstream.queue(sseResponder(events, async (index) => (index === 1 ? held : undefined)));
    const streaming = await sendSeed(stack, 'claude-sonnet-4-6', { stream: true });
    expect(streaming.status).toBe(200);
    const reader = (streaming.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value, { stream: true });
    expect(text).toContain('event: message_start');

    const failed = await expectAnthropicError(await sendSeed(stack, 'claude-explode'), INTERNAL);
    const logged = processor.logRecords().filter((record) => record.msg === 'policy failed; answering 500');
    expect(logged.map((record) => record.requestId)).toContain(failed.requestId);
    expect(stack.upstream.arrived.filter(({ url }) => url === '/v1/messages')).toHaveLength(1);

    // The stream that was open goes on to its end ...
    release();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text.match(/^event: /gm)).toHaveLength(events.length);
    expect(text).toContain('"text":" streaming"');
    // ... and new requests are served.
    const next = await sendSeed(stack);
    expect(next.status).toBe(200);
    await next.json();

    // The error path logged no secret.
    for (const line of processor.logLines()) {
      expect(line).not.toContain(GATEWAY_TOKEN);
      expect(line).not.toContain(UPSTREAM_KEY);
    }
  });
});
