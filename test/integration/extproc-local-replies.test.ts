// What the processor answers itself at the request_headers phase, over a real
// gRPC connection: the models listing and the HEAD probe. Envoy never asks the
// router (or the upstream) for these.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG } from '../../processor/config/default-catalog.ts';
import { indexCatalog } from '../../processor/policy/catalog.ts';
import { anthropicModels } from '../../processor/policy/models.ts';
import {
  GATEWAY_BASE_PATH,
  immediateBody,
  immediateStatus,
  type ProcessingResponse__Output,
  requestHeaders,
  setHeaderEntries,
} from '../support/extproc-client.ts';
import { expectGatewayError } from '../support/extproc-expect.ts';
import { type GatewayFixture, gatewayFixture, useTestProcessor } from '../support/extproc-server.ts';

const fixture: GatewayFixture = gatewayFixture();
const shared = useTestProcessor(fixture);

const MODELS = `${GATEWAY_BASE_PATH}/v1/models`;
const OVERWRITE = 'OVERWRITE_IF_EXISTS_OR_ADD';

async function ask(
  method: string,
  path: string,
  credential: ReadonlyArray<readonly [string, string]>,
  requestId = randomUUID(),
): Promise<ProcessingResponse__Output> {
  const stream = shared.client.openStream();
  const response = await stream.exchange(
    requestHeaders({ method, path, requestId, endOfStream: true, headers: credential }),
  );
  await stream.close();
  return response;
}

describe('GET /v1/models', () => {
  it('answers 200 with the JSON listing, content-type, request-id and a details reason', async () => {
    const requestId = randomUUID();
    const response = await ask('GET', MODELS, [['x-api-key', fixture.token]], requestId);
    expect(immediateStatus(response)).toBe(200);
    const body = immediateBody(response) as { data: Array<{ id: string }>; has_more: boolean };
    // The built-in catalog, newest first (test/unit/models.test.ts lists the order).
    expect(body.data.map((model) => model.id)).toEqual(
      anthropicModels(indexCatalog(DEFAULT_CATALOG)).map((model) => model.id),
    );
    expect(body.has_more).toBe(false);
    const headers = setHeaderEntries(response.immediate_response?.headers?.set_headers);
    expect(headers).toEqual([
      ['content-type', 'application/json', OVERWRITE],
      ['request-id', requestId, OVERWRITE],
    ]);
    expect(response.immediate_response?.details).toBe('anthropic_gateway_models_list');
    const log = shared.processor.logRecords().find((record) => record.requestId === requestId);
    expect(log).toMatchObject({ msg: 'answered by the gateway', reason: 'models_list' });
  });

  it('shows a scoped token only its models, by Bearer too', async () => {
    const response = await ask('GET', MODELS, [['authorization', `Bearer ${fixture.scopedToken}`]]);
    expect(immediateBody(response)).toMatchObject({
      data: [{ id: fixture.scopedModel }],
      first_id: fixture.scopedModel,
      last_id: fixture.scopedModel,
    });
  });

  it('retrieves one model, and answers 404 outside the scope', async () => {
    const ok = await ask('GET', `${MODELS}/claude-opus-4-8`, [['x-api-key', fixture.token]]);
    expect(immediateBody(ok)).toMatchObject({ type: 'model', id: 'claude-opus-4-8' });
    const requestId = randomUUID();
    const hidden = await ask(
      'GET',
      `${MODELS}/claude-opus-4-8`,
      [['x-api-key', fixture.scopedToken]],
      requestId,
    );
    expectGatewayError(hidden, {
      status: 404,
      type: 'not_found_error',
      message: 'model "claude-opus-4-8" not found',
      requestId,
      reason: 'model_not_found',
    });
  });

  it('answers 401 without a valid token', async () => {
    const requestId = randomUUID();
    const response = await ask('GET', MODELS, [['x-api-key', 'agw_wrong']], requestId);
    expectGatewayError(response, {
      status: 401,
      type: 'authentication_error',
      message: 'invalid or missing credential',
      requestId,
    });
  });
});

describe('x-should-retry', () => {
  it('tells clients not to retry a refusal (Claude Code retries a 401 for minutes otherwise)', async () => {
    for (const [method, path, credential] of [
      ['GET', MODELS, [['x-api-key', 'agw_wrong']]],
      ['GET', `${MODELS}/nope`, [['x-api-key', fixture.token]]],
      ['POST', `${GATEWAY_BASE_PATH}/v1/complete`, [['x-api-key', fixture.token]]],
    ] as const) {
      const response = await ask(method, path, credential);
      expect(setHeaderEntries(response.immediate_response?.headers?.set_headers), path).toContainEqual([
        'x-should-retry',
        'false',
        OVERWRITE,
      ]);
    }
  });

  it('is not sent on a success', async () => {
    const response = await ask('GET', MODELS, [['x-api-key', fixture.token]]);
    const names = setHeaderEntries(response.immediate_response?.headers?.set_headers).map(([name]) => name);
    expect(names).not.toContain('x-should-retry');
  });
});

describe('HEAD probe', () => {
  it('answers 200 with no body and no content-type, without a token', async () => {
    const requestId = randomUUID();
    const response = await ask('HEAD', `${GATEWAY_BASE_PATH}/api/hello`, [], requestId);
    expect(immediateStatus(response)).toBe(200);
    expect(response.immediate_response?.body?.length ?? 0).toBe(0);
    expect(setHeaderEntries(response.immediate_response?.headers?.set_headers)).toEqual([
      ['request-id', requestId, OVERWRITE],
    ]);
    expect(response.immediate_response?.details).toBe('anthropic_gateway_probe');
  });
});
