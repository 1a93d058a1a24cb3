// The gRPC health service (grpc.health.v1.Health) the processor serves beside
// ext_proc. Envoy's active health check of the processor cluster
// (envoy/bootstrap.ts), the container's HEALTHCHECK (processor/ops/healthcheck.ts)
// and Kubernetes gRPC probes all ask it. It answers SERVING once ext_proc is
// bound and NOT_SERVING from the moment a shutdown begins.
import type { Server } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';

/** The service name Envoy asks about; '' is the whole server (the gRPC convention). */
export const EXT_PROC_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';
export const HEALTH_SERVICES: readonly string[] = ['', EXT_PROC_SERVICE];

export type HealthStatus = 'SERVING' | 'NOT_SERVING';

export interface Health {
  addTo(server: Server): void;
  set(status: HealthStatus): void;
}

export function createHealth(): Health {
  // Not serving until the server says so: a probe that arrives while the
  // process is still starting must not count as healthy.
  const implementation = new HealthImplementation(
    Object.fromEntries(HEALTH_SERVICES.map((name) => [name, 'NOT_SERVING' as const])),
  );
  return {
    addTo: (server) => implementation.addToServer(server),
    set: (status) => {
      for (const name of HEALTH_SERVICES) implementation.setStatus(name, status);
    },
  };
}
