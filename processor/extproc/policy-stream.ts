// The policy stream: Envoy's ext_proc filter opens one gRPC stream per HTTP
// request and sends its headers, then its body (and trailers, if any). This
// turns each ProcessingRequest into plain values, asks the decision
// (processor/policy/decision.ts) and turns the decision into one
// ProcessingResponse; processor/grpc/in-order.ts writes the answers in order.
// Errors never fail the stream (Envoy would answer a bare 500 or 503): a
// failure inside the policy answers that request with an Anthropic-shaped
// 500 and leaves the process and other streams running. Each answer also
// carries the request's facts as dynamic metadata, for the request's
// access-log entry (metadata.ts).
import type { HeaderValueOption } from '../../protos/generated/envoy/config/core/v3/HeaderValueOption.ts';
import type { ProcessingRequest__Output } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingRequest.ts';
import type { ProcessingResponse } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import { REQUEST_ID_HEADER } from '../contract/names.ts';
import type { ServerCall } from '../grpc/call.ts';
import { answerInOrder } from '../grpc/in-order.ts';
import type { Logger } from '../log.ts';
import type { GatewayMetrics } from '../metrics/registry.ts';
import { decideBody, decideHeaders, type QuotaAdmission } from '../policy/decision.ts';
import { type GatewayError, INTERNAL_ERROR } from '../policy/errors.ts';
import { firstHeader } from '../policy/headers.ts';
import {
  type Caller,
  EMPTY_BODY,
  type ForwardDecision,
  type Policy,
  type RequestLimits,
  type WorkspaceWithCredential,
} from '../policy/request-policy.ts';
import { UPSTREAM_CREDENTIAL_HEADER } from '../policy/upstream-headers.ts';
import { withApproval } from './approval.ts';
import { toHeaderList } from './headers.ts';
import { factsMetadata, type RequestFacts } from './metadata.ts';
import {
  CONTINUE_REQUEST_BODY,
  continuePhase,
  continueRequestHeaders,
  immediateError,
  immediateReply,
  setHeader,
} from './responses.ts';

export type PolicyStream = ServerCall<ProcessingRequest__Output, ProcessingResponse>;

export interface PolicyStreamDeps {
  /** The current policy; read once per stream, so a reload never changes a request mid-way. */
  readonly policy: () => Policy;
  /** Limits fixed at start, as Envoy enforces them. */
  readonly limits: RequestLimits;
  readonly log: Logger;
  /** Quota checks (processor/quota/quotas.ts); none when absent. */
  readonly quotas?: QuotaAdmission | undefined;
  readonly metrics?: GatewayMetrics | undefined;
}

export function createPolicyStreamHandler(deps: PolicyStreamDeps): (call: PolicyStream) => void {
  return (call) => {
    // Read on the first message, inside its answer: a getter that throws
    // answers an Anthropic-shaped 500 instead of failing the stream.
    let policy: Policy | undefined;
    const currentPolicy = (): Policy => (policy ??= deps.policy());
    let forward: ForwardDecision | undefined;
    /** Whether the body has been decided on (or found missing). */
    let bodyChecked = false;
    let requestId: string | undefined;

    const reject = (error: GatewayError, phase: string, facts: RequestFacts): ProcessingResponse => {
      deps.log.debug({ requestId, phase, reason: error.reason }, 'request rejected');
      deps.metrics?.rejected.inc({ reason: error.reason });
      return {
        ...immediateError(error, requestId),
        dynamic_metadata: factsMetadata({ ...facts, request_id: requestId, reason: error.reason }),
      };
    };

    const answerHeaders = async (request: ProcessingRequest__Output): Promise<ProcessingResponse> => {
      const headers = toHeaderList(request.request_headers?.headers);
      requestId = firstHeader(headers, REQUEST_ID_HEADER);
      // The client's path, for the access line (Envoy's entry has the rewritten one).
      const seen: RequestFacts = { path: firstHeader(headers, ':path') };
      const decision = await decideHeaders(
        currentPolicy(),
        deps.quotas,
        { headers, endOfStream: request.request_headers?.end_of_stream === true },
        deps.limits,
      );
      if (decision.action === 'reject')
        return reject(decision.error, 'request_headers', { ...seen, ...callerFacts(decision.caller) });
      if (decision.action === 'respond') {
        // Answered from the policy alone (models listing, HEAD probe): no quota, nothing upstream.
        deps.log.debug(
          { requestId, phase: 'request_headers', reason: decision.reply.reason },
          'answered by the gateway',
        );
        return {
          ...immediateReply(decision.reply, requestId),
          dynamic_metadata: factsMetadata({
            ...seen,
            ...callerFacts(decision.caller),
            request_id: requestId,
          }),
        };
      }
      forward = decision;
      return {
        ...continueRequestHeaders(decision.removeHeaders, credentialHeaders(decision.workspace)),
        dynamic_metadata: factsMetadata({
          ...seen,
          request_id: requestId,
          token_id: decision.grant.id,
          workspace: decision.workspace.id,
          route: decision.route,
        }),
      };
    };

    const answerBody = async (
      request: ProcessingRequest__Output,
      decided: ForwardDecision,
    ): Promise<ProcessingResponse> => {
      // A big body is scanned in slices (policy/body-scan.ts); the stream may go meanwhile.
      const decision = await decideBody(
        currentPolicy(),
        decided,
        request.request_body?.body ?? EMPTY,
        () => call.done,
      );
      // Abandoned because the stream went: this answer is never sent, and approves nothing.
      if (decision === undefined) return immediateError(INTERNAL_ERROR, requestId);
      if (decision.action === 'reject') {
        return reject(decision.error, 'request_body', { requested_model: decision.requestedModel });
      }
      // The only answer that approves a request for Envoy's approval check (approval.ts).
      return {
        ...CONTINUE_REQUEST_BODY,
        dynamic_metadata: withApproval(factsMetadata({ model: decision.model })),
      };
    };

    const answer = async (request: ProcessingRequest__Output): Promise<ProcessingResponse> => {
      switch (request.request) {
        case 'request_headers':
          return answerHeaders(request);
        case 'request_body':
          // Envoy sends the body only after we let the headers through.
          if (forward === undefined) return immediateError(INTERNAL_ERROR, requestId);
          bodyChecked = true;
          return answerBody(request, forward);
        case 'request_trailers':
          if (forward === undefined) return immediateError(INTERNAL_ERROR, requestId);
          if (bodyChecked) return continuePhase('request_trailers');
          // Trailers straight after the headers: in BUFFERED mode Envoy then
          // sends no body message at all. The request ended with an empty
          // body, and is refused as one (the same answer as over HTTP/1.1),
          // rather than left to the approval check's 500. Envoy removes the
          // trailers themselves before the router (envoy/bootstrap/).
          return reject(EMPTY_BODY, 'request_trailers', {});
        default:
          return continuePhase(request.request ?? 'request_headers');
      }
    };

    answerInOrder(call, {
      answer,
      failed: (error) => {
        deps.log.error({ err: error, requestId }, 'policy failed; answering 500');
        deps.metrics?.streamErrors.inc({ stream: 'policy' });
        return immediateError(INTERNAL_ERROR, requestId);
      },
      last: isFinal,
    });
    call.on('error', (error) => {
      deps.metrics?.streamErrors.inc({ stream: 'policy' });
      deps.log.debug({ err: error, requestId }, 'ext_proc stream error');
    });
  };
}

const EMPTY = Buffer.alloc(0);

/** What the access line says of who asked, when the policy knew (a valid token). */
function callerFacts(caller: Caller | undefined): RequestFacts {
  return caller === undefined
    ? {}
    : { token_id: caller.tokenId, workspace: caller.workspace, route: caller.route };
}

/**
 * Whether this answer settles the request. The policy filter skips every
 * response phase (envoy/bootstrap/), so nothing follows an immediate
 * response, the body decision of a request without trailers (Envoy marks its
 * body end_of_stream) or the answer to the trailers. Closing the stream then, rather than when
 * Envoy closes it at the end of the HTTP exchange, keeps a long streamed
 * response independent of the policy stream: Envoy would otherwise cut the
 * response when a restarting processor drops the stream, and a shutdown
 * (processor/lifecycle/shutdown.ts) would wait for it.
 */
function isFinal(request: ProcessingRequest__Output, response: ProcessingResponse): boolean {
  if (response.immediate_response !== undefined) return true;
  if (request.request === 'request_body') return request.request_body?.end_of_stream === true;
  return request.request === 'request_trailers';
}

// Built once per workspace (per configuration), not per request.
const credentialCache = new WeakMap<WorkspaceWithCredential, readonly HeaderValueOption[]>();

function credentialHeaders(workspace: WorkspaceWithCredential): readonly HeaderValueOption[] {
  let headers = credentialCache.get(workspace);
  if (headers === undefined) {
    headers = [setHeader(UPSTREAM_CREDENTIAL_HEADER, workspace.upstreamApiKey)];
    credentialCache.set(workspace, headers);
  }
  return headers;
}
