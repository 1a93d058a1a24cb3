// How long the processor's event loop is held: a worker thread asks the
// processor's gRPC health service (grpc.health.v1 Check) over and over, one
// call at a time on its own HTTP/2 connection, and keeps the longest wait.
// A call sent while the processor is busy with a body waits until it is done,
// so the longest wait over a body is the longest block (plus one round trip).
// A thread of its own, so that the benchmark's own work (building and
// sending a 32 MB message) never delays a probe.
import { connect } from 'node:http2';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/** A Check for the server's overall status: an empty message, framed. */
const EMPTY_CHECK = Buffer.from([0, 0, 0, 0, 0]);

export interface LoopProbe {
  /** Forgets the longest wait so far. */
  reset(): Promise<void>;
  /** The longest wait (ms) since the last reset, and how many calls were answered. */
  read(): Promise<{ longestMs: number; calls: number }>;
  stop(): Promise<void>;
}

type Reply = { longestMs: number; calls: number };

/** Starts probing the processor at `address` (host:port). */
export function startLoopProbe(address: string): Promise<LoopProbe> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { address } });
  let pending: ((reply: Reply) => void) | undefined;
  worker.on('message', (reply: Reply) => {
    const resolve = pending;
    pending = undefined;
    resolve?.(reply);
  });
  const ask = (command: 'reset' | 'read') =>
    new Promise<Reply>((resolve) => {
      pending = resolve;
      worker.postMessage(command);
    });
  return ask('read').then(() => ({
    reset: async () => {
      await ask('reset');
    },
    read: () => ask('read'),
    stop: async () => {
      await worker.terminate();
    },
  }));
}

function probe(address: string): void {
  const session = connect(`http://${address}`);
  session.on('error', () => {});
  let longestMs = 0;
  let calls = 0;
  const check = () =>
    new Promise<void>((resolve) => {
      const call = session.request({
        ':method': 'POST',
        ':path': '/grpc.health.v1.Health/Check',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      call.on('data', () => {});
      call.on('error', () => {});
      call.on('close', () => resolve());
      call.end(EMPTY_CHECK);
    });
  const loop = async () => {
    for (;;) {
      const started = performance.now();
      await check();
      longestMs = Math.max(longestMs, performance.now() - started);
      calls += 1;
    }
  };
  parentPort?.on('message', (command: 'reset' | 'read') => {
    parentPort?.postMessage({ longestMs, calls });
    if (command === 'reset') {
      longestMs = 0;
      calls = 0;
    }
  });
  session.once('connect', () => void loop());
}

if (!isMainThread) probe((workerData as { address: string }).address);
