// A client of the processor's grpc.health.v1 service: the container's
// HEALTHCHECK (processor/health/healthcheck.ts) and the tests ask through it.
import { type Client, credentials, makeClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { service } from 'grpc-health-check';

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

type CheckCallback = (error: Error | null, response?: { status?: ServingStatus }) => void;
type HealthClient = Client & {
  check(request: { service: string }, options: { deadline: number }, callback: CheckCallback): void;
  watch(request: { service: string }): NodeJS.EventEmitter & { cancel(): void };
};

const HealthClientCtor = makeClientConstructor(
  service as unknown as ServiceDefinition,
  'grpc.health.v1.Health',
) as unknown as new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
) => HealthClient;

/** Asks `address` (gRPC's host:port or unix:/path: formatAddress) once; rejects if it cannot be asked. */
export function checkHealth(address: string, serviceName = '', timeoutMs = 2_000): Promise<ServingStatus> {
  const client = new HealthClientCtor(address, credentials.createInsecure());
  return new Promise<ServingStatus>((resolve, reject) => {
    client.check({ service: serviceName }, { deadline: Date.now() + timeoutMs }, (error, response) => {
      client.close();
      if (error !== null) reject(error);
      else resolve(response?.status ?? 'UNKNOWN');
    });
  });
}

export interface HealthWatch {
  /** Every status received so far, in order. */
  readonly statuses: ServingStatus[];
  /** Settles when the server ends the stream (OK) or it fails. */
  readonly ended: Promise<{ code: number }>;
  cancel(): void;
}

/** Opens a Watch stream: the server sends the status now and on every change. */
export function watchHealth(address: string, serviceName = ''): HealthWatch {
  const client = new HealthClientCtor(address, credentials.createInsecure());
  const call = client.watch({ service: serviceName });
  const statuses: ServingStatus[] = [];
  call.on('data', (response: { status?: ServingStatus }) => statuses.push(response.status ?? 'UNKNOWN'));
  call.on('error', () => {});
  const ended = new Promise<{ code: number }>((resolve) => {
    call.on('status', (status: { code: number }) => {
      client.close();
      resolve(status);
    });
  });
  return { statuses, ended, cancel: () => call.cancel() };
}
