// A real redis-server for the tests, listening only on a Unix socket in a
// private temporary folder, with nothing saved to disk. A socket path of its
// own cannot be taken by another process between choosing it and binding it,
// as a "free" TCP port can; the quota store accepts `unix://` URLs
// (@redis/client). redis-server must be on PATH: `.ci/run` installs Debian's
// package; on a machine without it the tests that need it fail and say so.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface RunningRedis {
  /** The socket it listens on: give it to `startRedis` to restart a server where clients expect it. */
  readonly socketPath: string;
  /** `unix:///…/redis.sock`, for the quota store's `url`. */
  readonly url: string;
  /** SIGSTOP/SIGCONT: a server that is connected but answers nothing. */
  pause(): void;
  resume(): void;
  /** Stops it and removes its socket's folder. */
  stop(): Promise<void>;
}

export function redisServerBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (found === '') {
    throw new Error(
      'redis-server is not on PATH: the Redis quota tests need a real one (apt-get install -y redis-server; .ci/run does this)',
    );
  }
  return found;
}

/** Starts redis-server; `socketPath` reuses one (to restart a server where clients expect it). */
export async function startRedis(socketPath?: string): Promise<RunningRedis> {
  const path = socketPath ?? join(mkdtempSync(join(tmpdir(), 'gateway-redis-')), 'redis.sock');
  const dir = dirname(path);
  // A restart after stop() removed the folder: make it again, private as before.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const child: ChildProcess = spawn(
    redisServerBinary(),
    [
      // No TCP listener at all: only the socket.
      '--port',
      '0',
      '--unixsocket',
      path,
      '--unixsocketperm',
      '700',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 15_000);
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // "Ready to accept connections tcp" on a port, "ready to accept connections at PATH" on a socket.
        if (/ready to accept connections/i.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited: ${output}`));
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    socketPath: path,
    url: `unix://${path}`,
    pause: () => {
      child.kill('SIGSTOP');
    },
    resume: () => {
      child.kill('SIGCONT');
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
      }
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
