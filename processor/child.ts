// Runs the processor (processor/main.ts) as a child process and waits until it
// listens. Used by `npm start` and the end-to-end tests, so both run the
// processor exactly as production does.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), 'main.ts');

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
}

export function startProcessor(options: StartProcessorOptions): Promise<RunningProcessor> {
  const child = spawn(process.execPath, [MAIN], {
    env: options.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exit;
  };

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop('SIGKILL');
      reject(new Error('processor did not start listening in time'));
    }, options.readyTimeoutMs ?? 15_000);
    let ready = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      options.onLogLine?.(line);
      if (ready) return;
      const entry = parseLine(line);
      if (entry?.msg === 'ext_proc processor listening' && typeof entry.address === 'string') {
        ready = true;
        clearTimeout(timer);
        const address = entry.address.startsWith('unix:')
          ? entry.address
          : `${entry.address.slice(0, entry.address.lastIndexOf(':'))}:${String(entry.port)}`;
        const metricsPort = typeof entry.metricsPort === 'number' ? entry.metricsPort : undefined;
        resolve({ process: child, address, metricsPort, stop });
      }
    });
    void exit.then((code) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`processor exited before listening (code ${code})`));
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
