// The stream loop over a real gRPC connection: many streams at once, a policy
// that fails, phases the processor never asked for, and what it logs.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogModel } from '../../processor/policy/catalog.ts';
import type { Policy } from '../../processor/policy/request-policy.ts';
import {
  createExtProcClient,
  type ExtProcClient,
  type ExtProcStream,
  type ProcessingRequest,
  rawHeader,
  requestBody,
  requestHeaders,
  responseHeaders,
} from '../support/extproc-client.ts';
import {
  expectBodyContinues,
  expectForwardedHeaders,
  expectGatewayError,
} from '../support/extproc-expect.ts';
import {
  type GatewayFixture,
  gatewayFixture,
  startTestProcessor,
  type TestProcessor,
  useTestProcessor,
} from '../support/extproc-server.ts';

const fixture: GatewayFixture = gatewayFixture();
const shared = useTestProcessor(fixture);

const messagesBody = (model: string) =>
  JSON.stringify({ model, max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] });

const INTERNAL_ERROR = {
  status: 500,
  type: 'api_error',
  message: 'the gateway failed to process the request',
  reason: 'internal_error',
} as const;

describe('concurrent streams', () => {
  type Kind = 'forward' | 'scoped-forward' | 'bad-token' | 'unknown-model' | 'out-of-scope';
  const KINDS: readonly Kind[] = ['forward', 'scoped-forward', 'bad-token', 'unknown-model', 'out-of-scope'];

  interface Case {
    readonly kind: Kind;
    readonly requestId: string;
    readonly stream: ExtProcStream;
  }

  const tokenFor = (kind: Kind) =>
    kind === 'bad-token'
      ? 'agw_wrong'
      : kind === 'scoped-forward' || kind === 'out-of-scope'
        ? fixture.scopedToken
        : fixture.token;
  const keyFor = (kind: Kind) =>
    kind === 'scoped-forward' || kind === 'out-of-scope' ? fixture.scopedUpstreamKey : fixture.upstreamKey;
  const modelFor = (kind: Kind) =>
    kind === 'unknown-model'
      ? 'claude-unknown'
      : kind === 'out-of-scope'
        ? 'claude-opus-4-8'
        : kind === 'scoped-forward'
          ? fixture.scopedModel
          : 'claude-sonnet-4-6';

  it('gives each of 50 interleaved streams its own decision', async () => {
    const cases: Case[] = Array.from({ length: 50 }, (_, i) => ({
      kind: KINDS[i % KINDS.length] ?? 'forward',
      requestId: randomUUID(),
      stream: shared.client.openStream(),
    }));

    // All headers first, without waiting, then every answer.
    for (const c of cases) {
      c.stream.send(
        requestHeaders({
          requestId: c.requestId,
          headers: [
            ['x-api-key', tokenFor(c.kind)],
            ['x-case', c.requestId],
          ],
        }),
      );
    }
    const headerResponses = await Promise.all(cases.map((c) => c.stream.next()));
    cases.forEach((c, i) => {
      const response = headerResponses[i];
      if (response === undefined) throw new Error('missing response');
      if (c.kind === 'bad-token') {
        expectGatewayError(response, {
          status: 401,
          type: 'authentication_error',
          message: 'invalid or missing credential',
          requestId: c.requestId,
        });
      } else {
        expectForwardedHeaders(response, keyFor(c.kind), ['x-case', 'x-forwarded-proto', 'x-request-id']);
      }
    });

    // Bodies in reverse order, again without waiting.
    const open = cases.filter((c) => c.kind !== 'bad-token').reverse();
    for (const c of open) c.stream.send(requestBody(messagesBody(modelFor(c.kind))));
    const bodyResponses = await Promise.all(open.map((c) => c.stream.next()));
    open.forEach((c, i) => {
      const response = bodyResponses[i];
      if (response === undefined) throw new Error('missing response');
      if (c.kind === 'forward' || c.kind === 'scoped-forward') {
        expectBodyContinues(response);
      } else if (c.kind === 'unknown-model') {
        expectGatewayError(response, {
          status: 400,
          type: 'invalid_request_error',
          message: /^unknown model: /,
          requestId: c.requestId,
        });
      } else {
        expectGatewayError(response, {
          status: 403,
          type: 'permission_error',
          message: 'this credential may not use model "claude-opus-4-8"',
          requestId: c.requestId,
        });
      }
    });

    const statuses = await Promise.all(cases.map((c) => c.stream.close()));
    expect(statuses.map((s) => s.code)).toEqual(cases.map(() => 0));
  });
});

describe('phases the processor did not ask for', () => {
  const passThrough: ReadonlyArray<readonly [string, ProcessingRequest]> = [
    ['response_headers', responseHeaders(200)],
    ['response_body', { response_body: { body: Buffer.from('{"id":"msg_1"}'), end_of_stream: true } }],
    ['response_trailers', { response_trailers: { trailers: { headers: [rawHeader('x-trailer', 'v')] } } }],
  ];

  it.each(passThrough)('answers %s with an unchanged pass-through', async (phase, message) => {
    const stream = shared.client.openStream();
    expectForwardedHeaders(
      await stream.exchange(requestHeaders({ headers: [['x-api-key', fixture.token]] })),
      fixture.upstreamKey,
      ['x-forwarded-proto', 'x-request-id'],
    );

    // Before the body: the body decision ends the stream (see 'stream end').
    const response = await stream.exchange(message);
    expect(response.response).toBe(phase);
    expect(response.immediate_response).toBeUndefined();
    if (phase === 'response_headers' || phase === 'response_body') {
      const common = (phase === 'response_headers' ? response.response_headers : response.response_body)
        ?.response;
      expect(common?.status ?? 'CONTINUE').toBe('CONTINUE');
      expect(common?.header_mutation).toBeUndefined();
      expect(common?.body_mutation).toBeUndefined();
    } else {
      const trailers = phase === 'request_trailers' ? response.request_trailers : response.response_trailers;
      expect(trailers?.header_mutation).toBeUndefined();
    }
    expectBodyContinues(await stream.exchange(requestBody(messagesBody('claude-sonnet-4-6'))));
    expect((await stream.close()).code).toBe(0);
  });

  it('refuses a request_body that arrives without request_headers with 500, never forwarding it', async () => {
    const stream = shared.client.openStream();
    const response = await stream.exchange(requestBody(messagesBody('claude-sonnet-4-6')));
    expect(response.response).toBe('immediate_response');
    expect(response.immediate_response?.details).toBe('anthropic_gateway_internal_error');
    await stream.close();
  });
});

describe('request trailers (sent by Envoy only for a request that has them)', () => {
  const trailers: ProcessingRequest = {
    request_trailers: { trailers: { headers: [rawHeader('x-api-key', 'sk-ant-smuggled')] } },
  };

  it('refuses trailers straight after the headers (Envoy then sends no body) as an empty body', async () => {
    const requestId = randomUUID();
    const stream = shared.client.openStream();
    await stream.exchange(requestHeaders({ requestId, headers: [['x-api-key', fixture.token]] }));
    expectGatewayError(await stream.exchange(trailers), {
      status: 400,
      type: 'invalid_request_error',
      message: 'request body is empty; expected a JSON object with a "model" field',
      reason: 'empty_body',
      requestId,
    });
    expect((await stream.status).code).toBe(0);
  });

  it('after a body that trailers follow: keeps the stream open for them, then passes them on', async () => {
    const stream = shared.client.openStream();
    await stream.exchange(requestHeaders({ headers: [['x-api-key', fixture.token]] }));
    // end_of_stream false: Envoy's sign that trailers come next.
    expectBodyContinues(await stream.exchange(requestBody(messagesBody('claude-sonnet-4-6'), false)));
    const response = await stream.exchange(trailers);
    // Envoy removes every trailer before the router; the processor changes nothing.
    expect(response.response).toBe('request_trailers');
    expect(response.request_trailers?.header_mutation).toBeUndefined();
    expect((await stream.status).code).toBe(0);
  });

  it('answers 500 to trailers on a stream whose headers it never saw', async () => {
    const stream = shared.client.openStream();
    const response = await stream.exchange(trailers);
    expect(response.immediate_response?.details).toBe('anthropic_gateway_internal_error');
    await stream.close();
  });
});

describe('stream end', () => {
  // The processor closes the stream itself once the request is settled, so a
  // long streamed response never holds a processor stream (or its shutdown).
  it('closes the stream with OK after the body decision, before Envoy half-closes', async () => {
    const stream = shared.client.openStream();
    await stream.exchange(requestHeaders({ headers: [['x-api-key', fixture.token]] }));
    expectBodyContinues(await stream.exchange(requestBody(messagesBody('claude-sonnet-4-6'))));
    expect((await stream.status).code).toBe(0);
  });

  it('closes the stream with OK after an immediate response', async () => {
    const stream = shared.client.openStream();
    const response = await stream.exchange(requestHeaders({ headers: [['x-api-key', 'agw_wrong']] }));
    expect(response.response).toBe('immediate_response');
    expect((await stream.status).code).toBe(0);
  });

  it('keeps the stream open between the headers and the body', async () => {
    const stream = shared.client.openStream();
    await stream.exchange(requestHeaders({ headers: [['x-api-key', fixture.token]] }));
    // Answered on the same stream: it was still open.
    expectBodyContinues(await stream.exchange(requestBody(messagesBody('claude-sonnet-4-6'))));
    expect((await stream.status).code).toBe(0);
  });
});

/** A catalog that fails on one model id, as a bug or a broken reload might. */
class ExplodingCatalog extends Map<string, CatalogModel> {
  override get(model: string): CatalogModel | undefined {
    if (model === 'claude-explode') throw new Error('catalog lookup failed');
    return super.get(model);
  }
}

describe('a failing policy', () => {
  let failing: TestProcessor;
  let failingClient: ExtProcClient;
  let getterThrows = false;

  beforeAll(async () => {
    const policy: Policy = {
      ...fixture.config.policy,
      catalog: new ExplodingCatalog(fixture.config.policy.catalog),
    };
    failing = await startTestProcessor({
      config: fixture.config,
      policy: () => {
        if (getterThrows) throw new Error('policy unavailable');
        return policy;
      },
    });
    failingClient = createExtProcClient(failing.address);
  });

  afterAll(async () => {
    failingClient?.close();
    await failing?.stop();
  });

  it('answers that request with an Anthropic-shaped 500, and the server keeps serving', async () => {
    const requestId = randomUUID();
    const bystander = failingClient.openStream();
    await bystander.exchange(requestHeaders({ headers: [['x-api-key', fixture.token]] }));

    const stream = failingClient.openStream();
    await stream.exchange(requestHeaders({ requestId, headers: [['x-api-key', fixture.token]] }));
    const response = await stream.exchange(requestBody(messagesBody('claude-explode')));
    expectGatewayError(response, { ...INTERNAL_ERROR, requestId });
    // The stream itself did not fail: Envoy would otherwise answer a bare 500.
    expect((await stream.close()).code).toBe(0);

    // A stream opened before the failure goes on ...
    expectBodyContinues(await bystander.exchange(requestBody(messagesBody('claude-sonnet-4-6'))));
    await bystander.close();
    // ... and so does a new one.
    const next = failingClient.openStream();
    await next.exchange(requestHeaders({ headers: [['x-api-key', fixture.token]] }));
    expectBodyContinues(await next.exchange(requestBody(messagesBody('claude-haiku-4-5'))));
    await next.close();

    const errors = failing.logRecords().filter((record) => record.msg === 'policy failed; answering 500');
    expect(errors.map((record) => record.requestId)).toContain(requestId);
  });

  it('answers with an Anthropic-shaped 500 when the policy itself cannot be read', async () => {
    const requestId = randomUUID();
    getterThrows = true;
    let response: Awaited<ReturnType<ExtProcStream['next']>>;
    const stream = failingClient.openStream();
    try {
      response = await stream.exchange(
        requestHeaders({ requestId, headers: [['x-api-key', fixture.token]] }),
      );
    } finally {
      getterThrows = false;
    }
    expectGatewayError(response, { ...INTERNAL_ERROR, requestId });
    expect((await stream.close()).code).toBe(0);

    const next = failingClient.openStream();
    await next.exchange(requestHeaders({ headers: [['x-api-key', fixture.token]] }));
    expectBodyContinues(await next.exchange(requestBody(messagesBody('claude-sonnet-4-6'))));
    await next.close();
  });
});

describe('logging', () => {
  it('never writes a token, an upstream key or an authorization value, even at trace level', async () => {
    const wrongToken = `agw_${randomUUID()}`;
    const runs: Array<[ProcessingRequest, ProcessingRequest | undefined]> = [
      [
        requestHeaders({ headers: [['x-api-key', fixture.token]] }),
        requestBody(messagesBody('claude-sonnet-4-6')),
      ],
      [requestHeaders({ headers: [['authorization', `Bearer ${fixture.token}`]] }), requestBody('{"model":')],
      [
        requestHeaders({ headers: [['authorization', `Bearer ${fixture.scopedToken}`]] }),
        requestBody(messagesBody('claude-opus-4-8')),
      ],
      [requestHeaders({ headers: [['x-api-key', wrongToken]] }), undefined],
      [
        requestHeaders({
          headers: [['authorization', `Basic ${Buffer.from(`u:${wrongToken}`).toString('base64')}`]],
        }),
        undefined,
      ],
      [requestHeaders({ method: 'GET', headers: [['x-api-key', fixture.token]] }), undefined],
    ];
    for (const [headers, body] of runs) {
      const stream = shared.client.openStream();
      await stream.exchange(headers);
      if (body !== undefined) await stream.exchange(body);
      await stream.close();
    }

    const lines = shared.processor.logLines();
    // Not vacuous: the rejections above were logged, with their reasons.
    const reasons = shared.processor.logRecords().map((record) => record.reason);
    expect(reasons).toEqual(
      expect.arrayContaining([
        'invalid_credential',
        'invalid_json',
        'model_not_permitted',
        'method_not_allowed',
      ]),
    );

    const secrets = [
      fixture.token,
      fixture.scopedToken,
      fixture.upstreamKey,
      fixture.scopedUpstreamKey,
      wrongToken,
      Buffer.from(`u:${wrongToken}`).toString('base64'),
    ];
    for (const line of lines) {
      for (const secret of secrets) expect(line).not.toContain(secret);
      expect(line.toLowerCase()).not.toMatch(/bearer |basic /);
    }
  });
});
