// A server process the harness starts and stops: the SSE mock and the peer
// gateways. Ready when `ready()` says so (polled), stopped by its pid only.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Spawned {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Everything it wrote, for the error message when it fails to start. */
  readonly output: () => string;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly ready: (output: string) => Promise<boolean> | boolean;
  readonly readyTimeoutMs?: number;
}

export async function spawnServer(options: SpawnOptions): Promise<Spawned> {
  const child = spawn(options.command, [...options.args], {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    // Keep the start of the output (where start-up errors are) and stop growing.
    if (output.length < 64 * 1024) output += chunk.toString();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const killed = await Promise.race([exit.then(() => true), sleep(5_000).then(() => false)]);
      if (!killed) child.kill('SIGKILL');
      await exit;
    }
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${options.command} exited during start:\n${output.slice(-2000)}`);
    if (await options.ready(output)) {
      return { process: child, pid: child.pid as number, output: () => output, stop };
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`${options.command} did not become ready in time:\n${output.slice(-2000)}`);
}

/** A port free right now (the peers take a port number, not 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status < 500;
  } catch {
    return false;
  }
}
