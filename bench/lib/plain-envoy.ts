// Plain Envoy, the physical limit the gateway is measured against: the
// gateway's own bootstrap (envoy/bootstrap.ts) with the processor's filters
// taken out (the policy ext_proc, the metering ext_proc and the approval check
// that only the processor can satisfy), so listener, routes, rewrites, local
// replies and clusters are the same and the difference is exactly the processor.
import { renderBootstrap } from '../../envoy/bootstrap.ts';
import type { Settings } from '../../processor/config/load.ts';

/** The filters that exist for the processor; each appears exactly once. */
export const PROCESSOR_FILTERS = [
  'envoy.filters.http.ext_proc',
  'anthropic_gateway.metering',
  'anthropic_gateway.approval',
] as const;

type Json = Record<string, unknown>;

/** Removes every http filter named `name`, wherever it sits; returns how many. */
export function removeHttpFilter(node: unknown, name: string): number {
  if (Array.isArray(node)) return node.reduce<number>((n, item) => n + removeHttpFilter(item, name), 0);
  if (node === null || typeof node !== 'object') return 0;
  const object = node as Json;
  let removed = 0;
  const filters = object.http_filters;
  if (Array.isArray(filters)) {
    const kept = filters.filter((f) => (f as Json).name !== name);
    removed += filters.length - kept.length;
    object.http_filters = kept;
  }
  for (const value of Object.values(object)) removed += removeHttpFilter(value, name);
  return removed;
}

export function renderPlainEnvoyBootstrap(settings: Settings): Json {
  const bootstrap = renderBootstrap(settings);
  for (const name of PROCESSOR_FILTERS) {
    if (removeHttpFilter(bootstrap, name) !== 1) {
      throw new Error(`the gateway bootstrap no longer has exactly one ${name} filter`);
    }
  }
  return bootstrap;
}
