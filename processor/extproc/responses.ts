// Builders for the ProcessingResponse messages the processor sends back.

import type { HeaderValueOption } from '../../protos/generated/envoy/config/core/v3/HeaderValueOption.ts';
import type { ProcessingResponse } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import type { StatusCode } from '../../protos/generated/envoy/type/v3/StatusCode.ts';
import { GATEWAY_DETAILS_PREFIX, RESPONSE_REQUEST_ID_HEADER } from '../contract/names.ts';
import { type GatewayError, isRetryable, renderErrorBody } from '../policy/errors.ts';
import type { LocalReply } from '../policy/replies.ts';

/** Always say how a header is applied; Envoy's default has changed between versions. */
export function setHeader(key: string, value: string): HeaderValueOption {
  return {
    header: { key, raw_value: Buffer.from(value, 'latin1') },
    append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
  };
}

/** Let the request go on, with its headers rewritten for the upstream. */
export function continueRequestHeaders(
  remove: readonly string[],
  set: readonly HeaderValueOption[],
): ProcessingResponse {
  return {
    request_headers: {
      response: {
        status: 'CONTINUE',
        header_mutation: { remove_headers: [...remove], set_headers: [...set] },
      },
    },
  };
}

export const CONTINUE_REQUEST_BODY: ProcessingResponse = {
  request_body: { response: { status: 'CONTINUE' } },
};

/** A phase we did not ask for: pass it through unchanged. */
export function continuePhase(phase: string): ProcessingResponse {
  const common = { response: { status: 'CONTINUE' as const } };
  switch (phase) {
    case 'request_headers':
      return { request_headers: common };
    case 'response_headers':
      return { response_headers: common };
    case 'request_body':
      return { request_body: common };
    case 'response_body':
      return { response_body: common };
    case 'request_trailers':
      return { request_trailers: {} };
    default:
      return { response_trailers: {} };
  }
}

/**
 * Answers the client now, instead of the upstream. `details` names the reason
 * in Envoy's access log (%RESPONSE_CODE_DETAILS%) and lets Envoy's local-reply
 * mappers tell our replies from its own (envoy/bootstrap/local-replies.ts).
 */
export function immediateError(error: GatewayError, requestId: string | undefined): ProcessingResponse {
  const extra = Object.entries(error.headers ?? {}).map(([key, value]) => setHeader(key, value));
  if (!isRetryable(error)) extra.push(DO_NOT_RETRY);
  return immediate(error.status, renderErrorBody(error), error.reason, requestId, extra);
}

/** A successful answer from the gateway itself (a JSON document, or no body at all). */
export function immediateReply(reply: LocalReply, requestId: string | undefined): ProcessingResponse {
  return immediate(reply.status, reply.body, reply.reason, requestId, []);
}

function immediate(
  status: number,
  body: Buffer | undefined,
  reason: string,
  requestId: string | undefined,
  extra: readonly HeaderValueOption[],
): ProcessingResponse {
  const headers: HeaderValueOption[] = [];
  if (body !== undefined) headers.push(JSON_CONTENT_TYPE);
  if (requestId !== undefined) headers.push(setHeader(RESPONSE_REQUEST_ID_HEADER, requestId));
  headers.push(...extra);
  return {
    immediate_response: {
      status: { code: status as StatusCode },
      headers: { set_headers: headers },
      body: body ?? EMPTY_BODY,
      details: `${GATEWAY_DETAILS_PREFIX}${reason}`,
    },
  };
}

const JSON_CONTENT_TYPE = setHeader('content-type', 'application/json');
const DO_NOT_RETRY = setHeader('x-should-retry', 'false');
const EMPTY_BODY = Buffer.alloc(0);
