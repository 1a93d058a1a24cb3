// The processor's gRPC server, as Envoy reaches it: the ext_proc method (one
// stream per request, the policy), Envoy's access-log stream (one long-lived
// stream per Envoy worker, every finished request's entry:
// processor/accesslog/) and the health service beside them
// (processor/grpc/server.ts).
import type { ServiceDefinition } from '@grpc/grpc-js';
import type { ProcessingRequest__Output } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingRequest.ts';
import type { ProcessingResponse } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import { accessLogMethod, createAccessLogService } from '../accesslog/service.ts';
import type { Address } from '../config/address.ts';
import { ACCESS_LOG_FLUSH_INTERVAL_MS } from '../contract/access-log.ts';
import {
  type GrpcServer,
  generatedMethod,
  type Keepalive,
  type Method,
  startGrpcServer,
} from '../grpc/server.ts';
import type { Health } from '../health/service.ts';
import type { GatewayMetrics } from '../metrics/registry.ts';
import type { Quotas } from '../quota/quotas.ts';
import { createPolicyStreamHandler, type PolicyStream, type PolicyStreamDeps } from './policy-stream.ts';
import { loadExtProcService } from './protos.ts';

/** Room for the protobuf framing around a body of the maximum size. */
const MESSAGE_OVERHEAD_BYTES = 64 * 1024;

/**
 * At shutdown, how long the access-log streams stay open once the last
 * policy stream is done: a few of Envoy's flushes, so the entries of the
 * requests decided last arrive here.
 */
const ACCESS_LOG_GRACE_MS = 3 * ACCESS_LOG_FLUSH_INTERVAL_MS;

export interface ExtProcServerOptions extends Omit<PolicyStreamDeps, 'limits' | 'quotas'> {
  /** host:port, or unix:/path. */
  readonly address: Address;
  readonly maxRequestBodyBytes: number;
  /** Admits requests on the policy stream, is charged from the access log; none when absent. */
  readonly quotas?: Quotas | undefined;
  /** Served beside ext_proc (grpc.health.v1), when given. */
  readonly health?: Health;
  /** Pings on every connection (processor.keepalive_*); none when absent or 0. */
  readonly keepalive?: { readonly intervalSeconds: number; readonly timeoutSeconds: number };
}

export interface RunningServer {
  readonly server: GrpcServer;
  /** The bound port (0 for a Unix socket). */
  readonly port: number;
  /**
   * For a graceful shutdown: once no policy stream is open (and a short
   * grace), ends Envoy's access-log streams, which would otherwise stay open
   * for ever. Envoy sends later entries on a new stream, to a processor that
   * is up.
   */
  readonly closeAccessLogs: () => void;
}

/** The ext_proc method's path and codec (protobufjs through @grpc/proto-loader), with `handle`. */
export function extProcMethod(handle: (call: PolicyStream) => void): [string, Method] {
  return generatedMethod<ProcessingRequest__Output, ProcessingResponse>(
    'Process',
    (loadExtProcService() as ServiceDefinition).Process,
    handle,
  );
}

export async function startExtProcServer(options: ExtProcServerOptions): Promise<RunningServer> {
  const policyHandler = createPolicyStreamHandler({
    policy: options.policy,
    limits: { maxRequestBodyBytes: options.maxRequestBodyBytes },
    log: options.log,
    quotas: options.quotas,
    metrics: options.metrics,
  });
  const accessLog = createAccessLogService({
    log: options.log,
    quotas: options.quotas,
    metrics: options.metrics,
    catalog: () => options.policy().catalog,
  });
  const metrics = options.metrics;
  let policyStreams = 0;
  let closing: 'no' | 'waiting' | 'scheduled' = 'no';
  const closeWhenIdle = () => {
    if (closing !== 'waiting' || policyStreams > 0) return;
    closing = 'scheduled';
    setTimeout(() => accessLog.closeAll(), ACCESS_LOG_GRACE_MS).unref();
  };
  const [policyPath, policyMethod] = extProcMethod((call) => {
    policyStreams += 1;
    whenDone(call, () => {
      policyStreams -= 1;
      closeWhenIdle();
    });
    if (metrics !== undefined) countOpen(call, 'policy', metrics);
    policyHandler(call);
  });
  const [accessLogPath, accessLogStream] = accessLogMethod((call) => {
    if (metrics !== undefined) countOpen(call, 'access_log', metrics);
    accessLog.handle(call);
    // A stream that starts while the server is closing is ended at once.
    if (closing === 'scheduled') accessLog.closeAll();
  });
  const server = await startGrpcServer({
    address: options.address,
    // A buffered Anthropic body may be 32 MiB.
    maxMessageBytes: options.maxRequestBodyBytes + MESSAGE_OVERHEAD_BYTES,
    methods: { [policyPath]: policyMethod, [accessLogPath]: accessLogStream, ...options.health?.methods },
    ...(options.keepalive === undefined ? {} : { keepalive: keepalive(options.keepalive, options) }),
    onError: (error, where) => {
      metrics?.grpcErrors.inc({ where });
      options.log.warn({ err: error, where }, `gRPC ${where} failed`);
    },
  });
  return {
    server,
    port: server.port,
    closeAccessLogs: () => {
      if (closing !== 'no') return;
      closing = 'waiting';
      closeWhenIdle();
    },
  };
}

function keepalive(
  settings: NonNullable<ExtProcServerOptions['keepalive']>,
  { log, metrics }: ExtProcServerOptions,
): Keepalive {
  const timeoutMs = settings.timeoutSeconds * 1000;
  return {
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs,
    onTimeout: ({ remoteAddress }) => {
      metrics?.keepaliveTimeouts.inc();
      log.warn(
        { remoteAddress, timeoutMs },
        'keepalive: the peer did not answer a ping in time; closing its connection and the calls on it',
      );
    },
  };
}

interface Finishing {
  once(event: 'finish' | 'close', listener: () => void): unknown;
}

/** Runs `done` once, when this side has finished with the call or it is gone. */
function whenDone(call: Finishing, done: () => void): void {
  let open = true;
  const closed = () => {
    if (!open) return;
    open = false;
    done();
  };
  call.once('finish', closed);
  call.once('close', closed);
}

/** Counts the stream as open until this side has finished with it or it is gone. */
function countOpen(call: Finishing, stream: string, metrics: GatewayMetrics): void {
  metrics.openStreams.inc({ stream });
  whenDone(call, () => metrics.openStreams.dec({ stream }));
}
