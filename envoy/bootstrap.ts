// Renders the Envoy bootstrap for the gateway from the settings. The launcher
// (`npm start`), the tests and the checked-in envoy/envoy.yaml all come from
// this one function, so they cannot drift apart.
import type { Settings } from '../processor/config/load.ts';
import { EXT_PROC_SERVICE } from '../processor/ops/health-names.ts';
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

/** A host name (the compose service `processor`, a Kubernetes Service) rather than an IP or a socket. */
function isHostName(address: string): boolean {
  if (address.startsWith('unix:')) return false;
  const host = address.slice(0, address.lastIndexOf(':'));
  return !/^[\d.]+$/.test(host) && !host.startsWith('[');
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

function processorCluster(settings: Settings): Json {
  return {
    name: PROCESSOR_CLUSTER,
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

/** Envoy's own error replies, rewritten to Anthropic's error shape. */
function errorMapper(statuses: readonly number[], status: number, type: string, message: string): Json {
  const body = JSON.parse(
    renderErrorBody({ status, type: type as never, message, reason: '' }).toString(),
  ) as Json;
  return {
    filter: {
      and_filter: {
        filters: [
          statuses.length === 1
            ? statusIs(statuses[0] as number)
            : { or_filter: { filters: statuses.map(statusIs) } },
          notFromProcessor(),
        ],
      },
    },
    status_code: status,
    headers_to_add: [
      { header: { key: 'request-id', value: REQUEST_ID }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    ],
    body_format_override: { json_format: body },
  };
}

function statusIs(status: number): Json {
  return {
    status_code_filter: {
      comparison: {
        op: 'EQ',
        value: { default_value: status, runtime_key: `gateway.local_reply.${status}` },
      },
    },
  };
}

/** The processor's replies are already Anthropic-shaped: leave them alone. */
function notFromProcessor(): Json {
  return {
    extension_filter: {
      name: 'envoy.access_loggers.extension_filters.cel',
      typed_config: typed('envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter', {
        expression: `!response.code_details.startsWith('${GATEWAY_DETAILS_PREFIX}')`,
      }),
    },
  };
}

function localReplyConfig(settings: Settings): Json {
  const mib = Math.floor(settings.limits.max_request_body_bytes / (1024 * 1024));
  return {
    mappers: [
      errorMapper(
        [413],
        413,
        'request_too_large',
        `request body is larger than the gateway's limit of ${mib} MiB`,
      ),
      errorMapper([431], 431, 'request_too_large', 'request headers are too large'),
      errorMapper([408], 408, 'timeout_error', 'timed out receiving the request'),
      errorMapper([504], 504, 'timeout_error', 'the upstream did not answer in time'),
      errorMapper(
        [502, 503],
        503,
        'api_error',
        'the gateway could not reach a service it depends on; try again',
      ),
      errorMapper([500], 500, 'api_error', 'the gateway failed to process the request'),
      errorMapper([404], 404, 'not_found_error', 'not found'),
      errorMapper([400], 400, 'invalid_request_error', 'malformed HTTP request'),
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
