// The gRPC server that Envoy's ext_proc filter connects to.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Health } from '../ops/health.ts';
import { loadExtProcService } from './protos.ts';
import type { ExtProcDeps } from './service.ts';
import { createProcessHandler } from './service.ts';

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
  server.addService(loadExtProcService(), {
    Process: createProcessHandler({ policy: options.policy, log: options.log }),
  });
  options.health?.addTo(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.address, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return { server, port };
}
