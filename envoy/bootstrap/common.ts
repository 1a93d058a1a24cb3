// What the parts of the bootstrap share: the names Envoy alone uses (clusters,
// filters, filter state; the names shared with the processor are in
// processor/contract/), and small builders of Envoy's JSON.

import type { AccessLogFilter, Any, Http2ProtocolOptions, TypedConfigs } from './types.ts';

export const UPSTREAM_CLUSTER = 'anthropic_upstream';
export const PROCESSOR_CLUSTER = 'ext_proc_processor';
/** The same processor, on a connection of its own, for Envoy's access-log stream: it never queues policy decisions. */
export const ACCESS_LOG_CLUSTER = 'processor_access_log';

/**
 * Envoy's x-request-id, kept in filter state by the first HTTP filter: the
 * processor removes the header itself (it must not go upstream), and Envoy's
 * own error replies still need it for their request-id header.
 */
export const REQUEST_ID_STATE = 'anthropic_gateway.request_id';
export const REQUEST_ID = `%FILTER_STATE(${REQUEST_ID_STATE}:PLAIN)%`;

/** A typed_config: `config` as the message `type`, checked against that message's fields. */
export function typed<Name extends keyof TypedConfigs>(type: Name, config: TypedConfigs[Name]): Any {
  return { '@type': `type.googleapis.com/${type}`, ...config } as Any;
}
export const seconds = (value: number): string => `${value}s`;

/**
 * HTTP/2 options that ping the connection every `interval` seconds and close
 * it when a ping goes unanswered for `timeout` (Envoy extends the wait while
 * other frames arrive). A connection whose peer vanished without a FIN or RST
 * (a host gone, a NAT or firewall that dropped the flow) otherwise looks
 * alive for ever, and every request sent on it waits for its own timeout;
 * once it is closed, the next request opens a new connection. An interval of
 * 0 turns the pings off.
 */
export function connectionKeepalive(interval: number, timeout: number): Http2ProtocolOptions {
  if (interval === 0) return {};
  // Whole milliseconds: a float's long tail of digits is not a valid Duration.
  const duration = (value: number) => `${Math.round(value * 1000) / 1000}s`;
  return { connection_keepalive: { interval: duration(interval), timeout: duration(timeout) } };
}

export function cel(expression: string): AccessLogFilter {
  return {
    extension_filter: {
      name: 'envoy.access_loggers.extension_filters.cel',
      typed_config: typed('envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter', { expression }),
    },
  };
}

/** Envoy's usage filters; disabled but on the upstream routes (gatewayRoute). */
export const STREAM_USAGE_FILTER = 'anthropic_gateway.stream_usage';
export const JSON_USAGE_FILTER = 'anthropic_gateway.json_usage';
export const USAGE_FILTERS = [STREAM_USAGE_FILTER, JSON_USAGE_FILTER] as const;

export const REQUEST_ID_FILTER = 'envoy.filters.http.set_filter_state';
export const EXT_PROC_FILTER = 'envoy.filters.http.ext_proc';
/**
 * The gateway's filters on the listener: disabled in the chain, switched on by
 * each of the gateway's routes. So an Envoy that serves other routes as well
 * (docs/integrate.md) runs them for the gateway's requests only. A route to
 * Anthropic that forgets the switch is not a way around the policy: the
 * approval check sits on the upstream cluster itself (upstreamFilters).
 */
export const GATEWAY_FILTERS = [REQUEST_ID_FILTER, EXT_PROC_FILTER] as const;

/** Turns these disabled filters on for a route. */
export function filtersOnRoute(...groups: ReadonlyArray<readonly string[]>): {
  readonly [filter: string]: Any;
} {
  return Object.fromEntries(
    groups.flat().map((name) => [name, typed('envoy.config.route.v3.FilterConfig', { config: {} })]),
  );
}

/** The approval check and the trailer strip on the upstream cluster (clusters.ts). */
export const APPROVAL_FILTER = 'anthropic_gateway.approval';
export const NO_REQUEST_TRAILERS_FILTER = 'anthropic_gateway.no_request_trailers';
