// The metering stream: Envoy's second ext_proc filter, in observability mode,
// sends this processor each response's headers and body chunks and never
// waits for an answer, so none is written. From them it reads the usage
// (processor/metering), charges tokens to the quotas as they are reported,
// and, when the response has passed, writes the access log line and the
// metrics. The request's facts come from the policy stream through dynamic
// metadata (metadata.ts). A response whose client went away ends without its
// last chunk: what was reported until then is recorded, marked incomplete.
import type { ProcessingRequest__Output } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingRequest.ts';
import type { ProcessingResponse } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import type { ServerCall } from '../grpc/call.ts';
import type { Logger } from '../log.ts';
import { type AccessRecord, elapsedMs } from '../metering/access-record.ts';
import { createUsageMeter, isEventStream, type UsageMeter } from '../metering/meter.ts';
import { quotaTokens, USAGE_KINDS } from '../metering/usage.ts';
import { type GatewayMetrics, NONE } from '../metrics/registry.ts';
import { firstHeader } from '../policy/headers.ts';
import type { UpstreamRoute } from '../policy/routes.ts';
import type { Quotas } from '../quota/quotas.ts';
import { toHeaderList } from './headers.ts';
import { type RequestFacts, readAttribute, readFacts } from './metadata.ts';

export type MeteringStream = ServerCall<ProcessingRequest__Output, ProcessingResponse>;

export interface MeteringDeps {
  readonly log: Logger;
  readonly metrics?: GatewayMetrics | undefined;
  readonly quotas?: Quotas | undefined;
  /** Wall clock in ms; compared with Envoy's request.time. */
  readonly clock?: () => number;
}

/** Envoy's attribute: when the request's first byte arrived (RFC 3339, microseconds). */
export const REQUEST_TIME_ATTRIBUTE = 'request.time';
/** Envoy's attribute: the x-request-id, for responses the policy never saw. */
export const REQUEST_ID_ATTRIBUTE = 'request.id';

const ROUTES: ReadonlySet<string> = new Set<UpstreamRoute>(['messages', 'count_tokens']);

interface Exchange {
  readonly facts: RequestFacts;
  readonly route: UpstreamRoute | undefined;
  readonly requestId: string | undefined;
  readonly status: number;
  readonly streamed: boolean;
  readonly startedAt: number | undefined;
  readonly ttfbMs: number | undefined;
  readonly meter: UsageMeter;
  /** Tokens already charged to the quotas. */
  charged: number;
}

export function createMeteringHandler(deps: MeteringDeps): (call: MeteringStream) => void {
  const clock = deps.clock ?? Date.now;
  return (call) => {
    let exchange: Exchange | undefined;
    let done = false;

    const charge = (current: Exchange): void => {
      const usage = current.meter.usage;
      const { token_id: tokenId, workspace } = current.facts;
      if (usage === undefined || tokenId === undefined || workspace === undefined) return;
      const owed = quotaTokens(usage) - current.charged;
      if (owed <= 0) return;
      current.charged += owed;
      deps.quotas?.charge(tokenId, workspace, owed);
    };

    const finish = (complete: boolean): void => {
      if (done) return;
      done = true;
      const current = exchange;
      if (current !== undefined) {
        charge(current);
        record(deps, current, complete, elapsedMs(current.startedAt, clock()));
      }
      // Tells Envoy no more messages are needed; otherwise it holds the stream
      // open after the response (deferred_close_timeout in envoy/bootstrap.ts).
      call.end();
    };

    const handle = (request: ProcessingRequest__Output): void => {
      if (done) return;
      if (request.request === 'response_headers') {
        const receivedAt = clock();
        const headers = toHeaderList(request.response_headers?.headers);
        const facts = readFacts(request.metadata_context);
        const route =
          facts.route !== undefined && ROUTES.has(facts.route) ? (facts.route as UpstreamRoute) : undefined;
        const status = Number(firstHeader(headers, ':status') ?? '0');
        const contentType = firstHeader(headers, 'content-type');
        const startedAt = Date.parse(readAttribute(request.attributes, REQUEST_TIME_ATTRIBUTE) ?? '');
        exchange = {
          facts,
          route,
          requestId: facts.request_id ?? readAttribute(request.attributes, REQUEST_ID_ATTRIBUTE),
          status,
          streamed: isEventStream(contentType),
          startedAt: Number.isNaN(startedAt) ? undefined : startedAt,
          ttfbMs: elapsedMs(startedAt, receivedAt),
          // A refused request has no usage, whatever its body says.
          meter: createUsageMeter(facts.reason === undefined ? route : undefined, status, contentType),
          charged: 0,
        };
        if (request.response_headers?.end_of_stream === true) finish(true);
        return;
      }
      if (request.request === 'response_body' && exchange !== undefined) {
        const body = request.response_body?.body;
        if (body !== undefined && body.length > 0 && exchange.meter.feed(body)) charge(exchange);
        if (request.response_body?.end_of_stream === true) finish(true);
        return;
      }
      // Trailers (never asked for): the response is over.
      if (request.request === 'response_trailers') finish(true);
    };

    call.on('data', (request: ProcessingRequest__Output) => {
      try {
        handle(request);
      } catch (error) {
        deps.metrics?.streamErrors.inc({ stream: 'metering' });
        deps.log.error({ err: error, requestId: exchange?.requestId }, 'metering failed');
        done = true;
        call.end();
      }
    });
    // Envoy closes the stream when the HTTP stream is gone: if the response
    // had not ended by then, its client (or the upstream) went away.
    call.on('end', () => finish(false));
    call.on('cancelled', () => finish(false));
    call.on('error', (error) => {
      deps.metrics?.streamErrors.inc({ stream: 'metering' });
      deps.log.debug({ err: error, requestId: exchange?.requestId }, 'metering stream error');
      finish(false);
    });
  };
}

function record(
  deps: MeteringDeps,
  exchange: Exchange,
  complete: boolean,
  latencyMs: number | undefined,
): void {
  const { facts, meter } = exchange;
  const usage = meter.usage;
  const countedInputTokens = meter.countedInputTokens;
  const entry: AccessRecord = {
    requestId: exchange.requestId,
    tokenId: facts.token_id,
    workspace: facts.workspace,
    model: facts.model,
    ...(facts.requested_model !== undefined ? { requestedModel: facts.requested_model } : {}),
    route: exchange.route,
    status: exchange.status,
    streamed: exchange.streamed,
    latencyMs,
    ttfbMs: exchange.ttfbMs,
    ...(usage !== undefined ? { usage: { ...usage } } : {}),
    ...(countedInputTokens !== undefined ? { countedInputTokens } : {}),
    complete,
    ...(facts.reason !== undefined ? { reason: facts.reason } : {}),
  };
  deps.log.info(entry, 'access');

  const metrics = deps.metrics;
  if (metrics === undefined) return;
  const workspace = facts.workspace ?? NONE;
  const model = facts.model ?? NONE;
  const route = exchange.route ?? NONE;
  metrics.requests.inc({ workspace, model, route, status: String(exchange.status) });
  if (exchange.ttfbMs !== undefined)
    metrics.timeToFirstByte.observe({ route, model }, exchange.ttfbMs / 1000);
  if (latencyMs !== undefined) metrics.latency.observe({ route, model }, latencyMs / 1000);
  if (usage !== undefined) {
    for (const kind of USAGE_KINDS) {
      const value = usage[kind];
      if (value > 0) metrics.tokens.inc({ workspace, model, kind: kind.replace(/_tokens$/, '') }, value);
    }
  }
  if (countedInputTokens !== undefined && countedInputTokens > 0) {
    metrics.countedTokens.inc({ workspace, model }, countedInputTokens);
  }
}
