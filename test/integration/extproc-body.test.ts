// The request_body phase over a real gRPC connection: the model decides, and a
// body of Anthropic's maximum size (32 MiB) fits in one ext_proc message.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { loadExtProcService } from '../../processor/extproc/protos.ts';
import { mintToken } from '../../processor/policy/tokens.ts';
import { MemoryQuotaStore } from '../../processor/quota/memory-store.ts';
import type { QuotaStore } from '../../processor/quota/store.ts';
import { createExtProcClient, requestBody, requestHeaders } from '../support/extproc-client.ts';
import {
  expectBodyContinues,
  expectForwardedHeaders,
  expectGatewayError,
} from '../support/extproc-expect.ts';
import {
  type GatewayFixture,
  gatewayFixture,
  oneTokenConfig,
  startQuotaProcessor,
  useTestProcessor,
} from '../support/extproc-server.ts';

const fixture: GatewayFixture = gatewayFixture();
const shared = useTestProcessor(fixture);

const MAX_BODY_BYTES = 32 * 1024 * 1024;

const messagesBody = (model: unknown) =>
  JSON.stringify({ model, max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] });

interface Rejection {
  readonly name: string;
  readonly token: 'full' | 'scoped';
  readonly body: string;
  readonly status: number;
  readonly type: string;
  readonly message: string;
  readonly reason: string;
}

const REJECTIONS: readonly Rejection[] = [
  {
    name: 'an unknown model',
    token: 'full',
    body: messagesBody('claude-imaginary-9'),
    status: 400,
    type: 'invalid_request_error',
    message:
      'unknown model: "claude-imaginary-9" (see GET /ai-gateway/anthropic/v1/models for the models this gateway serves)',
    reason: 'unknown_model',
  },
  {
    name: "another provider's model",
    token: 'full',
    body: messagesBody('gpt-4o'),
    status: 400,
    type: 'invalid_request_error',
    message: 'model is not available on this endpoint',
    reason: 'model_not_on_endpoint',
  },
  {
    name: 'a model outside the token scope',
    token: 'scoped',
    body: messagesBody('claude-opus-4-8'),
    status: 403,
    type: 'permission_error',
    message: 'this credential may not use model "claude-opus-4-8"',
    reason: 'model_not_permitted',
  },
  {
    name: 'invalid JSON',
    token: 'full',
    body: '{"model": "claude-sonnet-4-6", "messages": [',
    status: 400,
    type: 'invalid_request_error',
    message: 'request body is not valid JSON',
    reason: 'invalid_json',
  },
  {
    name: 'a duplicate model field',
    token: 'full',
    body: '{"model":"claude-haiku-4-5","max_tokens":8,"messages":[],"model":"claude-opus-4-8"}',
    status: 400,
    type: 'invalid_request_error',
    message: 'request body has more than one "model" field',
    reason: 'duplicate_model',
  },
  {
    name: 'a missing model',
    token: 'full',
    body: '{"max_tokens":8,"messages":[]}',
    status: 400,
    type: 'invalid_request_error',
    message: 'model: field required',
    reason: 'missing_model',
  },
  {
    name: 'an empty body',
    token: 'full',
    body: '',
    status: 400,
    type: 'invalid_request_error',
    message: 'request body is empty; expected a JSON object with a "model" field',
    reason: 'empty_body',
  },
];

describe('body phase decisions', () => {
  it.each(REJECTIONS)('refuses $name with $status $type', async (rejection) => {
    const token = rejection.token === 'full' ? fixture.token : fixture.scopedToken;
    const upstreamKey = rejection.token === 'full' ? fixture.upstreamKey : fixture.scopedUpstreamKey;
    const requestId = randomUUID();
    const stream = shared.client.openStream();

    const headersResponse = await stream.exchange(
      requestHeaders({ requestId, headers: [['x-api-key', token]] }),
    );
    expectForwardedHeaders(headersResponse, upstreamKey, ['x-forwarded-proto', 'x-request-id']);

    const response = await stream.exchange(requestBody(rejection.body));
    expectGatewayError(response, {
      status: rejection.status,
      type: rejection.type,
      message: rejection.message,
      requestId,
      reason: rejection.reason,
    });
    expect((await stream.close()).code).toBe(0);
  });

  it('lets the scoped token use its own model', async () => {
    const stream = shared.client.openStream();
    await stream.exchange(requestHeaders({ headers: [['x-api-key', fixture.scopedToken]] }));
    expectBodyContinues(await stream.exchange(requestBody(messagesBody(fixture.scopedModel))));
    await stream.close();
  });
});

/** A JSON body of exactly `size` bytes whose top-level model comes last, after a long user message. */
function bodyOfSize(size: number, model: string): Buffer {
  const head = '{"max_tokens":16,"messages":[{"role":"user","content":"';
  const tail = `"}],"model":${JSON.stringify(model)}}`;
  const fill = size - Buffer.byteLength(head) - Buffer.byteLength(tail);
  const body = Buffer.concat([Buffer.from(head), Buffer.alloc(fill, 'a'), Buffer.from(tail)]);
  expect(body.length).toBe(size);
  return body;
}

describe('a body of the maximum size', () => {
  it('accepts a 32 MiB body over gRPC and reads the model at its end', async () => {
    const stream = shared.client.openStream();
    await stream.exchange(requestHeaders({ headers: [['x-api-key', fixture.token]] }));
    const response = await stream.exchange(requestBody(bodyOfSize(MAX_BODY_BYTES, 'claude-opus-4-8')));
    expectBodyContinues(response);
    expect((await stream.close()).code).toBe(0);
  });

  it('still decides on the model at the end of a 32 MiB body', async () => {
    const requestId = randomUUID();
    const stream = shared.client.openStream();
    await stream.exchange(requestHeaders({ requestId, headers: [['x-api-key', fixture.token]] }));
    const response = await stream.exchange(requestBody(bodyOfSize(MAX_BODY_BYTES, 'gemini-2.5-pro')));
    expectGatewayError(response, {
      status: 400,
      type: 'invalid_request_error',
      message: 'model is not available on this endpoint',
      requestId,
    });
    await stream.close();
  });

  it('fails only that stream when a message exceeds the configured limit, and keeps serving', async () => {
    // Envoy's buffer limit answers 413 long before this; the processor's own
    // gRPC limit is the second line and must not take the process down.
    const stream = shared.client.openStream();
    await stream.exchange(requestHeaders({ headers: [['x-api-key', fixture.token]] }));
    stream.send(requestBody(bodyOfSize(MAX_BODY_BYTES + 1024 * 1024, 'claude-opus-4-8')));
    await expect(stream.next()).rejects.toThrow(/RESOURCE_EXHAUSTED|larger than max/i);
    expect((await stream.status).code).toBe(8); // RESOURCE_EXHAUSTED

    const after = shared.client.openStream();
    await after.exchange(requestHeaders({ headers: [['x-api-key', fixture.token]] }));
    expectBodyContinues(await after.exchange(requestBody(messagesBody('claude-sonnet-4-6'))));
    await after.close();
  });
});

describe('a body that arrives while the headers are still being decided', () => {
  it('is decided on whole: the server frees a received body after its event, the policy keeps a copy', async () => {
    const token = mintToken();
    const config = oneTokenConfig({
      token,
      tokenId: 'limited',
      workspace: 'default',
      tokenLimits: { quota: { requests_per_minute: 100 } },
      upstreamKey: 'sk-ant-api03-pending-body-test',
    });
    // A quota store as slow as a distant Redis: the headers' answer waits for it.
    const memory = new MemoryQuotaStore();
    const store: QuotaStore = {
      admit: async (checks) => {
        await sleep(300);
        return memory.admit(checks);
      },
      charge: (checks, tokens) => memory.charge(checks, tokens),
      read: (checks) => memory.read(checks),
      close: () => memory.close(),
    };
    const processor = await startQuotaProcessor(config, store);
    const client = createExtProcClient(processor.address);
    try {
      const stream = client.openStream();
      // Both at once, so that the body (large enough to span HTTP/2 frames,
      // so joined by the server) arrives before the headers are answered.
      stream.send(requestHeaders({ headers: [['x-api-key', token]] }));
      stream.send(requestBody(bodyOfSize(256 * 1024, 'claude-sonnet-4-6')));
      expect((await stream.next()).request_headers).toBeDefined();
      expectBodyContinues(await stream.next());
      await stream.close();
    } finally {
      client.close();
      await processor.stop();
    }
  });
});

describe('the body on its way to the scan', () => {
  it('is decoded as a view of the received message, not a copy (protobufjs, as proto-loader sets it up)', () => {
    const process = (loadExtProcService() as ServiceDefinition).Process;
    const body = bodyOfSize(200 * 1024, 'claude-sonnet-4-6');
    const message = process?.requestSerialize({
      request_body: { body, end_of_stream: true },
    } as never) as Buffer;
    const decoded = process?.requestDeserialize(message) as { request_body: { body: Buffer } };
    expect(decoded.request_body.body.equals(body)).toBe(true);
    expect(decoded.request_body.body.buffer).toBe(message.buffer);
  });
});
