// The requests the gateway serves, in one table: the processor matches
// requests against it (processor/policy/routes.ts) and Envoy's route table is
// rendered from it (envoy/bootstrap/listener.ts), so the two cannot disagree
// on a path. Only the upstream routes reach the upstream; the models listing
// (and the HEAD probes) are answered by the processor itself, before Envoy's
// router, so they need no Envoy route of their own.

/** Where the gateway's endpoints live; a client's base URL ends in it. */
export const BASE_PATH = '/ai-gateway/anthropic';

/** One of the gateway's endpoints. */
export interface RouteEntry<Name extends string = string> {
  /** The route a request is logged and counted under. */
  readonly name: Name;
  /** The gateway's path: BASE_PATH and the upstream's path. */
  readonly path: string;
  /** The method it serves (HEAD is a probe wherever that method is served). */
  readonly method: 'POST' | 'GET';
  /** Its path upstream, for a route Envoy sends to Anthropic; absent: answered by the processor. */
  readonly upstreamPath?: string;
}

/** The routes Envoy sends upstream, with usage metered from their answers. */
export const UPSTREAM_ROUTES = [
  { name: 'messages', path: `${BASE_PATH}/v1/messages`, method: 'POST', upstreamPath: '/v1/messages' },
  {
    name: 'count_tokens',
    path: `${BASE_PATH}/v1/messages/count_tokens`,
    method: 'POST',
    upstreamPath: '/v1/messages/count_tokens',
  },
] as const satisfies readonly RouteEntry[];

export type UpstreamRoute = (typeof UPSTREAM_ROUTES)[number]['name'];

/** GET /v1/models and GET /v1/models/{id}: the catalog, answered by the processor. */
export const MODELS_ROUTE = {
  name: 'models',
  path: `${BASE_PATH}/v1/models`,
  method: 'GET',
} as const satisfies RouteEntry;

/** The routes a request is logged and counted under: the upstream ones, and the models listing the gateway answers itself. */
export type GatewayRoute = UpstreamRoute | typeof MODELS_ROUTE.name;

export const GATEWAY_ROUTES: readonly RouteEntry<GatewayRoute>[] = [...UPSTREAM_ROUTES, MODELS_ROUTE];
