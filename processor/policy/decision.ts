// The gateway's whole decision on one request, in the two moments Envoy asks,
// as the policy stream (processor/extproc/policy-stream.ts) asks for it:
// - the headers: the request's rules (request-policy.ts: route, credential,
//   encoding, declared length), then, for a request that would go upstream,
//   its quotas and budgets (a 429 or a 403 here, or the 503 of a store that
//   is down);
// - the whole body: its model, scanned in slices when it is big (body-scan.ts).
// Plain values in, plain decisions out. Both answer with a promise, always,
// whether or not anything was waited for: one style for every caller. With
// the memory quota store, and a body of up to a slice, the promise is
// settled at once and nothing waits for I/O or another turn of the loop.
import { scanBody } from './body-scan.ts';
import type { GatewayError } from './errors.ts';
import type { HeaderList } from './headers.ts';
import {
  type BodyDecision,
  bodyScanOptions,
  type Caller,
  decideOnHeaders,
  decideOnScan,
  type ForwardDecision,
  type HeadersDecision,
  type Policy,
  type RequestLimits,
} from './request-policy.ts';

/**
 * The quota check a request that would go upstream must pass
 * (processor/quota/quotas.ts): a refusal, or undefined to admit it. Counts
 * the request when it admits it. `costly` false (count_tokens) spares it the
 * budgets.
 */
export interface QuotaAdmission {
  admit(tokenId: string, workspaceId: string, costly: boolean): Promise<GatewayError | undefined>;
}

/** What Envoy said in its headers message. */
export interface RequestHeaders {
  readonly headers: HeaderList;
  /** No body follows (Envoy's end_of_stream). */
  readonly endOfStream: boolean;
}

/**
 * The decision on a request's headers: forward it (its body to be decided
 * next), answer it from the gateway, or refuse it, for the request's rules
 * or its quotas. Without `quotas`, nothing is counted or refused for them.
 */
export async function decideHeaders(
  policy: Policy,
  quotas: QuotaAdmission | undefined,
  request: RequestHeaders,
  limits: RequestLimits,
): Promise<HeadersDecision> {
  const decision = decideOnHeaders(policy, request.headers, request.endOfStream, limits);
  if (decision.action !== 'forward' || quotas === undefined) return decision;
  // count_tokens costs nothing: a spent budget does not stop it.
  const refusal = await quotas.admit(
    decision.grant.id,
    decision.workspace.id,
    decision.route !== 'count_tokens',
  );
  return refusal === undefined ? decision : { action: 'reject', error: refusal, caller: callerOf(decision) };
}

/**
 * The decision on the whole body of a request its headers forwarded.
 * Undefined when `gone()` turned true while a big body was being scanned:
 * nobody waits for the answer any more.
 */
export async function decideBody(
  policy: Policy,
  forward: ForwardDecision,
  body: Buffer,
  gone: () => boolean,
): Promise<BodyDecision | undefined> {
  const scan = await scanBody(body, bodyScanOptions(policy), gone);
  return scan === undefined ? undefined : decideOnScan(policy, forward, scan);
}

function callerOf(decision: ForwardDecision): Caller {
  return { tokenId: decision.grant.id, workspace: decision.workspace.id, route: decision.route };
}
