// Which requests the gateway serves: the processor's side of the routes table
// (processor/contract/routes.ts), from which Envoy's route table is rendered
// too, as a second line. The models listing and the HEAD probe are answered by
// the processor itself, before Envoy's router, so they need no Envoy route.
import { MALFORMED_REQUEST_MESSAGE } from '../contract/errors.ts';
import { BASE_PATH, MODELS_ROUTE, UPSTREAM_ROUTES, type UpstreamRoute } from '../contract/routes.ts';
import { type GatewayError, invalidRequest, methodNotAllowed, notFound } from './errors.ts';
import { isWellFormedTarget } from './request-target.ts';

const UPSTREAM_BY_PATH: ReadonlyMap<string, (typeof UPSTREAM_ROUTES)[number]> = new Map(
  UPSTREAM_ROUTES.map((route) => [route.path, route]),
);

export const MODELS_PATH = MODELS_ROUTE.path;
const V1_PREFIX = `${BASE_PATH}/v1/`;

/** Where `HEAD` gets 200 without a credential (see PROBE_REPLY). */
const PROBE_PATHS: ReadonlySet<string> = new Set([
  BASE_PATH,
  `${BASE_PATH}/`,
  `${BASE_PATH}/api/hello`,
  ...UPSTREAM_BY_PATH.keys(),
  MODELS_PATH,
]);

export type RouteMatch =
  | { readonly kind: 'upstream'; readonly route: UpstreamRoute }
  /** GET /v1/models (modelId undefined) or GET /v1/models/{modelId}; `query` without the `?`. */
  | { readonly kind: 'models'; readonly modelId: string | undefined; readonly query: string }
  | { readonly kind: 'probe' }
  | { readonly kind: 'error'; readonly error: GatewayError };

const PROBE: RouteMatch = { kind: 'probe' };

/** The answer Envoy gives the same bytes over HTTP/1.1 (request-target.ts). */
const MALFORMED_TARGET: RouteMatch = {
  kind: 'error',
  error: invalidRequest('malformed_target', MALFORMED_REQUEST_MESSAGE),
};

/**
 * `path` is the request's `:path`: the query string, if any, is ignored here
 * and kept upstream. `baseUrl` gives the base URL to suggest to a client that
 * used a wrong one (asked only then).
 */
export function matchRoute(
  method: string,
  path: string,
  baseUrl: () => string = () => `http(s)://<gateway-host>${BASE_PATH}`,
): RouteMatch {
  if (!isWellFormedTarget(path)) return MALFORMED_TARGET;
  const query = path.indexOf('?');
  const pathOnly = query === -1 ? path : path.slice(0, query);
  const route = UPSTREAM_BY_PATH.get(pathOnly);
  if (route !== undefined) {
    if (method === route.method) return { kind: 'upstream', route: route.name };
    if (method === 'HEAD') return PROBE;
    return { kind: 'error', error: methodNotAllowed(method, route.method) };
  }
  if (pathOnly === MODELS_PATH || pathOnly.startsWith(`${MODELS_PATH}/`)) {
    return matchModels(method, pathOnly, query === -1 ? '' : path.slice(query + 1), baseUrl);
  }
  if (method === 'HEAD' && PROBE_PATHS.has(pathOnly)) return PROBE;
  if (pathOnly === '') {
    // A CONNECT has no path at all.
    return {
      kind: 'error',
      error: notFound(`a ${method} request without a path is not an endpoint of this gateway`),
    };
  }
  return { kind: 'error', error: notServed(pathOnly, baseUrl) };
}

function matchModels(method: string, pathOnly: string, query: string, baseUrl: () => string): RouteMatch {
  let modelId: string | undefined;
  if (pathOnly !== MODELS_PATH) {
    const segment = pathOnly.slice(MODELS_PATH.length + 1);
    // One path segment, percent-decoded; anything else names no model.
    const decoded = segment.includes('/') ? undefined : decodeSegment(segment);
    if (decoded === undefined || decoded === '') {
      return { kind: 'error', error: notServed(pathOnly, baseUrl) };
    }
    modelId = decoded;
  }
  if (method === MODELS_ROUTE.method) return { kind: 'models', modelId, query };
  if (method === 'HEAD' && modelId === undefined) return PROBE;
  return { kind: 'error', error: methodNotAllowed(method, MODELS_ROUTE.method) };
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

const SERVED = 'POST /v1/messages, POST /v1/messages/count_tokens and GET /v1/models';

/** An Anthropic API path (a `v1` segment) outside the base path: the client's base URL lacks the prefix. */
const API_PATH = /(?:^|\/)v1(?:\/|$)/;
const DOUBLED_V1 = `${V1_PREFIX}v1/`;

const wrongBaseUrl = (message: string): GatewayError => ({
  status: 404,
  type: 'not_found_error',
  message,
  reason: 'wrong_base_url',
});

/**
 * Anthropic's other endpoints (Message Batches, Files, …) say so; an API path
 * reached through a wrong base URL says which to use; other paths are simply
 * unknown.
 */
function notServed(pathOnly: string, baseUrl: () => string): GatewayError {
  if (pathOnly.startsWith(DOUBLED_V1)) {
    // The SDKs append /v1/messages to the base URL: one set to …/v1 doubles it.
    return wrongBaseUrl(
      `${pathOnly.slice(BASE_PATH.length)} is not an endpoint of this gateway: the base URL must not end in /v1; set your client's base URL to ${baseUrl()}`,
    );
  }
  if (pathOnly.startsWith(V1_PREFIX)) {
    return {
      status: 404,
      type: 'not_found_error',
      message: `${pathOnly.slice(BASE_PATH.length)} is not available through this gateway; it serves ${SERVED}`,
      reason: 'endpoint_not_served',
    };
  }
  const underBase = pathOnly === BASE_PATH || pathOnly.startsWith(`${BASE_PATH}/`);
  if (!underBase && API_PATH.test(pathOnly)) {
    return wrongBaseUrl(
      `${pathOnly} is not an endpoint of this gateway; set your client's base URL to ${baseUrl()} (the SDKs append /v1/messages themselves)`,
    );
  }
  return notFound(`${pathOnly} is not an endpoint of this gateway`);
}
