// The access log record of one request, as plain values (docs/operations.md,
// "Access log"), and how it is made from what Envoy reported of the request
// when it ended (its access-log entry, decoded by processor/accesslog/).

import { GATEWAY_ROUTES, type GatewayRoute, UPSTREAM_ROUTES } from '../contract/routes.ts';
import type { UsageKey } from '../contract/usage.ts';
import { capText, MAX_LOGGED_PATH_CHARS, type RequestFacts } from '../extproc/metadata.ts';
import { emptyUsage, USAGE_KINDS, type Usage } from './usage.ts';

export interface AccessRecord {
  readonly requestId: string | undefined;
  /** The upstream's `request-id` response header (what Anthropic support asks for), when the answer came from it. */
  readonly upstreamRequestId?: string | undefined;
  /** When the request reached Envoy, ISO-8601 (UTC, milliseconds). */
  readonly startTime?: string | undefined;
  readonly method?: string | undefined;
  /** The path as the client sent it (route and query), cut to MAX_LOGGED_PATH_CHARS. */
  readonly path?: string | undefined;
  /** The client's IP address, as Envoy's connection saw it. */
  readonly clientAddress?: string | undefined;
  readonly userAgent?: string | undefined;
  /** The gateway token's public id; never the token. */
  readonly tokenId: string | undefined;
  readonly workspace: string | undefined;
  /** A model of the catalog, once the request was forwarded. */
  readonly model: string | undefined;
  /** What a request refused for its model asked for (escaped, capped): client text, so never a metric label. */
  readonly requestedModel?: string | undefined;
  readonly route: string | undefined;
  readonly status: number;
  readonly streamed: boolean;
  /** From the request reaching Envoy to the last response byte sent to the client (or to the stream's end). */
  readonly latencyMs: number | undefined;
  /** From the request reaching Envoy to the first response byte sent to the client. */
  readonly ttfbMs: number | undefined;
  /** /v1/messages: tokens the upstream reported. */
  readonly usage?: Usage | undefined;
  /** /v1/messages: how the cache writes split by lifetime, when the upstream said. */
  readonly cacheCreation?: CacheCreation | undefined;
  /** /v1/messages/count_tokens: the tokens counted (not consumed). */
  readonly countedInputTokens?: number | undefined;
  /** False when the response ended before its last byte (the client went away, say). */
  readonly complete: boolean;
  /** Why the gateway refused the request, when it did. */
  readonly reason?: string | undefined;
}

export interface CacheCreation {
  readonly ephemeral_5m_input_tokens?: number;
  readonly ephemeral_1h_input_tokens?: number;
}

/** What Envoy reported of one request when it ended, as plain values. */
export interface LoggedRequest {
  /** The status sent to the client (0 if none was). */
  readonly status: number;
  /** Envoy's id of the request, when the policy never saw it. */
  readonly envoyRequestId: string | undefined;
  /** When the request reached Envoy, in milliseconds since the epoch. */
  readonly startTimeMs?: number | undefined;
  readonly method?: string | undefined;
  /** The path as Envoy last saw it: for a forwarded request, the route's rewrite for the upstream. */
  readonly path?: string | undefined;
  readonly clientAddress?: string | undefined;
  readonly userAgent?: string | undefined;
  /** The `request-id` header of the response sent to the client. */
  readonly responseRequestId?: string | undefined;
  /** Whether the response's headers came from the upstream (not a reply of Envoy's or the processor's). */
  readonly fromUpstream?: boolean | undefined;
  /** What the policy wrote about the request (processor/extproc/metadata.ts). */
  readonly facts: RequestFacts;
  /** The numbers Envoy's usage filters wrote (any number: nothing is checked yet). */
  readonly usage: Readonly<Partial<Record<UsageKey, number>>>;
  readonly contentType: string | undefined;
  readonly ttfbMs: number | undefined;
  readonly latencyMs: number | undefined;
  /** Whether the response's last byte went to the client, the stream not cut on either side. */
  readonly complete: boolean;
}

const ROUTES: ReadonlySet<string> = new Set(GATEWAY_ROUTES.map((route) => route.name));
const UPSTREAM_ROUTE_NAMES: ReadonlySet<string> = new Set(UPSTREAM_ROUTES.map((route) => route.name));

/** The longest user agent an access line holds (Claude Code's is some 40 characters). */
export const MAX_LOGGED_USER_AGENT_CHARS = 256;
/** The longest upstream request-id an access line holds (Anthropic's are some 30 characters). */
export const MAX_LOGGED_REQUEST_ID_CHARS = 128;

export function isEventStream(contentType: string | undefined): boolean {
  return contentType?.trimStart().toLowerCase().startsWith('text/event-stream') === true;
}

/** A token count Envoy read: a whole, non-negative, exactly representable number; anything else is no count. */
export function tokenCount(value: number | undefined): number | undefined {
  return value !== undefined && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/**
 * The access record of a request. Usage counts only for a successful (2xx)
 * answer of an upstream route that the gateway forwarded (a refusal has none,
 * whatever its body says); messages and count_tokens are kept apart.
 */
export function toAccessRecord(logged: LoggedRequest): AccessRecord {
  const { facts } = logged;
  const route =
    facts.route !== undefined && ROUTES.has(facts.route) ? (facts.route as GatewayRoute) : undefined;
  const metered =
    route !== undefined &&
    UPSTREAM_ROUTE_NAMES.has(route) &&
    facts.reason === undefined &&
    logged.status >= 200 &&
    logged.status <= 299;
  const usage = metered && route === 'messages' ? usageOf(logged.usage) : undefined;
  const cacheCreation = metered && route === 'messages' ? cacheCreationOf(logged.usage) : undefined;
  const counted =
    metered && route === 'count_tokens' ? tokenCount(logged.usage.counted_input_tokens) : undefined;
  const requestId = facts.request_id ?? logged.envoyRequestId;
  // The gateway's own replies carry its request id too: only the upstream's is another.
  const upstreamRequestId =
    logged.fromUpstream === true && logged.responseRequestId !== requestId
      ? capText(logged.responseRequestId, MAX_LOGGED_REQUEST_ID_CHARS)
      : undefined;
  const startTime = isoTime(logged.startTimeMs);
  // The policy's is the client's path; Envoy's is the client's too when the
  // policy never answered (the route rewrites a path only after it has).
  const path = capText(facts.path ?? logged.path, MAX_LOGGED_PATH_CHARS);
  const userAgent = capText(logged.userAgent, MAX_LOGGED_USER_AGENT_CHARS);
  return {
    requestId,
    ...(upstreamRequestId !== undefined ? { upstreamRequestId } : {}),
    ...(startTime !== undefined ? { startTime } : {}),
    ...(logged.method !== undefined ? { method: logged.method } : {}),
    ...(path !== undefined ? { path } : {}),
    ...(logged.clientAddress !== undefined ? { clientAddress: logged.clientAddress } : {}),
    ...(userAgent !== undefined ? { userAgent } : {}),
    tokenId: facts.token_id,
    workspace: facts.workspace,
    model: facts.model,
    ...(facts.requested_model !== undefined ? { requestedModel: facts.requested_model } : {}),
    route,
    status: logged.status,
    streamed: isEventStream(logged.contentType),
    latencyMs: logged.latencyMs,
    ttfbMs: logged.ttfbMs,
    ...(usage !== undefined ? { usage } : {}),
    ...(cacheCreation !== undefined ? { cacheCreation } : {}),
    ...(counted !== undefined ? { countedInputTokens: counted } : {}),
    complete: logged.complete,
    ...(facts.reason !== undefined ? { reason: facts.reason } : {}),
  };
}

/** Milliseconds since the epoch as ISO-8601 (UTC); undefined for no time or one out of Date's range. */
function isoTime(ms: number | undefined): string | undefined {
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** The usage fields that are sane counts; undefined when none is. */
function usageOf(reported: LoggedRequest['usage']): Usage | undefined {
  const usage = emptyUsage();
  let sane = false;
  for (const kind of USAGE_KINDS) {
    const value = tokenCount(reported[kind]);
    if (value !== undefined) {
      usage[kind] = value;
      sane = true;
    }
  }
  return sane ? usage : undefined;
}

function cacheCreationOf(reported: LoggedRequest['usage']): CacheCreation | undefined {
  const fiveMinutes = tokenCount(reported.ephemeral_5m_input_tokens);
  const oneHour = tokenCount(reported.ephemeral_1h_input_tokens);
  if (fiveMinutes === undefined && oneHour === undefined) return undefined;
  return {
    ...(fiveMinutes !== undefined ? { ephemeral_5m_input_tokens: fiveMinutes } : {}),
    ...(oneHour !== undefined ? { ephemeral_1h_input_tokens: oneHour } : {}),
  };
}
