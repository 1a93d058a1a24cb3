// Which request headers go upstream: an allowlist, never a denylist. Every
// header the client sent that is not on it is removed (credentials, cookies,
// x-forwarded-*, x-request-id, x-envoy-*, x-stainless-*, anything new), and the
// workspace's credential is set as x-api-key.
import type { HeaderList } from './headers.ts';

/** Forwarded as the client sent them (the seed's list, compared lower-case). */
export const FORWARDED_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'anthropic-beta',
  'anthropic-version',
  'content-type',
  'user-agent',
]);

/**
 * What HTTP itself needs. Envoy rewrites `host` for the upstream (the route's
 * host_rewrite_literal) and recomputes framing; ext_proc may not touch them.
 */
const TRANSPORT_HEADERS: ReadonlySet<string> = new Set(['host', 'content-length']);

export const UPSTREAM_CREDENTIAL_HEADER = 'x-api-key';

/** The names to remove so that only the allowlist, transport and pseudo-headers remain. */
export function headersToRemove(headers: HeaderList): string[] {
  const remove: string[] = [];
  for (const [name] of headers) {
    if (name.charCodeAt(0) === 0x3a /* ':' pseudo-header */) continue;
    if (FORWARDED_HEADERS.has(name) || TRANSPORT_HEADERS.has(name)) continue;
    // x-api-key is overwritten with the workspace credential, not removed.
    if (name === UPSTREAM_CREDENTIAL_HEADER) continue;
    if (!remove.includes(name)) remove.push(name);
  }
  return remove;
}
