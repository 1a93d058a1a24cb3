// The gRPC health service (grpc.health.v1.Health) the processor serves beside
// ext_proc. Envoy's active health check of the processor cluster
// (envoy/bootstrap/clusters.ts), the container's HEALTHCHECK (processor/health/healthcheck.ts)
// and Kubernetes gRPC probes all ask it. It answers SERVING once ext_proc is
// bound and NOT_SERVING from the moment a shutdown begins. The messages are
// those of the grpc-health-check package's definition; the behaviour is the
// protocol's (grpc/doc/health-checking.md): Check of an unknown service is
// NOT_FOUND, Watch sends the status now and on every change.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { service as healthDefinition } from 'grpc-health-check';
import { EXT_PROC_SERVICE } from '../contract/names.ts';
import { type ServerCall, Status } from '../grpc/call.ts';
import { generatedMethod, type Method } from '../grpc/server.ts';

export { EXT_PROC_SERVICE };
/** '' is the whole server (the gRPC convention); Envoy asks about ext_proc by name. */
export const HEALTH_SERVICES: readonly string[] = ['', EXT_PROC_SERVICE];

export type HealthStatus = 'SERVING' | 'NOT_SERVING';

interface HealthRequest {
  readonly service?: string;
}
interface HealthResponse {
  readonly status: HealthStatus | 'SERVICE_UNKNOWN';
}
type HealthCall = ServerCall<HealthRequest, HealthResponse>;

export interface Health {
  /** The service's methods, by path, for processor/grpc/server.ts. */
  readonly methods: Readonly<Record<string, Method>>;
  set(status: HealthStatus): void;
  /**
   * Ends the Watch streams (after they have seen NOT_SERVING): a watcher
   * never ends its stream itself and would hold a graceful shutdown until
   * its deadline.
   */
  closeWatches(): void;
}

function method(name: 'Check' | 'Watch', handle: (call: HealthCall) => void): [string, Method] {
  return generatedMethod<HealthRequest, HealthResponse>(
    name,
    (healthDefinition as unknown as ServiceDefinition)[name],
    handle,
  );
}

/** Answers the call's one request message; nothing else is read from it. */
function onRequest(call: HealthCall, answer: (serviceName: string) => void): void {
  let answered = false;
  call.on('data', (request: HealthRequest) => {
    if (answered) return;
    answered = true;
    answer(request.service ?? '');
  });
  // A client that sends no request at all gets an answer too.
  call.on('end', () => {
    if (!answered) call.end({ code: Status.INTERNAL, details: 'no request message' });
  });
  call.on('error', () => {});
}

export function createHealth(): Health {
  // Not serving until the server says so: a probe that arrives while the
  // process is still starting must not count as healthy.
  let status: HealthStatus = 'NOT_SERVING';
  const watches = new Map<HealthCall, string>();
  const known = (serviceName: string) => HEALTH_SERVICES.includes(serviceName);

  const check = (call: HealthCall) =>
    onRequest(call, (serviceName) => {
      if (!known(serviceName)) {
        call.end({ code: Status.NOT_FOUND, details: `health status unknown for service ${serviceName}` });
        return;
      }
      call.write({ status });
      call.end();
    });

  const watch = (call: HealthCall) =>
    onRequest(call, (serviceName) => {
      call.write({ status: known(serviceName) ? status : 'SERVICE_UNKNOWN' });
      // Kept open (the protocol's way), so kept track of, for closeWatches.
      watches.set(call, serviceName);
      call.once('close', () => watches.delete(call));
    });

  return {
    methods: Object.fromEntries([method('Check', check), method('Watch', watch)]),
    set: (next) => {
      if (next === status) return;
      status = next;
      for (const [call, serviceName] of watches) if (known(serviceName)) call.write({ status });
    },
    closeWatches: () => {
      for (const call of watches.keys()) call.end();
      watches.clear();
    },
  };
}
