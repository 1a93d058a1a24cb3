// Graceful shutdown of the gRPC server. The listener closes and every
// connection gets an HTTP/2 GOAWAY, so no new ext_proc stream starts here;
// streams already open finish (a request waiting for its body decision gets
// it) until the deadline, when the rest are cancelled. Envoy answers an
// undecided request 503, fail-closed, and nothing reaches the upstream
// unchecked. Envoy's access-log streams are ended by the server once the
// policy streams are done (processor/extproc/server.ts): a response still
// passing goes on, its usage read by Envoy, and its entry goes to the
// processor that is up when it ends.
import type { GrpcServer } from '../grpc/server.ts';
import type { Health } from '../health/service.ts';
import type { Logger } from '../log.ts';

export type ShutdownOutcome = 'drained' | 'deadline' | 'interrupted';

export interface ShutdownOptions {
  readonly server: GrpcServer;
  readonly health: Health;
  readonly timeoutMs: number;
  readonly log: Logger;
  /** Settles when the operator insists (a second signal): cancel what is left now. */
  readonly interrupt?: Promise<unknown>;
}

export function shutDownGracefully(options: ShutdownOptions): Promise<ShutdownOutcome> {
  const { server, health, timeoutMs, log } = options;
  // Health checkers that still have a connection see the change first.
  health.set('NOT_SERVING');
  health.closeWatches();
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: ShutdownOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(outcome);
    };
    const cancelRemaining = (outcome: ShutdownOutcome, why: string) => {
      if (settled) return;
      log.warn({ timeoutMs }, `${why}; cancelling the streams still open`);
      // Settle first: forcing also completes tryShutdown's callback.
      settle(outcome);
      server.forceShutdown();
    };
    const deadline = setTimeout(() => cancelRemaining('deadline', 'shutdown deadline passed'), timeoutMs);
    void options.interrupt?.then(() => cancelRemaining('interrupted', 'shutdown interrupted'));
    server.tryShutdown(() => settle('drained'));
  });
}
