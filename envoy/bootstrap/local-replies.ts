// Envoy's own error replies (local replies), rewritten to Anthropic's error
// shape (processor/contract/errors.ts); the processor's replies are left alone.
import type { Settings } from '../../processor/config/load.ts';
import {
  type AnthropicErrorType,
  anthropicErrorBody,
  MALFORMED_REQUEST_MESSAGE,
  requestTooLargeMessage,
} from '../../processor/contract/errors.ts';
import { GATEWAY_DETAILS_PREFIX, RESPONSE_REQUEST_ID_HEADER } from '../../processor/contract/names.ts';
import { cel, REQUEST_ID, REQUEST_ID_STATE } from './common.ts';
import type { AccessLogFilter, LocalReplyConfig, ResponseMapper } from './types.ts';

/** One of Envoy's own error replies, rewritten to Anthropic's error shape. */
export interface ErrorMapping {
  /** Which of Envoy's replies this mapping rewrites. */
  readonly filter: AccessLogFilter;
  /** The status the client gets; Envoy's own when absent. */
  readonly status?: number;
  readonly type: AnthropicErrorType;
  readonly message: string;
}

export function errorMapper(
  mapping: ErrorMapping,
  requestId: string,
  extra: readonly AccessLogFilter[] = [],
): ResponseMapper {
  const body = anthropicErrorBody(mapping.type, mapping.message);
  return {
    filter: { and_filter: { filters: [mapping.filter, notFromProcessor(), ...extra] } },
    ...(mapping.status === undefined ? {} : { status_code: mapping.status }),
    headers_to_add: [
      {
        header: { key: RESPONSE_REQUEST_ID_HEADER, value: requestId },
        append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
      },
    ],
    body_format_override: { json_format: body },
  };
}

export function statusIn(...statuses: number[]): AccessLogFilter {
  const filters = statuses.map(
    (status): AccessLogFilter => ({
      status_code_filter: {
        comparison: {
          op: 'EQ',
          value: { default_value: status, runtime_key: `gateway.local_reply.${status}` },
        },
      },
    }),
  );
  return filters.length === 1 ? (filters[0] as AccessLogFilter) : { or_filter: { filters } };
}

/** Envoy's status in [low, high]. */
export function statusBetween(low: number, high: number): AccessLogFilter {
  const bound = (op: 'GE' | 'LE', status: number): AccessLogFilter => ({
    status_code_filter: {
      comparison: {
        op,
        value: { default_value: status, runtime_key: `gateway.local_reply.${op.toLowerCase()}.${status}` },
      },
    },
  });
  return both(bound('GE', low), bound('LE', high));
}

/** The processor's replies are already Anthropic-shaped: leave them alone. */
export function notFromProcessor(): AccessLogFilter {
  return cel(`!response.code_details.startsWith('${GATEWAY_DETAILS_PREFIX}')`);
}

/** The processor failed, was unreachable or too slow (Envoy's details start with ext_proc). */
export function extProcFailure(): AccessLogFilter {
  return cel(`response.code_details.startsWith('ext_proc')`);
}

/** The processor answered something Envoy could not use: the wrong phase, nothing, a refused mutation. */
export function extProcUnusableAnswer(): AccessLogFilter {
  return cel(
    "response.code_details in ['spurious_message', 'unhandled_message'] || " +
      "response.code_details.startsWith('header_mutation_')",
  );
}

/** Envoy's reason for its reply (%RESPONSE_CODE_DETAILS%) is one of these. */
export function details(...reasons: string[]): AccessLogFilter {
  return cel(`response.code_details in [${reasons.map((reason) => `'${reason}'`).join(', ')}]`);
}

/** Envoy refused the request before any filter ran (a malformed request line, headers over the limit). */
export function beforeFilters(): AccessLogFilter {
  return cel(`!('${REQUEST_ID_STATE}' in filter_state)`);
}

/**
 * The gateway's filters ran for this request: it is on one of the gateway's
 * routes (the first of them, set_filter_state, is on there only). In an Envoy
 * that serves other routes too, this keeps the gateway's local replies and
 * access log to the gateway's requests (docs/integrate.md).
 */
export function onGatewayRoute(): AccessLogFilter {
  return cel(`'${REQUEST_ID_STATE}' in filter_state`);
}

export function both(a: AccessLogFilter, b: AccessLogFilter): AccessLogFilter {
  return { and_filter: { filters: [a, b] } };
}

export function localReplyConfig(settings: Settings): LocalReplyConfig {
  const { listen } = settings;
  const unavailable = "the gateway's policy service is unavailable; nothing was sent upstream";
  // First match wins: the processor's failures before the generic statuses.
  const mappings: ErrorMapping[] = [
    {
      filter: both(extProcFailure(), statusIn(504)),
      status: 504,
      type: 'timeout_error',
      message: "the gateway's policy check timed out; nothing was sent upstream",
    },
    { filter: extProcFailure(), status: 503, type: 'api_error', message: unavailable },
    { filter: extProcUnusableAnswer(), status: 503, type: 'api_error', message: unavailable },
    {
      // The approval check refused a request the processor never approved
      // (it closed its stream early): the processor failed.
      filter: both(statusIn(403), cel("response.code_details.startsWith('rbac_access_denied')")),
      status: 500,
      type: 'api_error',
      message: 'the gateway failed to process the request',
    },
    {
      filter: statusIn(413),
      status: 413,
      type: 'request_too_large',
      // The processor refuses a declared content-length over the limit with the same words.
      message: requestTooLargeMessage(settings.limits.max_request_body_bytes),
    },
    {
      filter: statusIn(431),
      status: 431,
      type: 'request_too_large',
      message: 'request headers are too large',
    },
    // The listener's timeouts on slow clients (the HttpConnectionManager, listener.ts).
    {
      filter: both(statusIn(408), details('request_header_timeout')),
      status: 408,
      type: 'timeout_error',
      message: `timed out receiving the request headers (the gateway waits ${listen.request_headers_timeout_seconds} s for them)`,
    },
    {
      filter: both(statusIn(408), details('request_overall_timeout')),
      status: 408,
      type: 'timeout_error',
      message: `timed out receiving the request (the gateway waits ${listen.request_timeout_seconds} s for a whole request, body included)`,
    },
    {
      // The route's idle timeout with the request already upstream and no
      // answer yet: Envoy says 408, but it is the upstream that was silent.
      filter: both(both(statusIn(408), details('stream_idle_timeout')), cel("upstream.address != ''")),
      status: 504,
      type: 'timeout_error',
      message: 'the upstream did not answer in time',
    },
    { filter: statusIn(408), status: 408, type: 'timeout_error', message: 'timed out receiving the request' },
    {
      filter: statusIn(504),
      status: 504,
      type: 'timeout_error',
      message: 'the upstream did not answer in time',
    },
    {
      filter: statusIn(502, 503),
      status: 503,
      type: 'api_error',
      message: 'the upstream is unreachable; try again',
    },
    {
      filter: statusIn(500),
      status: 500,
      type: 'api_error',
      message: 'the gateway failed to process the request',
    },
    { filter: statusIn(404), status: 404, type: 'not_found_error', message: 'not found' },
    { filter: statusIn(400), status: 400, type: 'invalid_request_error', message: MALFORMED_REQUEST_MESSAGE },
    {
      // A transfer-encoding other than chunked: the client's mistake, not worth a retry.
      filter: statusIn(501),
      status: 400,
      type: 'invalid_request_error',
      message: 'unsupported transfer-encoding; send the body with content-length or chunked',
    },
    {
      filter: statusIn(426),
      status: 426,
      type: 'invalid_request_error',
      message: 'HTTP/1.0 is not supported; use HTTP/1.1 or HTTP/2',
    },
    {
      // An absolute-form target `https://host/…` on this plain-HTTP listener: Envoy's 403
      // is no matter of permission, the request is malformed for this connection.
      filter: details('http1.https_url_on_plaintext_connection'),
      status: 400,
      type: 'invalid_request_error',
      message:
        'the request target is an https:// URL on a plain-HTTP connection; send only the path, or connect over TLS',
    },
    {
      // Envoy refuses connection upgrades (WebSocket and the like) that no route allows.
      filter: statusIn(403),
      status: 403,
      type: 'permission_error',
      message: 'this request is not allowed by the gateway (protocol upgrades are not supported)',
    },
    // Anything else Envoy itself answers keeps its status and gets the shape.
    {
      filter: statusBetween(400, 499),
      type: 'invalid_request_error',
      message: 'the gateway refused the request',
    },
    {
      filter: statusBetween(500, 599),
      type: 'api_error',
      message: 'the gateway failed to process the request',
    },
  ];
  return {
    mappers: [
      // A request refused before the filter chain ran has no Envoy request id
      // yet (the id is kept in filter state by the first filter): give it a
      // fresh one, so every error carries a request-id.
      ...mappings.map((mapping) => errorMapper(mapping, '%UNIQUE_ID%', [beforeFilters()])),
      ...mappings.map((mapping) => errorMapper(mapping, REQUEST_ID, [onGatewayRoute()])),
    ],
  };
}
