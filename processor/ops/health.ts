// The gRPC health service (grpc.health.v1.Health) the processor serves beside
// ext_proc. Envoy's active health check of the processor cluster
// (envoy/bootstrap.ts), the container's HEALTHCHECK (processor/ops/healthcheck.ts)
// and Kubernetes gRPC probes all ask it. It answers SERVING once ext_proc is
// bound and NOT_SERVING from the moment a shutdown begins.
import type {
  Server,
  ServerWritableStream,
  ServiceDefinition,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { EXT_PROC_SERVICE } from './health-names.ts';

export { EXT_PROC_SERVICE };
/** '' is the whole server (the gRPC convention); Envoy asks about ext_proc by name. */
export const HEALTH_SERVICES: readonly string[] = ['', EXT_PROC_SERVICE];

export type HealthStatus = 'SERVING' | 'NOT_SERVING';

export interface Health {
  addTo(server: Server): void;
  set(status: HealthStatus): void;
  /**
   * Ends the Watch streams (after they have seen NOT_SERVING): a watcher
   * never ends its stream itself and would hold a graceful shutdown until
   * its deadline.
   */
  closeWatches(): void;
}

type WatchCall = ServerWritableStream<unknown, unknown>;

export function createHealth(): Health {
  // Not serving until the server says so: a probe that arrives while the
  // process is still starting must not count as healthy.
  const implementation = new HealthImplementation(
    Object.fromEntries(HEALTH_SERVICES.map((name) => [name, 'NOT_SERVING' as const])),
  );
  const watches = new Set<WatchCall>();
  return {
    addTo: (server) =>
      // The package registers its handlers itself; step in between to keep
      // track of the Watch streams.
      implementation.addToServer({
        addService: (definition, handlers) => {
          const { watch, ...others } = handlers as UntypedServiceImplementation;
          const watchHandler = watch as (call: WatchCall) => void;
          server.addService(definition as unknown as ServiceDefinition, {
            ...others,
            watch: (call: WatchCall) => {
              watches.add(call);
              call.on('cancelled', () => watches.delete(call));
              watchHandler(call);
            },
          });
        },
      }),
    set: (status) => {
      for (const name of HEALTH_SERVICES) implementation.setStatus(name, status);
    },
    closeWatches: () => {
      for (const call of watches) call.end();
      watches.clear();
    },
  };
}
