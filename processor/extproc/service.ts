// The ext_proc stream loop: one gRPC stream per HTTP request. It turns each
// ProcessingRequest into plain values, asks the policy, and writes back one
// ProcessingResponse. Errors never fail the stream (Envoy would answer a bare
// 500 or 503): a failure inside the policy answers that request with an
// Anthropic-shaped 500 and leaves the process and other streams running.
// Each answer also carries the request's facts as dynamic metadata, for the
// request's access-log entry (metadata.ts). A quota check backed by Redis makes the
// headers answer asynchronous, and a big body's scan, which runs in slices so
// as not to hold the other streams (body-scan.ts), the body answer; Envoy
// sends the next message only after it.
import type { HeaderValueOption } from '../../protos/generated/envoy/config/core/v3/HeaderValueOption.ts';
import type { ProcessingRequest__Output } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingRequest.ts';
import type { ProcessingResponse } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import type { ServerCall } from '../grpc/call.ts';
import type { Logger } from '../log.ts';
import type { GatewayMetrics } from '../metrics/registry.ts';
import { type GatewayError, INTERNAL_ERROR } from '../policy/errors.ts';
import { firstHeader } from '../policy/headers.ts';
import type { ModelScan } from '../policy/model-scanner.ts';
import {
  bodyScanOptions,
  type Caller,
  decideOnHeaders,
  decideOnScan,
  EMPTY_BODY,
  type ForwardDecision,
  type Policy,
  type RequestLimits,
  type WorkspaceWithCredential,
} from '../policy/request-policy.ts';
import { UPSTREAM_CREDENTIAL_HEADER } from '../policy/upstream-headers.ts';
import type { Quotas, QuotaVerdict } from '../quota/quotas.ts';
import { withApproval } from './approval.ts';
import { scanBody } from './body-scan.ts';
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

export type ProcessStream = ServerCall<ProcessingRequest__Output, ProcessingResponse>;

export interface ExtProcDeps {
  /** The current policy; read once per stream, so a reload never changes a request mid-way. */
  readonly policy: () => Policy;
  /** Limits fixed at start, as Envoy enforces them. */
  readonly limits: RequestLimits;
  readonly log: Logger;
  /** Quota checks; none when absent. */
  readonly quotas?: Quotas | undefined;
  readonly metrics?: GatewayMetrics | undefined;
}

export function createProcessHandler(deps: ExtProcDeps): (call: ProcessStream) => void {
  return (call) => {
    // Read on the first message, inside the try below: a getter that throws
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

    const afterQuota = (
      decision: ForwardDecision,
      verdict: QuotaVerdict,
      seen: RequestFacts,
    ): ProcessingResponse => {
      const facts: RequestFacts = {
        ...seen,
        request_id: requestId,
        token_id: decision.grant.id,
        workspace: decision.workspace.id,
        route: decision.route,
      };
      if (verdict !== undefined) return reject(verdict, 'request_headers', facts);
      forward = decision;
      return {
        ...continueRequestHeaders(decision.removeHeaders, credentialHeaders(decision.workspace)),
        dynamic_metadata: factsMetadata(facts),
      };
    };

    const answerBody = (
      policy: Policy,
      decided: ForwardDecision,
      scan: ModelScan | undefined,
    ): ProcessingResponse => {
      // Abandoned because the stream went: this answer is never sent, and approves nothing.
      if (scan === undefined) return immediateError(INTERNAL_ERROR, requestId);
      const decision = decideOnScan(policy, decided, scan);
      if (decision.action === 'reject') {
        return reject(decision.error, 'request_body', { requested_model: decision.requestedModel });
      }
      // The only answer that approves a request for Envoy's approval check (approval.ts).
      return {
        ...CONTINUE_REQUEST_BODY,
        dynamic_metadata: withApproval(factsMetadata({ model: decision.model })),
      };
    };

    const decide = (request: ProcessingRequest__Output): ProcessingResponse | Promise<ProcessingResponse> => {
      switch (request.request) {
        case 'request_headers': {
          const headers = toHeaderList(request.request_headers?.headers);
          requestId = firstHeader(headers, 'x-request-id');
          // The client's path, for the access line (Envoy's entry has the rewritten one).
          const seen: RequestFacts = { path: firstHeader(headers, ':path') };
          const decision = decideOnHeaders(
            currentPolicy(),
            headers,
            request.request_headers?.end_of_stream === true,
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
          // count_tokens costs nothing: a spent budget does not stop it.
          const verdict = deps.quotas?.admit(
            decision.grant.id,
            decision.workspace.id,
            decision.route !== 'count_tokens',
          );
          return verdict instanceof Promise
            ? verdict.then((v) => afterQuota(decision, v, seen))
            : afterQuota(decision, verdict, seen);
        }
        case 'request_body': {
          // Envoy sends the body only after we let the headers through.
          if (forward === undefined) return immediateError(INTERNAL_ERROR, requestId);
          bodyChecked = true;
          const policy = currentPolicy();
          const decided = forward;
          // A big body is scanned in slices (body-scan.ts); the stream may go meanwhile.
          const scan = scanBody(
            request.request_body?.body ?? EMPTY,
            bodyScanOptions(policy),
            () => call.done,
          );
          return scan instanceof Promise
            ? scan.then((s) => answerBody(policy, decided, s))
            : answerBody(policy, decided, scan);
        }
        case 'request_trailers': {
          if (forward === undefined) return immediateError(INTERNAL_ERROR, requestId);
          if (bodyChecked) return continuePhase('request_trailers');
          // Trailers straight after the headers: in BUFFERED mode Envoy then
          // sends no body message at all. The request ended with an empty
          // body, and is refused as one (the same answer as over HTTP/1.1),
          // rather than left to the approval check's 500. Envoy removes the
          // trailers themselves before the router (envoy/bootstrap.ts).
          return reject(EMPTY_BODY, 'request_trailers', {});
        }
        default:
          return continuePhase(request.request ?? 'request_headers');
      }
    };

    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      call.end();
    };
    const send = (request: ProcessingRequest__Output, response: ProcessingResponse) => {
      if (ended) return;
      call.write(response);
      if (isFinal(request, response)) end();
    };

    const failed = (error: unknown): ProcessingResponse => {
      deps.log.error({ err: error, requestId }, 'policy failed; answering 500');
      deps.metrics?.streamErrors.inc({ stream: 'policy' });
      return immediateError(INTERNAL_ERROR, requestId);
    };

    // Messages are answered in order: one that arrives while an asynchronous
    // answer is pending waits for it.
    let pending: Promise<void> | undefined;
    const answer = (request: ProcessingRequest__Output): Promise<void> | undefined => {
      let response: ProcessingResponse | Promise<ProcessingResponse>;
      try {
        response = decide(request);
      } catch (error) {
        response = failed(error);
      }
      if (!(response instanceof Promise)) {
        send(request, response);
        return undefined;
      }
      return response.then(
        (r) => send(request, r),
        (error: unknown) => send(request, failed(error)),
      );
    };

    call.on('data', (request: ProcessingRequest__Output) => {
      if (ended) return;
      const previous = pending;
      const started = previous === undefined ? answer(request) : previous.then(() => answer(request));
      if (started === undefined) return;
      // Answered after this event (a body scanned in slices, or one behind a
      // pending answer): the server frees a received message once its event
      // is handled unless held (processor/grpc/call.ts).
      const release = call.hold();
      const mine: Promise<void> = started.finally(() => {
        release();
        if (pending === mine) pending = undefined;
      });
      pending = mine;
    });
    call.on('end', () => {
      if (pending === undefined) end();
      else void pending.finally(end);
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
 * response phase (envoy/bootstrap.ts), so nothing follows an immediate
 * response, the body decision of a request without trailers (Envoy marks its
 * body end_of_stream) or the answer to the trailers. Closing the stream then, rather than when
 * Envoy closes it at the end of the HTTP exchange, keeps a long streamed
 * response independent of the policy stream: Envoy would otherwise cut the
 * response when a restarting processor drops the stream, and a shutdown
 * (processor/ops/shutdown.ts) would wait for it.
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
