// The ext_proc stream loop: one gRPC stream per HTTP request. It turns each
// ProcessingRequest into plain values, asks the policy, and writes back one
// ProcessingResponse. Errors never fail the stream (Envoy would answer a bare
// 500 or 503): a failure inside the policy answers that request with an
// Anthropic-shaped 500 and leaves the process and other streams running.
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { HeaderValueOption } from '../../protos/generated/envoy/config/core/v3/HeaderValueOption.ts';
import type { ProcessingRequest__Output } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingRequest.ts';
import type { ProcessingResponse } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import type { Logger } from '../log.ts';
import { INTERNAL_ERROR } from '../policy/errors.ts';
import { firstHeader } from '../policy/headers.ts';
import {
  decideOnBody,
  decideOnHeaders,
  type ForwardDecision,
  type Policy,
  type WorkspaceWithCredential,
} from '../policy/request-policy.ts';
import { UPSTREAM_CREDENTIAL_HEADER } from '../policy/upstream-headers.ts';
import { toHeaderList } from './headers.ts';
import {
  CONTINUE_REQUEST_BODY,
  continuePhase,
  continueRequestHeaders,
  immediateError,
  setHeader,
} from './responses.ts';

export type ProcessStream = ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>;

export interface ExtProcDeps {
  /** The current policy; read once per stream, so a reload never changes a request mid-way. */
  readonly policy: () => Policy;
  readonly log: Logger;
}

export function createProcessHandler(deps: ExtProcDeps): (call: ProcessStream) => void {
  return (call) => {
    // Read on the first message, inside the try below: a getter that throws
    // answers an Anthropic-shaped 500 instead of failing the stream.
    let policy: Policy | undefined;
    const currentPolicy = (): Policy => (policy ??= deps.policy());
    let forward: ForwardDecision | undefined;
    let requestId: string | undefined;

    const decide = (request: ProcessingRequest__Output): ProcessingResponse => {
      switch (request.request) {
        case 'request_headers': {
          const headers = toHeaderList(request.request_headers?.headers);
          requestId = firstHeader(headers, 'x-request-id');
          const decision = decideOnHeaders(
            currentPolicy(),
            headers,
            request.request_headers?.end_of_stream === true,
          );
          if (decision.action === 'reject') {
            deps.log.debug(
              { requestId, phase: 'request_headers', reason: decision.error.reason },
              'request rejected',
            );
            return immediateError(decision.error, requestId);
          }
          forward = decision;
          return continueRequestHeaders(decision.removeHeaders, credentialHeaders(decision.workspace));
        }
        case 'request_body': {
          // Envoy sends the body only after we let the headers through.
          if (forward === undefined) return immediateError(INTERNAL_ERROR, requestId);
          const error = decideOnBody(currentPolicy(), forward, request.request_body?.body ?? EMPTY);
          if (error !== undefined) {
            deps.log.debug({ requestId, phase: 'request_body', reason: error.reason }, 'request rejected');
            return immediateError(error, requestId);
          }
          return CONTINUE_REQUEST_BODY;
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
    call.on('data', (request: ProcessingRequest__Output) => {
      if (ended) return;
      let response: ProcessingResponse;
      try {
        response = decide(request);
      } catch (error) {
        deps.log.error({ err: error, requestId }, 'policy failed; answering 500');
        response = immediateError(INTERNAL_ERROR, requestId);
      }
      call.write(response);
      if (isFinal(request, response)) end();
    });
    call.on('end', end);
    call.on('error', (error) => deps.log.debug({ err: error, requestId }, 'ext_proc stream error'));
  };
}

const EMPTY = Buffer.alloc(0);

/**
 * Whether this answer settles the request. Envoy skips every response phase
 * (envoy/bootstrap.ts), so nothing follows an immediate response or the body
 * decision. Closing the stream then, rather than when Envoy closes it at the
 * end of the HTTP exchange, keeps a long streamed response independent of the
 * processor: a processor that restarts or shuts down (processor/ops/shutdown.ts)
 * only has undecided requests to wait for.
 */
function isFinal(request: ProcessingRequest__Output, response: ProcessingResponse): boolean {
  return response.immediate_response !== undefined || request.request === 'request_body';
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
