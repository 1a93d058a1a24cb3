// The gateway's Prometheus metrics, in a registry of their own (not
// prom-client's global one), so tests and several processors in one process
// never share counters. Labels take values from the configuration (workspace,
// model of the catalog, token id), the route, the status and the policy's
// reasons: a bounded set, whatever clients send. A token id is a label too:
// ids come from the configuration, so there are as many as tokens configured.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'workspace' | 'token' | 'model' | 'route' | 'status'>;
  readonly tokens: Counter<'workspace' | 'token' | 'model' | 'kind'>;
  readonly countedTokens: Counter<'workspace' | 'token' | 'model'>;
  readonly latency: Histogram<'route' | 'model'>;
  readonly timeToFirstByte: Histogram<'route' | 'model'>;
  readonly rejected: Counter<'reason'>;
  readonly streamErrors: Counter<'stream'>;
  readonly quotaStoreErrors: Counter<'operation'>;
  /** Entries received on Envoy's access-log streams: compare with Envoy's grpc_entries_flushed. */
  readonly accessLogEntries: Counter;
  /** What a graceful shutdown waits for. */
  readonly openStreams: Gauge<'stream'>;
  /** Connections closed because their peer stopped answering pings. */
  readonly keepaliveTimeouts: Counter;
  /** USD the upstream bills for, at the catalog's prices (processor/cost/). */
  readonly cost: Counter<'workspace' | 'token' | 'model'>;
  /** Billed requests whose cost is unknown (a model without a price, or no usage reported). */
  readonly costUnknown: Counter<'workspace' | 'model'>;
  /** The configuration in force and its reloads (processor/config/live.ts). */
  readonly config: ConfigMetrics;
  /** Connections and streams of the processor's gRPC server that failed. */
  readonly grpcErrors: Counter<'where'>;
}

export interface ConfigMetrics {
  /** Reloads tried, by outcome: `success` (applied) or `failure` (rejected; the previous configuration serves). */
  readonly reloads: Counter<'outcome'>;
  /** When the configuration in force was loaded, in seconds since the epoch. */
  readonly loadedAt: Gauge;
  /** 1, labelled with the sha256 of the configuration file in force. */
  readonly info: Gauge<'sha256'>;
}

export type ReloadOutcome = 'success' | 'failure';
export const RELOAD_OUTCOMES: readonly ReloadOutcome[] = ['success', 'failure'];

/** Label value for what a request did not get as far as (no workspace before authentication, say). */
export const NONE = 'none';

export function createMetrics(options: { defaultMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  // Their conventional names (process_cpu_seconds_total, nodejs_heap_size_used_bytes, …),
  // as stock Node.js dashboards and alerts expect them; the job label tells the processor apart.
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const reloads = new Counter({
    name: 'gateway_config_reloads_total',
    help: 'Configuration reloads (SIGHUP, a change of the file), by outcome: success (applied) or failure (rejected; the previous configuration keeps serving).',
    labelNames: ['outcome'] as const,
    registers,
  });
  // Failure counters exist from the start, at 0, so that a rate or an alert over
  // them reads 0 rather than nothing (and a dashboard's query finds them).
  for (const outcome of RELOAD_OUTCOMES) reloads.inc({ outcome }, 0);
  const streamErrors = new Counter({
    name: 'gateway_processor_stream_errors_total',
    help: 'Processor streams that failed, by kind: policy (gRPC errors, or a policy failure answered with 500) and access_log (stream errors, entries that could not be settled).',
    labelNames: ['stream'] as const,
    registers,
  });
  for (const stream of ['policy', 'access_log']) streamErrors.inc({ stream }, 0);
  const quotaStoreErrors = new Counter({
    name: 'gateway_quota_store_errors_total',
    help: 'Quota store operations that failed (Redis unreachable or too slow), by operation.',
    labelNames: ['operation'] as const,
    registers,
  });
  for (const operation of ['admit', 'charge']) quotaStoreErrors.inc({ operation }, 0);
  return {
    registry,
    requests: new Counter({
      name: 'gateway_requests_total',
      help: 'Requests answered, by workspace, token id, model, route and HTTP status.',
      labelNames: ['workspace', 'token', 'model', 'route', 'status'] as const,
      registers,
    }),
    tokens: new Counter({
      name: 'gateway_tokens_total',
      help: 'Tokens consumed by /v1/messages as the upstream reported them, by workspace, token id, model and kind (input, output, cache_creation_input, cache_read_input).',
      labelNames: ['workspace', 'token', 'model', 'kind'] as const,
      registers,
    }),
    countedTokens: new Counter({
      name: 'gateway_count_tokens_input_tokens_total',
      help: 'Input tokens counted by /v1/messages/count_tokens (counted, not consumed), by workspace, token id and model.',
      labelNames: ['workspace', 'token', 'model'] as const,
      registers,
    }),
    latency: new Histogram({
      name: 'gateway_request_duration_seconds',
      help: 'From the request reaching Envoy to the last response byte passing it.',
      labelNames: ['route', 'model'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    }),
    timeToFirstByte: new Histogram({
      name: 'gateway_time_to_first_byte_seconds',
      help: 'From the request reaching Envoy to the response headers passing it.',
      labelNames: ['route', 'model'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    rejected: new Counter({
      name: 'gateway_rejected_requests_total',
      help: 'Requests the gateway refused before the upstream, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    streamErrors,
    quotaStoreErrors,
    accessLogEntries: new Counter({
      name: 'gateway_access_log_entries_total',
      help: "Access-log entries received from Envoy, one per finished request; Envoy's access_logs.grpc_access_log.grpc_entries_flushed minus this is what was lost on the way.",
      registers,
    }),
    openStreams: new Gauge({
      name: 'gateway_processor_open_streams',
      help: "Processor streams open now, by kind: policy (requests being decided) and access_log (Envoy's long-lived access-log streams, one per Envoy worker); a graceful shutdown waits for the policy streams.",
      labelNames: ['stream'] as const,
      registers,
    }),
    keepaliveTimeouts: new Counter({
      name: 'gateway_processor_keepalive_timeouts_total',
      help: 'Connections to the processor it closed because a keepalive ping went unanswered (a peer gone without closing the connection).',
      registers,
    }),
    cost: new Counter({
      name: 'gateway_cost_usd_total',
      help: "USD of the requests answered, from the usage the upstream reported at the catalog's prices, by workspace, token and model; requests whose cost is unknown are not in it.",
      labelNames: ['workspace', 'token', 'model'] as const,
      registers,
    }),
    costUnknown: new Counter({
      name: 'gateway_cost_unknown_requests_total',
      help: 'Requests the upstream bills for whose cost is unknown: a model without a price in the catalog, or no usage reported.',
      labelNames: ['workspace', 'model'] as const,
      registers,
    }),
    config: {
      reloads,
      loadedAt: new Gauge({
        name: 'gateway_config_loaded_timestamp_seconds',
        help: 'When the configuration in force was loaded (at start, or by the last reload that was applied), in seconds since the epoch.',
        registers,
      }),
      info: new Gauge({
        name: 'gateway_config_info',
        help: 'Always 1, labelled with the sha256 of the configuration file in force (what sha256sum prints for it); absent when the configuration comes from the environment alone.',
        labelNames: ['sha256'] as const,
        registers,
      }),
    },
    grpcErrors: new Counter({
      name: 'gateway_processor_grpc_errors_total',
      help: "Failures on the processor's gRPC server, by where: session (a connection: protocol error, rapid-reset guard, lost socket) or stream (a reset with an error code, a failed write).",
      labelNames: ['where'] as const,
      registers,
    }),
  };
}
