// The request's rules, in the two moments Envoy asks: when the headers
// arrive (route, credential: decided before any body is buffered) and when
// the whole body has arrived (the model). Plain values in, plain decisions
// out, synchronous; decision.ts adds the quotas and the body's scan in slices
// to make the whole decision the policy stream asks for.

import type { GatewayRoute, UpstreamRoute } from '../contract/routes.ts';
import { suggestedBaseUrl } from './base-url.ts';
import { type Catalog, checkModel, longestModelSpelling, UNKNOWN_LONG_MODEL } from './catalog.ts';
import { compressedEncoding } from './content-encoding.ts';
import { presentedToken } from './credentials.ts';
import { checkDeclaredLength } from './declared-length.ts';
import { echo } from './echo.ts';
import { type GatewayError, INTERNAL_ERROR, INVALID_CREDENTIAL, invalidRequest } from './errors.ts';
import { firstHeader, type HeaderList } from './headers.ts';
import { type ModelScan, type ScanOptions, type ScanProblem, scanModel } from './model-scanner.ts';
import { answerModels } from './models.ts';
import { type LocalReply, PROBE_REPLY } from './replies.ts';
import { matchRoute } from './routes.ts';
import { type TokenGrant, type TokenIndex, verifyToken } from './tokens.ts';
import { headersToRemove } from './upstream-headers.ts';

export interface Workspace {
  readonly id: string;
  /**
   * The workspace's Anthropic API key, injected upstream as x-api-key.
   * Undefined only for the built-in workspace started without ANTHROPIC_API_KEY.
   */
  readonly upstreamApiKey: string | undefined;
}

export type WorkspaceWithCredential = Workspace & { readonly upstreamApiKey: string };

const hasCredential = (workspace: Workspace): workspace is WorkspaceWithCredential =>
  workspace.upstreamApiKey !== undefined;

/** Everything a decision reads; one immutable snapshot per configuration. */
export interface Policy {
  readonly catalog: Catalog;
  readonly tokens: TokenIndex;
  readonly workspaces: ReadonlyMap<string, Workspace>;
}

/**
 * Limits read at start, which Envoy enforces too (envoy/bootstrap/): apart
 * from the policy, which a reload replaces, so the processor never holds a
 * limit that the running Envoy does not.
 */
export interface RequestLimits {
  readonly maxRequestBodyBytes: number;
}

/**
 * Who asked and for what, once a valid token was presented: what the access
 * line and the metrics say of a request the gateway answered or refused
 * after authenticating it (a forwarded request carries the same in its grant).
 */
export interface Caller {
  /** The token's public id from the configuration; never the token. */
  readonly tokenId: string;
  readonly workspace: string;
  readonly route: GatewayRoute;
}

export type HeadersDecision =
  | { readonly action: 'reject'; readonly error: GatewayError; readonly caller?: Caller }
  /** Answered by the gateway itself (models listing, HEAD probe): nothing goes upstream. */
  | { readonly action: 'respond'; readonly reply: LocalReply; readonly caller?: Caller }
  | {
      readonly action: 'forward';
      readonly route: UpstreamRoute;
      readonly grant: TokenGrant;
      readonly workspace: WorkspaceWithCredential;
      /** Request headers outside the upstream allowlist. */
      readonly removeHeaders: readonly string[];
    };

export type ForwardDecision = Extract<HeadersDecision, { action: 'forward' }>;

const reject = (error: GatewayError, caller?: Caller): HeadersDecision =>
  caller === undefined ? { action: 'reject', error } : { action: 'reject', error, caller };
const respond = (reply: LocalReply, caller?: Caller): HeadersDecision =>
  caller === undefined ? { action: 'respond', reply } : { action: 'respond', reply, caller };

/** No body came (or an empty one): nothing to check, so nothing to forward. */
export const EMPTY_BODY = invalidRequest(
  'empty_body',
  'request body is empty; expected a JSON object with a "model" field',
);

const NO_UPSTREAM_CREDENTIAL: GatewayError = {
  status: 503,
  type: 'api_error',
  message:
    'the gateway has no Anthropic API key for this workspace; its operator must set one (ANTHROPIC_API_KEY)',
  reason: 'no_upstream_credential',
  // Until the operator sets the key, every retry gets this same answer.
  retryable: false,
};

const unsupportedEncoding = (encoding: string): GatewayError => ({
  status: 415,
  type: 'invalid_request_error',
  message: `request bodies with content-encoding ${JSON.stringify(encoding)} are not accepted; send the JSON uncompressed`,
  reason: 'content_encoding',
});

export function decideOnHeaders(
  policy: Policy,
  headers: HeaderList,
  endOfStream: boolean,
  limits: RequestLimits,
): HeadersDecision {
  const match = matchRoute(firstHeader(headers, ':method') ?? '', firstHeader(headers, ':path') ?? '', () =>
    suggestedBaseUrl(headers),
  );
  if (match.kind === 'error') return reject(match.error);
  if (match.kind === 'probe') return respond(PROBE_REPLY);

  const token = presentedToken(headers);
  const grant = token === undefined ? undefined : verifyToken(policy.tokens, token);
  if (grant === undefined) return reject(INVALID_CREDENTIAL);
  const workspace = policy.workspaces.get(grant.workspace);
  // Configuration loading guarantees every token's workspace exists.
  if (workspace === undefined) return reject(INTERNAL_ERROR);
  const caller: Caller = {
    tokenId: grant.id,
    workspace: workspace.id,
    route: match.kind === 'models' ? 'models' : match.route,
  };
  if (match.kind === 'models') {
    // From the catalog alone: it works before the workspace has an upstream key.
    const answer = answerModels(policy.catalog, grant.models, match.modelId, match.query);
    return 'type' in answer ? reject(answer, caller) : respond(answer, caller);
  }
  if (!hasCredential(workspace)) return reject(NO_UPSTREAM_CREDENTIAL, caller);

  // A compressed body cannot be inspected, so it is never forwarded.
  const encoding = compressedEncoding(headers);
  if (encoding !== undefined) return reject(unsupportedEncoding(encoding), caller);
  // After the credential: only a caller who may send a body learns the limit.
  const length = checkDeclaredLength(headers, limits.maxRequestBodyBytes);
  if (length !== undefined) return reject(length, caller);
  // No body will follow, so there is nothing to check: refuse rather than forward unchecked.
  if (endOfStream) return reject(EMPTY_BODY, caller);

  return {
    action: 'forward',
    route: match.route,
    grant,
    workspace,
    removeHeaders: headersToRemove(headers),
  };
}

const SCAN_ERRORS: Readonly<Record<ScanProblem, GatewayError>> = {
  empty: EMPTY_BODY,
  invalid_utf8: invalidRequest('invalid_utf8', 'request body is not valid UTF-8'),
  invalid_json: invalidRequest('invalid_json', 'request body is not valid JSON'),
  not_an_object: invalidRequest('not_an_object', 'request body must be a JSON object'),
  missing_model: invalidRequest('missing_model', 'model: field required'),
  model_not_a_string: invalidRequest('model_not_a_string', 'model: must be a string'),
  duplicate_model: invalidRequest('duplicate_model', 'request body has more than one "model" field'),
  // Only when the scan was given a limit, which no model of the catalog reaches.
  model_too_long: UNKNOWN_LONG_MODEL,
};

/** Why the buffered body may not go upstream, or undefined if it may. */
export function decideOnBody(
  policy: Policy,
  forward: ForwardDecision,
  body: Buffer,
): GatewayError | undefined {
  const decision = decideOnBodyWithModel(policy, forward, body);
  return decision.action === 'reject' ? decision.error : undefined;
}

export type BodyDecision =
  | {
      readonly action: 'reject';
      readonly error: GatewayError;
      /**
       * The model a body refused for its model asked for, as the access line
       * may show it (echo: escaped, capped). Client text: never a metric label.
       */
      readonly requestedModel?: string;
    }
  | { readonly action: 'forward'; readonly model: string };

/** decideOnBody, also giving the model (of the catalog) a forwarded request asked for. */
export function decideOnBodyWithModel(policy: Policy, forward: ForwardDecision, body: Buffer): BodyDecision {
  return decideOnScan(policy, forward, scanModel(body, bodyScanOptions(policy)));
}

/** How the body's scan must be run for `policy` (decision.ts runs it in slices, body-scan.ts). */
export function bodyScanOptions(policy: Policy): ScanOptions {
  return { maxModelBytes: longestModelSpelling(policy.catalog) };
}

/** decideOnBodyWithModel, from the body's scan (with bodyScanOptions). */
export function decideOnScan(policy: Policy, forward: ForwardDecision, scan: ModelScan): BodyDecision {
  if (!scan.ok) return { action: 'reject', error: SCAN_ERRORS[scan.problem] };
  const error = checkModel(policy.catalog, scan.model, forward.grant.models);
  return error === undefined
    ? { action: 'forward', model: scan.model }
    : { action: 'reject', error, requestedModel: echo(scan.model) };
}
