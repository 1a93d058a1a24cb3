// How long an unrelated request waits while the processor takes a body: a
// worker thread asks the processor's gRPC health service (grpc.health.v1
// Check) over and over, one call at a time on its own HTTP/2 connection, and
// keeps the longest wait. A call sent while the processor is busy waits until
// it is free. A thread of its own, so that the benchmark's own work (sending
// a 32 MB message) never delays a probe.
//
// A read waits for the call in flight to come back first: the processor
// answers the body and that call in the same turn of its loop, and the
// benchmark, seeing the body's answer, must not read the longest wait before
// the call that waited longest has counted.
import { connect } from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/** A Check for the server's overall status: an empty message, framed. */
const EMPTY_CHECK = Buffer.from([0, 0, 0, 0, 0]);

export interface ProbeReport {
  /** The longest wait (ms) of a call answered since the last reset. */
  readonly longestMs: number;
  readonly calls: number;
  /** Calls that failed (the connection went, the processor is gone). */
  readonly failures: number;
}

export interface LoopProbe {
  /** Forgets what it saw so far. */
  reset(): Promise<void>;
  /** What it saw since the last reset, once the call in flight has come back (or after 10 s). */
  read(): Promise<ProbeReport>;
  stop(): Promise<void>;
}

/** Starts probing the processor at `address` (host:port). */
export function startLoopProbe(address: string): Promise<LoopProbe> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { address } });
  const waiting: Array<(report: ProbeReport) => void> = [];
  worker.on('message', (report: ProbeReport) => waiting.shift()?.(report));
  worker.on('error', () => {});
  const ask = (command: 'reset' | 'read') =>
    new Promise<ProbeReport>((resolve) => {
      waiting.push(resolve);
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
  let session = connect(`http://${address}`);
  session.on('error', () => {});
  let longestMs = 0;
  let calls = 0;
  let failures = 0;
  let inFlight: Promise<void> | undefined;

  /** One Check; true if it was answered. */
  const check = () =>
    new Promise<boolean>((resolve) => {
      let answered = false;
      try {
        const call = session.request({
          ':method': 'POST',
          ':path': '/grpc.health.v1.Health/Check',
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        call.on('response', (headers) => {
          answered = headers[':status'] === 200;
        });
        call.on('data', () => {});
        call.on('error', () => {});
        call.on('close', () => resolve(answered));
        call.end(EMPTY_CHECK);
      } catch {
        resolve(false);
      }
    });

  const loop = async () => {
    for (;;) {
      const started = performance.now();
      let settle = () => {};
      inFlight = new Promise((resolve) => {
        settle = resolve;
      });
      const answered = await check();
      if (answered) {
        longestMs = Math.max(longestMs, performance.now() - started);
        calls += 1;
      } else {
        failures += 1;
      }
      inFlight = undefined;
      settle();
      if (!answered) {
        // The connection may be gone: a new one, a little later.
        await sleep(50);
        if (session.destroyed || session.closed) {
          session = connect(`http://${address}`);
          session.on('error', () => {});
        }
      }
    }
  };

  parentPort?.on('message', (command: 'reset' | 'read') => {
    const reply = () => {
      parentPort?.postMessage({ longestMs, calls, failures } satisfies ProbeReport);
      if (command === 'reset') {
        longestMs = 0;
        calls = 0;
        failures = 0;
      }
    };
    if (command === 'read' && inFlight !== undefined) {
      void Promise.race([inFlight, sleep(10_000)]).then(reply);
    } else {
      reply();
    }
  });
  session.once('connect', () => void loop());
}

if (!isMainThread) probe((workerData as { address: string }).address);
