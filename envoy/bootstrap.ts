// Renders the Envoy bootstrap for the gateway from the settings. The launcher
// (`npm start`), the tests and the checked-in envoy/envoy.yaml all come from
// this one function, so they cannot drift apart.
import type { Settings } from '../processor/config/load.ts';
import { renderErrorBody } from '../processor/policy/errors.ts';
import { BASE_PATH } from '../processor/policy/routes.ts';

type Json = Record<string, unknown>;

const UPSTREAM_CLUSTER = 'anthropic_upstream';
const PROCESSOR_CLUSTER = 'ext_proc_processor';
/** Set by the processor on every ImmediateResponse (processor/extproc/responses.ts). */
const GATEWAY_DETAILS_PREFIX = 'anthropic_gateway_';

/**
 * Envoy's x-request-id, kept in filter state by the first HTTP filter: the
 * processor removes the header itself (it must not go upstream), and Envoy's
 * own error replies still need it for their request-id header.
 */
const REQUEST_ID_STATE = 'anthropic_gateway.request_id';
const REQUEST_ID = `%FILTER_STATE(${REQUEST_ID_STATE}:PLAIN)%`;

const MAX_DOWNSTREAM_CONNECTIONS = 50_000;

const typed = (type: string, config: Json): Json => ({ '@type': `type.googleapis.com/${type}`, ...config });
const seconds = (value: number): string => `${value}s`;

/** `host:port` or `unix:/path` to an Envoy address. */
function processorAddress(address: string): Json {
  if (address.startsWith('unix:')) return { pipe: { path: address.slice('unix:'.length) } };
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  return { socket_address: { address: host, port_value: Number(address.slice(colon + 1)) } };
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
                  trusted_ca: { filename: '/etc/ssl/certs/ca-certificates.crt' },
                  match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: host } }],
                },
              },
            }),
          },
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': typed(
              'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              { auto_config: { http2_protocol_options: {}, http_protocol_options: {} } },
            ),
          },
        }
      : {}),
  };
}

function processorCluster(settings: Settings): Json {
  return {
    name: PROCESSOR_CLUSTER,
    type: 'STATIC',
    connect_timeout: '1s',
    // gRPC needs HTTP/2; one connection multiplexes every request's stream.
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': typed(
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        { explicit_http_config: { http2_protocol_options: {} } },
      ),
    },
    load_assignment: {
      cluster_name: PROCESSOR_CLUSTER,
      endpoints: [
        { lb_endpoints: [{ endpoint: { address: processorAddress(settings.processor.address) } }] },
      ],
    },
  };
}

/** Envoy's own error replies matching `filter`, rewritten to Anthropic's error shape. */
function errorMapper(filter: Json, status: number, type: string, message: string): Json {
  const body = JSON.parse(
    renderErrorBody({ status, type: type as never, message, reason: '' }).toString(),
  ) as Json;
  return {
    filter: { and_filter: { filters: [filter, notFromProcessor()] } },
    status_code: status,
    headers_to_add: [
      { header: { key: 'request-id', value: REQUEST_ID }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
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

function both(a: Json, b: Json): Json {
  return { and_filter: { filters: [a, b] } };
}

function localReplyConfig(settings: Settings): Json {
  const mib = Math.floor(settings.limits.max_request_body_bytes / (1024 * 1024));
  return {
    mappers: [
      // First match wins: the processor's failures before the generic statuses.
      errorMapper(
        both(extProcFailure(), statusIn(504)),
        504,
        'timeout_error',
        "the gateway's policy check timed out; nothing was sent upstream",
      ),
      errorMapper(
        extProcFailure(),
        503,
        'api_error',
        "the gateway's policy service is unavailable; nothing was sent upstream",
      ),
      errorMapper(
        statusIn(413),
        413,
        'request_too_large',
        `request body is larger than the gateway's limit of ${mib} MiB`,
      ),
      errorMapper(statusIn(431), 431, 'request_too_large', 'request headers are too large'),
      errorMapper(statusIn(408), 408, 'timeout_error', 'timed out receiving the request'),
      errorMapper(statusIn(504), 504, 'timeout_error', 'the upstream did not answer in time'),
      errorMapper(statusIn(502, 503), 503, 'api_error', 'the upstream is unreachable; try again'),
      errorMapper(statusIn(500), 500, 'api_error', 'the gateway failed to process the request'),
      errorMapper(statusIn(404), 404, 'not_found_error', 'not found'),
      errorMapper(statusIn(400), 400, 'invalid_request_error', 'malformed HTTP request'),
    ],
  };
}

function gatewayRoute(path: string, upstreamPath: string, settings: Settings, upstreamHost: string): Json {
  return {
    match: { path, headers: [{ name: ':method', string_match: { exact: 'POST' } }] },
    route: {
      cluster: UPSTREAM_CLUSTER,
      prefix_rewrite: upstreamPath,
      host_rewrite_literal: upstreamHost,
      timeout: seconds(settings.upstream.timeout_seconds),
    },
    // ext_proc buffers the whole body to check the model: raise the buffer
    // limit on these routes only, so Anthropic's maximum fits and more gets 413.
    request_body_buffer_limit: settings.limits.max_request_body_bytes,
  };
}

export function renderBootstrap(settings: Settings): Json {
  const upstreamHost = new URL(settings.upstream.url).host;
  const notFound = renderErrorBody({
    status: 404,
    type: 'not_found_error',
    message: 'not an endpoint of this gateway',
    reason: '',
  }).toString();
  return {
    admin: {
      address: { socket_address: { address: settings.admin.address, port_value: settings.admin.port } },
    },
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
          filter_chains: [
            {
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
                      // Long generations stream for minutes; the route timeout bounds them.
                      stream_idle_timeout: seconds(settings.upstream.timeout_seconds),
                      local_reply_config: localReplyConfig(settings),
                      route_config: {
                        name: 'gateway',
                        virtual_hosts: [
                          {
                            name: 'gateway',
                            domains: ['*'],
                            routes: [
                              gatewayRoute(
                                `${BASE_PATH}/v1/messages`,
                                '/v1/messages',
                                settings,
                                upstreamHost,
                              ),
                              gatewayRoute(
                                `${BASE_PATH}/v1/messages/count_tokens`,
                                '/v1/messages/count_tokens',
                                settings,
                                upstreamHost,
                              ),
                              // Everything else: the processor has already answered 401/404/405;
                              // this is the second line should anything get past it.
                              {
                                match: { prefix: '/' },
                                direct_response: { status: 404, body: { inline_string: notFound } },
                              },
                            ],
                          },
                        ],
                      },
                      http_filters: [
                        {
                          name: 'envoy.filters.http.set_filter_state',
                          typed_config: typed('envoy.extensions.filters.http.set_filter_state.v3.Config', {
                            on_request_headers: [
                              {
                                object_key: REQUEST_ID_STATE,
                                factory_key: 'envoy.string',
                                format_string: {
                                  text_format_source: { inline_string: '%REQ(X-REQUEST-ID)%' },
                                },
                              },
                            ],
                          }),
                        },
                        {
                          name: 'envoy.filters.http.ext_proc',
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
                              request_trailer_mode: 'SKIP',
                              response_header_mode: 'SKIP',
                              response_body_mode: 'NONE',
                              response_trailer_mode: 'SKIP',
                            },
                            // The processor removes client-sent x-envoy-* headers; a
                            // mutation Envoy refuses is an error, not a silent pass.
                            mutation_rules: { allow_envoy: true, disallow_is_error: true },
                          }),
                        },
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
      clusters: [upstreamCluster(settings), processorCluster(settings)],
    },
  };
}
