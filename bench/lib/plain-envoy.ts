// Plain Envoy, the physical limit the gateway is measured against: the
// gateway's own bootstrap (envoy/bootstrap/) with the processor's parts
// taken out (the policy ext_proc, the approval check that only the processor
// can satisfy, and Envoy's usage filters and access log that exist to feed
// it), so listener, routes, rewrites, local replies and clusters are the same
// and the difference is exactly the processor.
import {
  APPROVAL_FILTER,
  JSON_USAGE_FILTER,
  renderBootstrap,
  STREAM_USAGE_FILTER,
} from '../../envoy/bootstrap/index.ts';
import type { Settings } from '../../processor/config/load.ts';

/** The http filters and access loggers that exist for the processor; each appears exactly once. */
export const PROCESSOR_FILTERS = [
  'envoy.filters.http.ext_proc',
  APPROVAL_FILTER,
  STREAM_USAGE_FILTER,
  JSON_USAGE_FILTER,
  'envoy.access_loggers.http_grpc',
] as const;

type Json = Record<string, unknown>;

/** The lists whose items are removed by name: a connection manager's filters and access loggers. */
const NAMED_LISTS = ['http_filters', 'access_log'] as const;

/**
 * Removes every http filter or access logger named `name`, wherever it sits,
 * and any route's per-filter configuration for it; returns how many filters.
 */
export function removeHttpFilter(node: unknown, name: string): number {
  if (Array.isArray(node)) return node.reduce<number>((n, item) => n + removeHttpFilter(item, name), 0);
  if (node === null || typeof node !== 'object') return 0;
  const object = node as Json;
  let removed = 0;
  for (const key of NAMED_LISTS) {
    const items = object[key];
    if (!Array.isArray(items)) continue;
    const kept = items.filter((f) => (f as Json).name !== name);
    removed += items.length - kept.length;
    object[key] = kept;
  }
  const perRoute = object.typed_per_filter_config as Json | undefined;
  if (perRoute !== undefined && name in perRoute) {
    delete perRoute[name];
    if (Object.keys(perRoute).length === 0) delete object.typed_per_filter_config;
  }
  for (const value of Object.values(object)) removed += removeHttpFilter(value, name);
  return removed;
}

export function renderPlainEnvoyBootstrap(settings: Settings): Json {
  // Rewritten as plain JSON, whatever its messages.
  const bootstrap = renderBootstrap(settings) as unknown as Json;
  for (const name of PROCESSOR_FILTERS) {
    if (removeHttpFilter(bootstrap, name) !== 1) {
      throw new Error(`the gateway bootstrap no longer has exactly one ${name} filter`);
    }
  }
  return bootstrap;
}
