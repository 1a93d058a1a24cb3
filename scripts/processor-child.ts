// Runs the processor (processor/main.ts) as a child process and waits until it
// listens. Used by `npm start` (scripts/processor-supervisor.ts), the tests and
// the benchmark, so all run the processor exactly as production does. An IPC
// channel ties it to this process: the processor says over it that it
// listens, and where (processor/lifecycle/ready-signal.ts); when this process
// is gone, however it went, the channel closes and the processor shuts down
// (processor/lifecycle/parent.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { listeningSignal } from '../processor/lifecycle/ready-signal.ts';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../processor/main.ts');

export interface RunningProcessor {
  readonly process: ChildProcess;
  /** The address it listens on, with the bound port filled in. */
  readonly address: string;
  /** The Prometheus endpoint's bound port, when metrics are enabled. */
  readonly metricsPort: number | undefined;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartProcessorOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Receives each log line (JSON) the processor writes. */
  readonly onLogLine?: (line: string) => void;
  readonly readyTimeoutMs?: number;
  /** Its own process group, out of reach of the terminal's signals (`npm start`). */
  readonly detached?: boolean;
  /** Aborting stops a processor still starting (SIGTERM): the promise then rejects. */
  readonly signal?: AbortSignal;
  /**
   * Another entry point that sends the same listening signal (the benchmark's
   * processors); processor/main.ts by default.
   */
  readonly script?: string;
  /** Its command-line arguments. */
  readonly args?: readonly string[];
}

/** pino's level number for `error`: such a line says why a processor exited. */
const ERROR_LEVEL = 50;

export function startProcessor(options: StartProcessorOptions): Promise<RunningProcessor> {
  const child = spawn(process.execPath, [options.script ?? MAIN, ...(options.args ?? [])], {
    env: options.env,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    detached: options.detached ?? false,
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exit;
  };

  const abort = () => void stop();
  options.signal?.addEventListener('abort', abort, { once: true });
  if (options.signal?.aborted) abort();
  void exit.then(() => options.signal?.removeEventListener('abort', abort));

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop('SIGKILL');
      reject(new Error('processor did not start listening in time'));
    }, options.readyTimeoutMs ?? 15_000);
    let ready = false;
    let lastError: string | undefined;
    const onMessage = (message: unknown) => {
      const listening = listeningSignal(message);
      if (listening === undefined) return;
      ready = true;
      child.off('message', onMessage);
      clearTimeout(timer);
      // Started: from now on only stop() stops it.
      options.signal?.removeEventListener('abort', abort);
      resolve({ process: child, address: listening.address, metricsPort: listening.metricsPort, stop });
    };
    child.on('message', onMessage);
    const lines = createInterface({ input: child.stdout as Readable });
    lines.on('line', (line) => {
      options.onLogLine?.(line);
      if (ready) return;
      // An error line says why a processor that exits before listening failed.
      const entry = parseLine(line);
      if (typeof entry?.level === 'number' && entry.level >= ERROR_LEVEL && typeof entry.msg === 'string') {
        lastError = entry.msg;
      }
    });
    // Its last lines (the reason it failed) are read before it counts as gone.
    const gone = Promise.all([exit, new Promise((resolve) => lines.once('close', resolve))]);
    void gone.then(([code]) => {
      if (!ready) {
        clearTimeout(timer);
        const why = lastError === undefined ? '' : `: ${lastError}`;
        reject(new Error(`processor exited before listening (code ${code})${why}`));
      }
    });
  });
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
