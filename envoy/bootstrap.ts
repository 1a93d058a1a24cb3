// Renders the Envoy bootstrap for the gateway from the settings. The launcher
// (`npm start`), the tests and the checked-in envoy/envoy.yaml all come from
// this one function, so they cannot drift apart.
//
// What it shares with the processor comes from processor/contract/ alone
// (names, routes, usage rules, the error shape); the settings types from
// processor/config/.
import { type Address, isHostName } from '../processor/config/address.ts';
import type { Settings } from '../processor/config/load.ts';
import {
  ACCESS_LOG_BUFFER_BYTES,
  ACCESS_LOG_FLUSH_INTERVAL_MS,
  ACCESS_LOG_NAME,
  LOGGED_RESPONSE_HEADERS,
} from '../processor/contract/access-log.ts';
import {
  type AnthropicErrorType,
  anthropicErrorBody,
  MALFORMED_REQUEST_MESSAGE,
  requestTooLargeMessage,
} from '../processor/contract/errors.ts';
import {
  APPROVAL_KEY,
  EXT_PROC_SERVICE,
  GATEWAY_DETAILS_PREFIX,
  METADATA_NAMESPACE,
  REQUEST_ID_HEADER,
  RESPONSE_REQUEST_ID_HEADER,
} from '../processor/contract/names.ts';
import { BASE_PATH, UPSTREAM_ROUTES } from '../processor/contract/routes.ts';
import {
  JSON_USAGE_RULES,
  STREAM_USAGE_RULES,
  USAGE_NAMESPACE,
  type UsageRule,
} from '../processor/contract/usage.ts';
import { ADMIN_SOCKET_MODE } from './admin.ts';

type Json = Record<string, unknown>;

const UPSTREAM_CLUSTER = 'anthropic_upstream';
const PROCESSOR_CLUSTER = 'ext_proc_processor';
/** The same processor, on a connection of its own, for Envoy's access-log stream: it never queues policy decisions. */
const ACCESS_LOG_CLUSTER = 'processor_access_log';

/**
 * Envoy's x-request-id, kept in filter state by the first HTTP filter: the
 * processor removes the header itself (it must not go upstream), and Envoy's
 * own error replies still need it for their request-id header.
 */
const REQUEST_ID_STATE = 'anthropic_gateway.request_id';
const REQUEST_ID = `%FILTER_STATE(${REQUEST_ID_STATE}:PLAIN)%`;

const MAX_DOWNSTREAM_CONNECTIONS = 50_000;
/**
 * Streams one HTTP/2 client connection may have open at once (Envoy's default
 * is 2^31 - 1): every stream gets the listener's timeouts, but without a cap
 * one connection could keep that many slow requests open.
 */
const MAX_CONCURRENT_STREAMS = 100;

const typed = (type: string, config: Json): Json => ({ '@type': `type.googleapis.com/${type}`, ...config });
const seconds = (value: number): string => `${value}s`;

/** The processor's address (parsed by the configuration) as an Envoy address. */
function processorAddress(address: Address): Json {
  if (address.kind === 'unix') return { pipe: { path: address.path } };
  return { socket_address: { address: address.host, port_value: address.port } };
}

function upstreamCluster(settings: Settings): Json {
  const url = new URL(settings.upstream.url);
  const tls = url.protocol === 'https:';
  const port = Number(url.port || (tls ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const isIp = /^[\d.]+$/.test(host) || host.includes(':');
  return {
    name: UPSTREAM_CLUSTER,
    type: isIp ? 'STATIC' : 'LOGICAL_DNS',
    dns_lookup_family: 'V4_PREFERRED',
    connect_timeout: seconds(settings.upstream.connect_timeout_seconds),
    load_assignment: {
      cluster_name: UPSTREAM_CLUSTER,
      endpoints: [
        {
          lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }],
        },
      ],
    },
    ...(tls
      ? {
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: typed('envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', {
              sni: host,
              common_tls_context: {
                alpn_protocols: ['h2', 'http/1.1'],
                validation_context: {
                  // The system bundle by default; a bundle with a TLS-inspecting
                  // proxy's CA where one sits in the way (docs/operations.md).
                  trusted_ca: { filename: settings.upstream.ca_file },
                  match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: host } }],
                },
              },
            }),
          },
        }
      : {}),
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': typed(
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        {
          ...(tls
            ? {
                auto_config: {
                  http2_protocol_options: connectionKeepalive(
                    settings.upstream.keepalive_interval_seconds,
                    settings.upstream.keepalive_timeout_seconds,
                  ),
                  http_protocol_options: {},
                },
              }
            : { explicit_http_config: { http_protocol_options: {} } }),
          http_filters: upstreamFilters(),
        },
      ),
    },
  };
}

/**
 * The upstream cluster's own HTTP filters: every request bound for Anthropic
 * passes them, whatever route sent it, right before its bytes are written.
 * The approval check here rather than on the listener means that no route,
 * not even one an operator adds later without the gateway's per-route
 * switches (GATEWAY_FILTERS), reaches Anthropic without the processor's
 * approval; and that other routes of a shared listener never meet it.
 */
function upstreamFilters(): Json[] {
  return [
    approvalCheck(),
    requestTrailerStrip(),
    {
      name: 'envoy.filters.http.upstream_codec',
      typed_config: typed('envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec', {}),
    },
  ];
}

/**
 * HTTP/2 options that ping the connection every `interval` seconds and close
 * it when a ping goes unanswered for `timeout` (Envoy extends the wait while
 * other frames arrive). A connection whose peer vanished without a FIN or RST
 * (a host gone, a NAT or firewall that dropped the flow) otherwise looks
 * alive for ever, and every request sent on it waits for its own timeout;
 * once it is closed, the next request opens a new connection. An interval of
 * 0 turns the pings off.
 */
function connectionKeepalive(interval: number, timeout: number): Json {
  if (interval === 0) return {};
  // Whole milliseconds: a float's long tail of digits is not a valid Duration.
  const duration = (value: number) => `${Math.round(value * 1000) / 1000}s`;
  return { connection_keepalive: { interval: duration(interval), timeout: duration(timeout) } };
}

/**
 * Envoy asks the processor's grpc.health.v1 service (processor/ops/health.ts)
 * and stops choosing a replica that answers NOT_SERVING (one shutting down) or
 * does not answer. With every replica unhealthy (one processor that is down),
 * Envoy's panic mode still tries them: a request then gets the processor's
 * decision or, if none can be had, Envoy's 503. Health never opens a way
 * around the processor; fail-closed stays with ext_proc's failure_mode_allow.
 * An unhealthy host is probed every second, so a processor that comes back is
 * used again quickly.
 */
const PROCESSOR_HEALTH_CHECK: Json = {
  timeout: '1s',
  interval: '5s',
  unhealthy_interval: '1s',
  // Without this, an idle cluster is probed only every 60 s.
  no_traffic_interval: '5s',
  unhealthy_threshold: 2,
  healthy_threshold: 1,
  grpc_health_check: { service_name: EXT_PROC_SERVICE },
};

function processorCluster(settings: Settings, name: string): Json {
  return {
    name,
    // A host name resolves to every replica behind it (`docker compose up --scale processor=3`).
    ...(isHostName(settings.processor.address)
      ? { type: 'STRICT_DNS', dns_lookup_family: 'V4_PREFERRED' }
      : { type: 'STATIC' }),
    connect_timeout: '1s',
    health_checks: [PROCESSOR_HEALTH_CHECK],
    // gRPC needs HTTP/2; one connection multiplexes every request's stream.
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': typed(
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        {
          explicit_http_config: {
            http2_protocol_options: connectionKeepalive(
              settings.processor.keepalive_interval_seconds,
              settings.processor.keepalive_timeout_seconds,
            ),
          },
        },
      ),
    },
    load_assignment: {
      cluster_name: name,
      endpoints: [
        { lb_endpoints: [{ endpoint: { address: processorAddress(settings.processor.address) } }] },
      ],
    },
  };
}

/** One of Envoy's own error replies, rewritten to Anthropic's error shape. */
interface ErrorMapping {
  /** Which of Envoy's replies this mapping rewrites. */
  readonly filter: Json;
  /** The status the client gets; Envoy's own when absent. */
  readonly status?: number;
  readonly type: AnthropicErrorType;
  readonly message: string;
}

function errorMapper(mapping: ErrorMapping, requestId: string, extra: readonly Json[] = []): Json {
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

function statusIn(...statuses: number[]): Json {
  const filters = statuses.map((status) => ({
    status_code_filter: {
      comparison: {
        op: 'EQ',
        value: { default_value: status, runtime_key: `gateway.local_reply.${status}` },
      },
    },
  }));
  return filters.length === 1 ? (filters[0] as Json) : { or_filter: { filters } };
}

/** Envoy's status in [low, high]. */
function statusBetween(low: number, high: number): Json {
  const bound = (op: 'GE' | 'LE', status: number): Json => ({
    status_code_filter: {
      comparison: {
        op,
        value: { default_value: status, runtime_key: `gateway.local_reply.${op.toLowerCase()}.${status}` },
      },
    },
  });
  return both(bound('GE', low), bound('LE', high));
}

function cel(expression: string): Json {
  return {
    extension_filter: {
      name: 'envoy.access_loggers.extension_filters.cel',
      typed_config: typed('envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter', { expression }),
    },
  };
}

/** The processor's replies are already Anthropic-shaped: leave them alone. */
function notFromProcessor(): Json {
  return cel(`!response.code_details.startsWith('${GATEWAY_DETAILS_PREFIX}')`);
}

/** The processor failed, was unreachable or too slow (Envoy's details start with ext_proc). */
function extProcFailure(): Json {
  return cel(`response.code_details.startsWith('ext_proc')`);
}

/** The processor answered something Envoy could not use: the wrong phase, nothing, a refused mutation. */
function extProcUnusableAnswer(): Json {
  return cel(
    "response.code_details in ['spurious_message', 'unhandled_message'] || " +
      "response.code_details.startsWith('header_mutation_')",
  );
}

/** Envoy's reason for its reply (%RESPONSE_CODE_DETAILS%) is one of these. */
function details(...reasons: string[]): Json {
  return cel(`response.code_details in [${reasons.map((reason) => `'${reason}'`).join(', ')}]`);
}

/** Envoy refused the request before any filter ran (a malformed request line, headers over the limit). */
function beforeFilters(): Json {
  return cel(`!('${REQUEST_ID_STATE}' in filter_state)`);
}

/**
 * The gateway's filters ran for this request: it is on one of the gateway's
 * routes (the first of them, set_filter_state, is on there only). In an Envoy
 * that serves other routes too, this keeps the gateway's local replies and
 * access log to the gateway's requests (docs/integrate.md).
 */
export function onGatewayRoute(): Json {
  return cel(`'${REQUEST_ID_STATE}' in filter_state`);
}

function both(a: Json, b: Json): Json {
  return { and_filter: { filters: [a, b] } };
}

function localReplyConfig(settings: Settings): Json {
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
    // The listener's timeouts on slow clients (the HttpConnectionManager below).
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

/** One of the routes to Anthropic (processor/contract/routes.ts). */
function gatewayRoute(
  entry: (typeof UPSTREAM_ROUTES)[number],
  settings: Settings,
  upstreamHost: string,
): Json {
  return {
    match: { path: entry.path, headers: [{ name: ':method', string_match: { exact: entry.method } }] },
    route: {
      cluster: UPSTREAM_CLUSTER,
      prefix_rewrite: entry.upstreamPath,
      host_rewrite_literal: upstreamHost,
      // No cap on the whole exchange: a stream may last an hour. What is
      // bounded is silence: no byte either way for upstream.timeout_seconds
      // (a non-streamed generation is silent until it is done; a stream
      // carries events and pings). Before the answer's headers that is a 504
      // (the mapping above); after them, the stalled stream is reset.
      timeout: '0s',
      idle_timeout: seconds(settings.upstream.timeout_seconds),
    },
    // ext_proc buffers the whole body to check the model: raise the buffer
    // limit on these routes only, so Anthropic's maximum fits and more gets 413.
    // (It bounds the JSON answer json_to_metadata holds, too.)
    request_body_buffer_limit: settings.limits.max_request_body_bytes,
    typed_per_filter_config: filtersOnRoute(GATEWAY_FILTERS, USAGE_FILTERS),
  };
}

/**
 * Everything else under the gateway's path: the processor answers it (401 for
 * a missing token, 404 or 405 for the wrong path or method) and, should
 * anything get past it, Envoy's 404. In an Envoy that serves other routes too,
 * this keeps the gateway's requests, and the tokens they carry, away from
 * whatever route would otherwise catch them.
 */
function gatewayFallbackRoute(match: Json, notFound: string): Json {
  return {
    match,
    direct_response: { status: 404, body: { inline_string: notFound } },
    typed_per_filter_config: filtersOnRoute(GATEWAY_FILTERS),
  };
}

/** Envoy's usage filters; disabled but on the upstream routes (gatewayRoute). */
const STREAM_USAGE_FILTER = 'anthropic_gateway.stream_usage';
const JSON_USAGE_FILTER = 'anthropic_gateway.json_usage';
const USAGE_FILTERS = [STREAM_USAGE_FILTER, JSON_USAGE_FILTER] as const;

const REQUEST_ID_FILTER = 'envoy.filters.http.set_filter_state';
const EXT_PROC_FILTER = 'envoy.filters.http.ext_proc';
/**
 * The gateway's filters on the listener: disabled in the chain, switched on by
 * each of the gateway's routes. So an Envoy that serves other routes as well
 * (docs/integrate.md) runs them for the gateway's requests only. A route to
 * Anthropic that forgets the switch is not a way around the policy: the
 * approval check sits on the upstream cluster itself (upstreamFilters).
 */
const GATEWAY_FILTERS = [REQUEST_ID_FILTER, EXT_PROC_FILTER] as const;

/** A json_to_metadata rule writing the value at `path`, as it is (a number stays one), under the usage namespace. */
function usageRule(rule: UsageRule): Json {
  return {
    selectors: rule.path.map((key) => ({ key })),
    on_present: { metadata_namespace: USAGE_NAMESPACE, key: rule.key, type: 'PROTOBUF_VALUE' },
  };
}

/**
 * Usage, read by Envoy as the response passes (processor/metering/
 * usage-metadata.ts). An SSE stream: sse_to_metadata parses each event as it
 * goes by and forwards every byte at once, holding nothing; a later event's
 * value replaces an earlier one (cumulative message_delta). A JSON answer:
 * json_to_metadata must see the whole body, so it holds the response until
 * its last byte has arrived (docs/operations.md measures what that costs);
 * it reads only application/json, so a stream never waits for it. Both are
 * off except on the two upstream routes; the processor counts usage only of
 * their 2xx answers. Neither can fail or refuse a request: a body they cannot
 * read costs only its usage.
 */
function usageFilters(): Json[] {
  return [
    {
      name: STREAM_USAGE_FILTER,
      disabled: true,
      typed_config: typed('envoy.extensions.filters.http.sse_to_metadata.v3.SseToMetadata', {
        response_rules: {
          content_parser: {
            name: 'envoy.content_parsers.json',
            typed_config: typed('envoy.extensions.content_parsers.json.v3.JsonContentParser', {
              rules: STREAM_USAGE_RULES.map((rule) => ({ rule: usageRule(rule) })),
            }),
          },
          // An event this large is no usage event: it is passed on, unread. Usage
          // events are a few hundred bytes; this bounds what one stream holds.
          max_event_size: 64 * 1024,
        },
      }),
    },
    {
      name: JSON_USAGE_FILTER,
      disabled: true,
      typed_config: typed('envoy.extensions.filters.http.json_to_metadata.v3.JsonToMetadata', {
        response_rules: {
          rules: JSON_USAGE_RULES.map(usageRule),
          allow_content_types_regex: { regex: 'application/json(\\s*;.*)?' },
        },
      }),
    },
  ];
}

/** Turns these disabled filters on for a route. */
function filtersOnRoute(...groups: ReadonlyArray<readonly string[]>): Json {
  return Object.fromEntries(
    groups.flat().map((name) => [name, typed('envoy.config.route.v3.FilterConfig', { config: {} })]),
  );
}

/**
 * Every request's entry, when it ends, to the processor's access-log service
 * (processor/accesslog/): status, flags, timings, the method, path, user agent
 * and client address, the dynamic metadata (the policy's facts, the usage)
 * and two response headers (LOGGED_RESPONSE_HEADERS), never a request
 * header beyond Envoy's own fields. Envoy batches entries per worker on one
 * long-lived gRPC stream and never waits for it: a processor that is away or
 * slow costs access lines (counted in Envoy's access_logs.grpc_access_log.*
 * and cluster stats), never a request.
 */
function accessLog(): Json {
  return {
    name: 'envoy.access_loggers.http_grpc',
    typed_config: typed('envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig', {
      common_config: {
        log_name: ACCESS_LOG_NAME,
        transport_api_version: 'V3',
        grpc_service: { envoy_grpc: { cluster_name: ACCESS_LOG_CLUSTER } },
        buffer_flush_interval: `${ACCESS_LOG_FLUSH_INTERVAL_MS / 1000}s`,
        buffer_size_bytes: ACCESS_LOG_BUFFER_BYTES,
      },
      additional_response_headers_to_log: [...LOGGED_RESPONSE_HEADERS],
    }),
  };
}

/**
 * Lets a request on only if the processor approved it after checking its body
 * (processor/extproc/approval.ts). ext_proc lets a processor close its stream
 * at any time, and Envoy then goes on as if allowed: without this filter, a
 * processor that ended a stream early would let the request through unchecked.
 * A refusal here is Envoy's 403, rendered as a 500 api_error above; nothing is
 * sent, not even a connection opened (test/e2e/integration-snippets.test.ts).
 */
function approvalCheck(): Json {
  return {
    name: 'anthropic_gateway.approval',
    typed_config: typed('envoy.extensions.filters.http.rbac.v3.RBAC', {
      rules: {
        action: 'ALLOW',
        policies: {
          'approved-by-processor': {
            permissions: [{ any: true }],
            principals: [
              {
                // The request's dynamic metadata (the successor of the deprecated `metadata`).
                sourced_metadata: {
                  metadata_matcher: {
                    filter: METADATA_NAMESPACE,
                    path: [{ key: APPROVAL_KEY }],
                    value: { bool_match: true },
                  },
                },
              },
            ],
          },
        },
      },
    }),
  };
}

/**
 * Removes every request trailer before it is sent upstream. Trailers (HTTP/2, or
 * HTTP/1.1 chunked where a codec keeps them) never pass through the
 * processor's request-headers mutation, and Envoy would forward them to an
 * HTTP/2 upstream verbatim: a credential, a cookie or an `anthropic-beta` in a
 * trailer block would reach Anthropic unchecked. Envoy runs this only when a
 * request has trailers, so the common request pays nothing for it. The
 * emptied block goes upstream as an empty end-of-stream DATA frame: no
 * trailers at all (test/e2e/request-trailers.test.ts).
 */
function requestTrailerStrip(): Json {
  return {
    name: 'anthropic_gateway.no_request_trailers',
    typed_config: typed('envoy.extensions.filters.http.header_mutation.v3.HeaderMutation', {
      mutations: {
        request_trailers_mutations: [
          { remove_on_match: { key_matcher: { safe_regex: { regex: '(?s).*' } } } },
        ],
      },
    }),
  };
}

/**
 * HTTPS on the listener, when listen.tls names a certificate: TLS 1.2 or
 * later (Envoy's default for a server), HTTP/2 or HTTP/1.1 as the client
 * offers by ALPN (the connection manager's AUTO codec follows it). Envoy
 * reads the files when it starts.
 */
function listenerTls(tls: Settings['listen']['tls']): Json {
  if (tls === undefined) return {};
  return {
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: typed('envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext', {
        common_tls_context: {
          alpn_protocols: ['h2', 'http/1.1'],
          tls_certificates: [
            { certificate_chain: { filename: tls.cert_file }, private_key: { filename: tls.key_file } },
          ],
        },
      }),
    },
  };
}

/**
 * Envoy's admin interface has no authentication, and whoever reaches it can
 * raise Envoy's log level to debug (which logs every request's headers: the
 * gateway tokens and the Anthropic key), change its runtime or stop it. So it
 * listens on a Unix socket only Envoy's user can open; without a path here,
 * envoy/run.ts puts one in the run's private directory. TCP only when
 * admin.port is set, which the configuration warns about.
 */
function adminInterface(admin: Settings['admin']): Json {
  if (admin.port !== undefined) {
    return { address: { socket_address: { address: admin.address, port_value: admin.port } } };
  }
  if (admin.socket !== undefined) {
    return { address: { pipe: { path: admin.socket, mode: ADMIN_SOCKET_MODE } } };
  }
  return {};
}

export function renderBootstrap(settings: Settings): Json {
  const upstreamHost = new URL(settings.upstream.url).host;
  const notFound = JSON.stringify(anthropicErrorBody('not_found_error', 'not an endpoint of this gateway'));
  return {
    admin: adminInterface(settings.admin),
    layered_runtime: {
      layers: [
        {
          name: 'gateway_defaults',
          static_layer: {
            // Without this, ext_proc ends every gRPC stream to the processor with
            // a reset. Node's HTTP/2 server counts resets as a rapid-reset attack:
            // after about a thousand it closes the connection, and the requests
            // caught in between were answered 503. With it, Envoy half-closes the
            // stream and waits for the processor's trailers: no resets, and one
            // long-lived connection (test/e2e/sustained-load.test.ts).
            'envoy.reloadable_features.ext_proc_graceful_grpc_close': true,
          },
        },
        // What Envoy has when no runtime is configured: runtime changes via /runtime_modify.
        { name: 'admin', admin_layer: {} },
      ],
    },
    // A ceiling on open client connections, so a flood cannot exhaust the host.
    overload_manager: {
      resource_monitors: [
        {
          name: 'envoy.resource_monitors.global_downstream_max_connections',
          typed_config: typed(
            'envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig',
            { max_active_downstream_connections: MAX_DOWNSTREAM_CONNECTIONS },
          ),
        },
      ],
    },
    static_resources: {
      listeners: [
        {
          name: 'gateway',
          address: { socket_address: { address: settings.listen.address, port_value: settings.listen.port } },
          // Envoy sets SO_REUSEPORT by default: a second gateway on the same port
          // would start "fine" and take part of the connections. Without it, a
          // port in use is a bind error at start (docs/security.md).
          enable_reuse_port: false,
          filter_chains: [
            {
              ...listenerTls(settings.listen.tls),
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: typed(
                    'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    {
                      stat_prefix: 'gateway',
                      codec_type: 'AUTO',
                      normalize_path: true,
                      merge_slashes: true,
                      path_with_escaped_slashes_action: 'REJECT_REQUEST',
                      use_remote_address: true,
                      skip_xff_append: true,
                      server_header_transformation: 'PASS_THROUGH',
                      // :scheme upstream is the upstream connection's (https over TLS),
                      // not the client's: over HTTP/2 Envoy would otherwise send the
                      // client's `http` to Anthropic on a TLS connection.
                      scheme_header_transformation: { match_upstream: true },
                      // Silence on a stream (the gateway's routes set the same as their idle_timeout).
                      stream_idle_timeout: seconds(settings.upstream.timeout_seconds),
                      // Slow clients (docs/security.md, "Slow clients"). None of these
                      // bounds a response: an SSE stream may last as long as the route
                      // timeout allows. From a request's first byte to its last header.
                      request_headers_timeout: seconds(settings.listen.request_headers_timeout_seconds),
                      // From a request's first byte until the filters have let its last
                      // byte on (the processor's decision included), or a reply starts.
                      request_timeout: seconds(settings.listen.request_timeout_seconds),
                      common_http_protocol_options: {
                        // A connection with no request in flight (one that never sends a
                        // byte, or a kept-alive one between requests).
                        idle_timeout: seconds(settings.listen.idle_timeout_seconds),
                      },
                      http2_protocol_options: { max_concurrent_streams: MAX_CONCURRENT_STREAMS },
                      local_reply_config: localReplyConfig(settings),
                      access_log: [accessLog()],
                      route_config: {
                        name: 'gateway',
                        virtual_hosts: [
                          {
                            name: 'gateway',
                            domains: ['*'],
                            routes: [
                              ...UPSTREAM_ROUTES.map((entry) => gatewayRoute(entry, settings, upstreamHost)),
                              gatewayFallbackRoute({ path_separated_prefix: BASE_PATH }, notFound),
                              // Everything else, on the gateway's own listener: answered the same way.
                              gatewayFallbackRoute({ prefix: '/' }, notFound),
                            ],
                          },
                        ],
                      },
                      http_filters: [
                        {
                          name: REQUEST_ID_FILTER,
                          // On the gateway's routes only (GATEWAY_FILTERS).
                          disabled: true,
                          typed_config: typed('envoy.extensions.filters.http.set_filter_state.v3.Config', {
                            on_request_headers: [
                              {
                                object_key: REQUEST_ID_STATE,
                                factory_key: 'envoy.string',
                                format_string: {
                                  text_format_source: {
                                    inline_string: `%REQ(${REQUEST_ID_HEADER.toUpperCase()})%`,
                                  },
                                },
                              },
                            ],
                          }),
                        },
                        {
                          name: EXT_PROC_FILTER,
                          // On the gateway's routes only (GATEWAY_FILTERS).
                          disabled: true,
                          typed_config: typed('envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor', {
                            grpc_service: { envoy_grpc: { cluster_name: PROCESSOR_CLUSTER } },
                            // Fail closed: nothing reaches the upstream unchecked.
                            failure_mode_allow: false,
                            // "Unavailable", which the SDKs retry; rendered as api_error below.
                            status_on_error: { code: 503 },
                            message_timeout: `${settings.processor.message_timeout_ms / 1000}s`,
                            processing_mode: {
                              request_header_mode: 'SEND',
                              request_body_mode: 'BUFFERED',
                              // Sent only when a request has trailers. In BUFFERED mode Envoy
                              // sends no body at all when trailers follow the headers directly:
                              // the trailers are then the processor's only sign that the request
                              // ended without one (refused as an empty body, not left to the
                              // approval check). Trailers are removed before the router anyway.
                              request_trailer_mode: 'SEND',
                              response_header_mode: 'SKIP',
                              response_body_mode: 'NONE',
                              response_trailer_mode: 'SKIP',
                            },
                            // The processor removes client-sent x-envoy-* headers; a
                            // mutation Envoy refuses is an error, not a silent pass.
                            mutation_rules: { allow_envoy: true, disallow_is_error: true },
                            // The request's facts, for the access log, and the processor's
                            // approval, for the approval check: the one namespace the
                            // processor may write.
                            metadata_options: { receiving_namespaces: { untyped: [METADATA_NAMESPACE] } },
                          }),
                        },
                        ...usageFilters(),
                        {
                          name: 'envoy.filters.http.router',
                          typed_config: typed('envoy.extensions.filters.http.router.v3.Router', {
                            suppress_envoy_headers: true,
                          }),
                        },
                      ],
                    },
                  ),
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        upstreamCluster(settings),
        processorCluster(settings, PROCESSOR_CLUSTER),
        processorCluster(settings, ACCESS_LOG_CLUSTER),
      ],
    },
  };
}
