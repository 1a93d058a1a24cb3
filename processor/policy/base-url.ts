// The base URL to tell a client that reached the gateway at the wrong path
// (no /ai-gateway/anthropic prefix, or a base URL ending in /v1): the scheme
// and host it used, when they look like a scheme and a host, else a
// placeholder. The host is the client's own header: only a plain host name
// or address with an optional port is repeated, never arbitrary text.

import { BASE_PATH } from '../contract/routes.ts';
import { firstHeader, type HeaderList } from './headers.ts';

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** E.g. `http://localhost:8080/ai-gateway/anthropic`. */
export function suggestedBaseUrl(headers: HeaderList): string {
  // Envoy sets both before any filter; x-forwarded-proto keeps a TLS load
  // balancer's scheme when Envoy is told to trust it.
  const proto = firstHeader(headers, 'x-forwarded-proto') ?? firstHeader(headers, ':scheme');
  const scheme = proto === 'http' || proto === 'https' ? proto : 'http(s)';
  const authority = firstHeader(headers, ':authority') ?? firstHeader(headers, 'host');
  const host = authority !== undefined && HOST.test(authority) ? authority : '<gateway-host>';
  return `${scheme}://${host}${BASE_PATH}`;
}
