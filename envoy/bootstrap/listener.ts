// The gateway's listener: the HTTP connection manager with its routes (from
// processor/contract/routes.ts), its HTTP filters (the request id, ext_proc,
// the usage filters, the router), its local replies and its access log.
import type { Settings } from '../../processor/config/load.ts';
import {
  ACCESS_LOG_BUFFER_BYTES,
  ACCESS_LOG_FLUSH_INTERVAL_MS,
  ACCESS_LOG_NAME,
  LOGGED_RESPONSE_HEADERS,
} from '../../processor/contract/access-log.ts';
import { anthropicErrorBody } from '../../processor/contract/errors.ts';
import { METADATA_NAMESPACE, REQUEST_ID_HEADER } from '../../processor/contract/names.ts';
import { BASE_PATH, UPSTREAM_ROUTES } from '../../processor/contract/routes.ts';
import {
  JSON_USAGE_RULES,
  STREAM_USAGE_RULES,
  USAGE_NAMESPACE,
  type UsageRule,
} from '../../processor/contract/usage.ts';
import {
  ACCESS_LOG_CLUSTER,
  EXT_PROC_FILTER,
  filtersOnRoute,
  GATEWAY_FILTERS,
  JSON_USAGE_FILTER,
  PROCESSOR_CLUSTER,
  REQUEST_ID_FILTER,
  REQUEST_ID_STATE,
  STREAM_USAGE_FILTER,
  seconds,
  typed,
  UPSTREAM_CLUSTER,
  USAGE_FILTERS,
} from './common.ts';
import { localReplyConfig } from './local-replies.ts';
import type {
  AccessLog,
  HttpFilter,
  JsonToMetadataRule,
  Listener,
  Route,
  RouteMatch,
  TransportSocket,
} from './types.ts';

/**
 * Streams one HTTP/2 client connection may have open at once (Envoy's default
 * is 2^31 - 1): every stream gets the listener's timeouts, but without a cap
 * one connection could keep that many slow requests open.
 */
export const MAX_CONCURRENT_STREAMS = 100;

/** One of the routes to Anthropic (processor/contract/routes.ts). */
export function gatewayRoute(
  entry: (typeof UPSTREAM_ROUTES)[number],
  settings: Settings,
  upstreamHost: string,
): Route {
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
      // (local-replies.ts); after them, the stalled stream is reset.
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
export function gatewayFallbackRoute(match: RouteMatch, notFound: string): Route {
  return {
    match,
    direct_response: { status: 404, body: { inline_string: notFound } },
    typed_per_filter_config: filtersOnRoute(GATEWAY_FILTERS),
  };
}

/** A json_to_metadata rule writing the value at `path`, as it is (a number stays one), under the usage namespace. */
export function usageRule(rule: UsageRule): JsonToMetadataRule {
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
export function usageFilters(): HttpFilter[] {
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
export function accessLog(): AccessLog {
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
 * HTTPS on the listener, when listen.tls names a certificate: TLS 1.2 or
 * later (Envoy's default for a server), HTTP/2 or HTTP/1.1 as the client
 * offers by ALPN (the connection manager's AUTO codec follows it). Envoy
 * reads the files when it starts.
 */
export function listenerTls(tls: Settings['listen']['tls']): { readonly transport_socket?: TransportSocket } {
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

/** The gateway's listener: its connection manager, its routes, its HTTP filters and its access log. */
export function gatewayListener(settings: Settings): Listener {
  const upstreamHost = new URL(settings.upstream.url).host;
  const notFound = JSON.stringify(anthropicErrorBody('not_found_error', 'not an endpoint of this gateway'));
  return {
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
                      // "Unavailable", which the SDKs retry; rendered as api_error (local-replies.ts).
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
  };
}
