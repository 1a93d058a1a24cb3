// How a launcher (`npm start`, the tests, the benchmark) learns that the
// processor it started listens, and where: one message over the IPC channel
// that ties them (processor/lifecycle/parent.ts), sent once ext_proc is bound and
// the health service answers SERVING. A message with a shape, not the wording
// of a log line, which is written for people and free to change; and the
// launcher needs the bound port where the configuration said 0. Run any other
// way (a container, by hand), there is no channel and nobody to tell.
import { type Address, formatAddress, withPort } from '../config/address.ts';

export interface Listening {
  /** Where ext_proc listens: host:port with the bound port, or the `unix:` path. */
  readonly address: string;
  /** The Prometheus endpoint's bound port, when metrics are enabled. */
  readonly metricsPort: number | undefined;
}

interface ListeningMessage {
  readonly type: 'listening';
  readonly address: string;
  readonly metricsPort?: number;
}

/** `host:port` with the port it listens on (a configured 0 is an ephemeral port), or the `unix:` path. */
export function boundAddress(address: Address, port: number | undefined): string {
  return formatAddress(withPort(address, port));
}

/** Tells the launcher, if there is one, that this process listens. */
export function signalListening(listening: Listening): void {
  const message: ListeningMessage = {
    type: 'listening',
    address: listening.address,
    ...(listening.metricsPort === undefined ? {} : { metricsPort: listening.metricsPort }),
  };
  // A launcher already gone is not an error here: parent.ts shuts the process down.
  process.send?.(message, undefined, {}, () => {});
}

/** The launcher's side: what an IPC message from the processor says, if it is the listening signal. */
export function listeningSignal(message: unknown): Listening | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const { type, address, metricsPort } = message as Record<string, unknown>;
  if (type !== 'listening' || typeof address !== 'string') return undefined;
  return { address, metricsPort: typeof metricsPort === 'number' ? metricsPort : undefined };
}
