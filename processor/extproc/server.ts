// The gRPC server that Envoy's ext_proc filters connect to: the ext_proc
// method, with the health service beside it (processor/grpc/server.ts).
import type { ServiceDefinition } from '@grpc/grpc-js';
import type { ProcessingRequest__Output } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingRequest.ts';
import type { ProcessingResponse } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import {
  type GrpcServer,
  generatedMethod,
  type Keepalive,
  type Method,
  startGrpcServer,
} from '../grpc/server.ts';
import type { GatewayMetrics } from '../metrics/registry.ts';
import type { Health } from '../ops/health.ts';
import { createMeteringHandler } from './metering-service.ts';
import { loadExtProcService } from './protos.ts';
import type { ExtProcDeps, ProcessStream } from './service.ts';
import { createProcessHandler } from './service.ts';

/**
 * gRPC metadata Envoy's metering filter sends on its streams (envoy/bootstrap.ts):
 * both filters call the same ExternalProcessor service, and this tells them apart.
 */
export const STREAM_KIND_HEADER = 'x-anthropic-gateway-stream';
export const METERING_STREAM = 'metering';

/** Room for the protobuf framing around a body of the maximum size. */
const MESSAGE_OVERHEAD_BYTES = 64 * 1024;

export interface ExtProcServerOptions extends Omit<ExtProcDeps, 'limits'> {
  /** host:port, or unix:/path. */
  readonly address: string;
  readonly maxRequestBodyBytes: number;
  /** Served beside ext_proc (grpc.health.v1), when given. */
  readonly health?: Health;
  /** Pings on every connection (processor.keepalive_*); none when absent or 0. */
  readonly keepalive?: { readonly intervalSeconds: number; readonly timeoutSeconds: number };
}

export interface RunningServer {
  readonly server: GrpcServer;
  /** The bound port (0 for a Unix socket). */
  readonly port: number;
}

/** The ext_proc method's path and codec (protobufjs through @grpc/proto-loader), with `handle`. */
export function extProcMethod(handle: (call: ProcessStream) => void): [string, Method] {
  return generatedMethod<ProcessingRequest__Output, ProcessingResponse>(
    'Process',
    (loadExtProcService() as ServiceDefinition).Process,
    handle,
  );
}

export async function startExtProcServer(options: ExtProcServerOptions): Promise<RunningServer> {
  const policyHandler = createProcessHandler({
    policy: options.policy,
    limits: { maxRequestBodyBytes: options.maxRequestBodyBytes },
    log: options.log,
    quotas: options.quotas,
    metrics: options.metrics,
  });
  const meteringHandler = createMeteringHandler({
    log: options.log,
    quotas: options.quotas,
    metrics: options.metrics,
  });
  const metrics = options.metrics;
  const [path, method] = extProcMethod((call) => {
    const metering = call.header(STREAM_KIND_HEADER) === METERING_STREAM;
    if (metrics !== undefined) countOpen(call, metering ? 'metering' : 'policy', metrics);
    if (metering) meteringHandler(call);
    else policyHandler(call);
  });
  const server = await startGrpcServer({
    address: options.address,
    // A buffered Anthropic body may be 32 MiB.
    maxMessageBytes: options.maxRequestBodyBytes + MESSAGE_OVERHEAD_BYTES,
    methods: { [path]: method, ...options.health?.methods },
    ...(options.keepalive === undefined ? {} : { keepalive: keepalive(options.keepalive, options) }),
  });
  return { server, port: server.port };
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

/** Counts the stream as open until this side has finished with it or it is gone. */
function countOpen(call: ProcessStream, stream: string, metrics: GatewayMetrics): void {
  metrics.openStreams.inc({ stream });
  let open = true;
  const closed = () => {
    if (!open) return;
    open = false;
    metrics.openStreams.dec({ stream });
  };
  call.once('finish', closed);
  call.once('close', closed);
}
