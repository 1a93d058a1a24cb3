// The clusters: Anthropic upstream, and the processor twice (policy decisions
// and the access-log stream, each on connections of its own).
import { type Address, isHostName } from '../../processor/config/address.ts';
import type { Settings } from '../../processor/config/load.ts';
import { APPROVAL_KEY, EXT_PROC_SERVICE, METADATA_NAMESPACE } from '../../processor/contract/names.ts';
import {
  ACCESS_LOG_CLUSTER,
  APPROVAL_FILTER,
  connectionKeepalive,
  NO_REQUEST_TRAILERS_FILTER,
  PROCESSOR_CLUSTER,
  seconds,
  typed,
  UPSTREAM_CLUSTER,
} from './common.ts';
import type { Cluster, Address as EnvoyAddress, HealthCheck, HttpFilter } from './types.ts';

/** The processor's address (parsed by the configuration) as an Envoy address. */
export function processorAddress(address: Address): EnvoyAddress {
  if (address.kind === 'unix') return { pipe: { path: address.path } };
  return { socket_address: { address: address.host, port_value: address.port } };
}

export function upstreamCluster(settings: Settings): Cluster {
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
export function upstreamFilters(): HttpFilter[] {
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
 * Envoy asks the processor's grpc.health.v1 service (processor/health/service.ts)
 * and stops choosing a replica that answers NOT_SERVING (one shutting down) or
 * does not answer. With every replica unhealthy (one processor that is down),
 * Envoy's panic mode still tries them: a request then gets the processor's
 * decision or, if none can be had, Envoy's 503. Health never opens a way
 * around the processor; fail-closed stays with ext_proc's failure_mode_allow.
 * An unhealthy host is probed every second, so a processor that comes back is
 * used again quickly.
 */
export const PROCESSOR_HEALTH_CHECK: HealthCheck = {
  timeout: '1s',
  interval: '5s',
  unhealthy_interval: '1s',
  // Without this, an idle cluster is probed only every 60 s.
  no_traffic_interval: '5s',
  unhealthy_threshold: 2,
  healthy_threshold: 1,
  grpc_health_check: { service_name: EXT_PROC_SERVICE },
};

export function processorCluster(settings: Settings, name: string): Cluster {
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

/**
 * Lets a request on only if the processor approved it after checking its body
 * (processor/extproc/approval.ts). ext_proc lets a processor close its stream
 * at any time, and Envoy then goes on as if allowed: without this filter, a
 * processor that ended a stream early would let the request through unchecked.
 * A refusal here is Envoy's 403, rendered as a 500 api_error (local-replies.ts); nothing is
 * sent, not even a connection opened (test/e2e/integration-snippets.test.ts).
 */
export function approvalCheck(): HttpFilter {
  return {
    name: APPROVAL_FILTER,
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
export function requestTrailerStrip(): HttpFilter {
  return {
    name: NO_REQUEST_TRAILERS_FILTER,
    typed_config: typed('envoy.extensions.filters.http.header_mutation.v3.HeaderMutation', {
      mutations: {
        request_trailers_mutations: [
          { remove_on_match: { key_matcher: { safe_regex: { regex: '(?s).*' } } } },
        ],
      },
    }),
  };
}

/** Every cluster of the bootstrap. */
export function clusters(settings: Settings): Cluster[] {
  return [
    upstreamCluster(settings),
    processorCluster(settings, PROCESSOR_CLUSTER),
    processorCluster(settings, ACCESS_LOG_CLUSTER),
  ];
}
