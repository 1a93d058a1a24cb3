// The gRPC server that Envoy's ext_proc filter connects to.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { GatewayMetrics } from '../metrics/registry.ts';
import type { Health } from '../ops/health.ts';
import { createMeteringHandler, type MeteringStream } from './metering-service.ts';
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

export interface ExtProcServerOptions extends ExtProcDeps {
  /** host:port, or unix:/path. */
  readonly address: string;
  readonly maxRequestBodyBytes: number;
  /** Served beside ext_proc (grpc.health.v1), when given. */
  readonly health?: Health;
}

export interface RunningServer {
  readonly server: Server;
  /** The bound port (0 for a Unix socket). */
  readonly port: number;
}

export async function startExtProcServer(options: ExtProcServerOptions): Promise<RunningServer> {
  const server = new Server({
    // grpc-js accepts 4 MiB by default; a buffered Anthropic body may be 32 MiB.
    'grpc.max_receive_message_length': options.maxRequestBodyBytes + MESSAGE_OVERHEAD_BYTES,
  });
  tolerateEnvoyStreamResets(server);
  const policyHandler = createProcessHandler({
    policy: options.policy,
    log: options.log,
    quotas: options.quotas,
    metrics: options.metrics,
  });
  const meteringHandler = createMeteringHandler({
    log: options.log,
    quotas: options.quotas,
    metrics: options.metrics,
  });
  server.addService(loadExtProcService(), {
    Process: (call: ProcessStream) => {
      const metering = call.metadata.get(STREAM_KIND_HEADER)[0] === METERING_STREAM;
      if (options.metrics !== undefined) countOpen(call, metering ? 'metering' : 'policy', options.metrics);
      if (metering) meteringHandler(call as MeteringStream);
      else policyHandler(call);
    },
  });
  options.health?.addTo(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.address, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return { server, port };
}

/** Counts the stream as open until this side has finished with it or it is cancelled. */
function countOpen(call: ProcessStream, stream: string, metrics: GatewayMetrics): void {
  metrics.openStreams.inc({ stream });
  let open = true;
  const closed = () => {
    if (!open) return;
    open = false;
    metrics.openStreams.dec({ stream });
  };
  call.once('finish', closed);
  call.once('cancelled', closed);
  call.once('error', closed);
  call.once('close', closed);
}

/**
 * Envoy resets an ext_proc stream that the processor has already ended (we end
 * policy streams once decided, and metering streams at the body's end). Node's
 * HTTP/2 server counts every reset against nghttp2's rapid-reset guard (a burst
 * of 1,000, then 33 a second) and, past it, sends GOAWAY: under sustained load
 * that dropped connections and failed in-flight streams. The only peer here is
 * Envoy, so the guard is raised far above any request rate. grpc-js has no
 * option for it: its http2 server options are set on a private field, read at
 * bind time (grpc-js 1.14, pinned; test/e2e/sustained-load.test.ts fails if a
 * version stops honouring it).
 */
const RESET_TOLERANCE = { streamResetBurst: 1_000_000, streamResetRate: 1_000_000 };

export function tolerateEnvoyStreamResets(server: Server): void {
  const internals = server as unknown as { commonServerOptions?: Record<string, unknown> };
  if (internals.commonServerOptions !== undefined)
    Object.assign(internals.commonServerOptions, RESET_TOLERANCE);
}
