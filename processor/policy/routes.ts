// Which requests the gateway serves. Only these routes reach the upstream; the
// Envoy route table mirrors them (envoy/bootstrap.ts) as a second line.
import { type GatewayError, methodNotAllowed, notFound } from './errors.ts';

export const BASE_PATH = '/ai-gateway/anthropic';

export type UpstreamRoute = 'messages' | 'count_tokens';

const UPSTREAM_ROUTES: ReadonlyMap<string, UpstreamRoute> = new Map([
  [`${BASE_PATH}/v1/messages`, 'messages'],
  [`${BASE_PATH}/v1/messages/count_tokens`, 'count_tokens'],
]);

export type RouteMatch =
  | { readonly kind: 'upstream'; readonly route: UpstreamRoute }
  | { readonly kind: 'error'; readonly error: GatewayError };

/** `path` is the request's `:path`: the query string, if any, is ignored here and kept upstream. */
export function matchRoute(method: string, path: string): RouteMatch {
  const query = path.indexOf('?');
  const pathOnly = query === -1 ? path : path.slice(0, query);
  const route = UPSTREAM_ROUTES.get(pathOnly);
  if (route === undefined) {
    // A CONNECT has no path at all.
    const what = pathOnly === '' ? `a ${method} request without a path` : pathOnly;
    return { kind: 'error', error: notFound(`${what} is not an endpoint of this gateway`) };
  }
  if (method !== 'POST') {
    return { kind: 'error', error: methodNotAllowed(method, 'POST') };
  }
  return { kind: 'upstream', route };
}
