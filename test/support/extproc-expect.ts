// Assertions on ext_proc responses, shared by the integration tests.
import { expect } from 'vitest';
import { APPROVAL_KEY, METADATA_NAMESPACE } from '../../processor/contract/names.ts';
import {
  immediateBody,
  immediateStatus,
  type ProcessingResponse__Output,
  setHeaderEntries,
} from './extproc-client.ts';

const OVERWRITE = 'OVERWRITE_IF_EXISTS_OR_ADD';

export interface ExpectedGatewayError {
  readonly status: number;
  readonly type: string;
  /** The exact message, or a pattern it must match. */
  readonly message: string | RegExp;
  /** The x-request-id the request carried: it must come back as request-id. */
  readonly requestId: string;
  /** The reason code in `details`, after the gateway prefix. */
  readonly reason?: string;
}

/** The response is an Anthropic-shaped local reply: status, JSON error body, content-type, request-id, details. */
export function expectGatewayError(
  response: ProcessingResponse__Output,
  expected: ExpectedGatewayError,
): void {
  expect(response.response).toBe('immediate_response');
  expect(immediateStatus(response)).toBe(expected.status);

  const body = immediateBody(response);
  expect(body).toEqual({
    type: 'error',
    error: {
      type: expected.type,
      message:
        typeof expected.message === 'string' ? expected.message : expect.stringMatching(expected.message),
    },
  });

  const headers = setHeaderEntries(response.immediate_response?.headers?.set_headers);
  expect(headers).toContainEqual(['content-type', 'application/json', OVERWRITE]);
  expect(headers).toContainEqual(['request-id', expected.requestId, OVERWRITE]);
  // Exactly one of value or raw_value per header (Envoy rejects a mutation with both).
  for (const option of response.immediate_response?.headers?.set_headers ?? []) {
    expect(option.header?.value ?? '').toBe('');
  }

  expectNoApproval(response);
  const details = response.immediate_response?.details ?? '';
  expect(details.startsWith('anthropic_gateway_')).toBe(true);
  if (expected.reason !== undefined) expect(details).toBe(`anthropic_gateway_${expected.reason}`);
}

/** The request_headers phase goes on, with `upstreamKey` injected and exactly `removed` taken away. */
export function expectForwardedHeaders(
  response: ProcessingResponse__Output,
  upstreamKey: string,
  removed: readonly string[],
): void {
  expect(response.response).toBe('request_headers');
  const common = response.request_headers?.response;
  // proto3: an absent status is 0, CONTINUE.
  expect(common?.status ?? 'CONTINUE').toBe('CONTINUE');
  const mutation = common?.header_mutation;
  expect([...(mutation?.remove_headers ?? [])].sort()).toEqual([...removed].sort());
  expect(setHeaderEntries(mutation?.set_headers)).toEqual([['x-api-key', upstreamKey, OVERWRITE]]);
  expect(mutation?.set_headers?.[0]?.header?.value ?? '').toBe('');
  // The body is forwarded as is and the route is not recomputed.
  expectNoApproval(response);
  expect(common?.body_mutation).toBeUndefined();
  expect(common?.clear_route_cache ?? false).toBe(false);
}

/** The request_body phase goes on unchanged, with the processor's approval mark for Envoy. */
export function expectBodyContinues(response: ProcessingResponse__Output): void {
  expect(response.response).toBe('request_body');
  const common = response.request_body?.response;
  expect(common?.status ?? 'CONTINUE').toBe('CONTINUE');
  expect(common?.body_mutation).toBeUndefined();
  expect(common?.header_mutation?.remove_headers ?? []).toEqual([]);
  expect(common?.header_mutation?.set_headers ?? []).toEqual([]);
  expect(approvalMark(response)).toEqual({ kind: 'boolValue', boolValue: true });
}

/** The approval mark an answer carries for Envoy's approval check, if any. */
function approvalMark(response: ProcessingResponse__Output): unknown {
  return response.dynamic_metadata?.fields?.[METADATA_NAMESPACE]?.structValue?.fields?.[APPROVAL_KEY];
}

/** A response that is not an approval: no approval mark (the headers phase, a rejection). */
export function expectNoApproval(response: ProcessingResponse__Output): void {
  expect(approvalMark(response)).toBeUndefined();
}
