// What the benchmark's processors on grpc-js's server (grpc-js-gateway.ts, and
// floor-processor.ts --grpc-js) set up alike: the server, and the health
// service beside their own services, before they listen.
import { Server, ServerCredentials, type ServerOptions } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { HEALTH_SERVICES } from '../../processor/health/service.ts';

/**
 * A grpc-js server. grpc-js sends no RST_STREAM NO_ERROR after its status,
 * so Envoy resets a share of the streams it ends: past Node's rapid-reset
 * guard (a burst of 1,000, then 33 a second) the connection would be closed,
 * so the guard is raised, through a private field, as the processor did on
 * grpc-js.
 */
export function createGrpcJsServer(options: ServerOptions): Server {
  const server = new Server(options);
  const internals = server as unknown as { commonServerOptions: Record<string, unknown> };
  Object.assign(internals.commonServerOptions, { streamResetBurst: 1_000_000, streamResetRate: 1_000_000 });
  return server;
}

/** Adds the health service (SERVING for every name) and listens on `address`; `onListening` gets the bound port. */
export function listenGrpcJs(server: Server, address: string, onListening: (port: number) => void): void {
  new HealthImplementation(
    Object.fromEntries(HEALTH_SERVICES.map((name) => [name, 'SERVING' as const])),
  ).addToServer(server);
  server.bindAsync(address, ServerCredentials.createInsecure(), (error, port) => {
    if (error) throw error;
    onListening(port);
  });
}
