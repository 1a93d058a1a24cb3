// Envoy's admin interface and log level, which could otherwise put secrets in
// Envoy's log: at debug, Envoy logs every request's headers (the gateway
// token, the Anthropic key the processor injects), and the admin interface,
// which has no authentication, can switch debug on (POST /logging). So the
// admin interface is a Unix socket only the gateway's user can open, never a
// TCP port unless chosen, and `npm start` refuses debug and trace unless
// GATEWAY_ALLOW_ENVOY_DEBUG_LOGS=1, then warns.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { envoyAdmin } from '../../envoy/admin.ts';
import { type FakeUpstream, startFakeUpstream } from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, seedRequest, useStack } from '../support/gateway-stack.ts';

const GATEWAY = join(import.meta.dirname, '../../scripts/gateway.ts');
const UPSTREAM_KEY = 'sk-ant-envoy-admin-test-key-0123456789';

/** The TCP ports process `pid` listens on (its sockets in LISTEN state, from /proc). */
function listeningTcpPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined) inodes.add(inode);
    } catch {
      // An fd closed while listing.
    }
  }
  const ports = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is fields[1] (hex ip:port), st is fields[3] (0A: LISTEN), inode fields[9].
      if (fields[3] === '0A' && inodes.has(fields[9] ?? '')) {
        ports.add(Number.parseInt(fields[1]?.split(':')[1] ?? '', 16));
      }
    }
  }
  return [...ports];
}

/** The socket's mode bits and owner, and those of its directory. */
function permissions(socketPath: string) {
  const socket = statSync(socketPath);
  const dir = statSync(dirname(socketPath));
  return {
    isSocket: socket.isSocket(),
    mode: socket.mode & 0o777,
    uid: socket.uid,
    dirMode: dir.mode & 0o777,
    dirUid: dir.uid,
  };
}

const PRIVATE = {
  isSocket: true,
  mode: 0o600,
  uid: process.getuid?.(),
  dirMode: 0o700,
  dirUid: process.getuid?.(),
};

describe('the admin interface, through the real Envoy', () => {
  const stack = useStack();

  it('is a Unix socket of mode 0600 in a private directory, owned by this user, and no TCP port', async () => {
    const socketPath = stack.envoy.admin.socketPath;
    expect(socketPath).toMatch(/\/admin\.sock$/);
    expect(permissions(socketPath as string)).toEqual(PRIVATE);
    // It answers there.
    expect(await stack.envoy.admin.get('/ready')).toBe('LIVE\n');
    expect(await stack.envoy.admin.stat('cluster.ext_proc_processor.membership_total')).toBe(1);
    // Envoy listens on TCP for clients only, and the listener serves no admin page.
    const pid = stack.envoy.process.pid as number;
    expect(listeningTcpPorts(pid)).toEqual([stack.envoy.port]);
    for (const path of ['/stats', '/logging?level=debug', '/ready']) {
      const response = await fetch(`${stack.origin}${path}`, {
        method: path.startsWith('/logging') ? 'POST' : 'GET',
      });
      expect(response.status, path).toBe(404);
      expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    }
  });
});

interface Run {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

let upstream: FakeUpstream;
const runs: Run[] = [];
beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterEach(() => {
  for (const run of runs.splice(0)) if (run.child.exitCode === null) run.child.kill('SIGKILL');
});
afterAll(async () => {
  await upstream?.close();
});

/** `npm start` without a configuration file, with `env` added. */
function npmStart(env: Record<string, string>): Run {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ANTHROPIC_API_KEY: UPSTREAM_KEY,
    GATEWAY_TOKEN,
    GATEWAY_PORT: '0',
    GATEWAY_METRICS_PORT: '0',
    ANTHROPIC_UPSTREAM_URL: upstream.url,
    ...env,
  };
  for (const name of ['GATEWAY_CONFIG', 'GATEWAY_PROCESSOR_ADDRESS', 'GATEWAY_ADMIN_PORT']) {
    if (!(name in env)) delete childEnv[name];
  }
  const child = spawn(process.execPath, [GATEWAY], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    run.stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    run.stderr += chunk.toString();
  });
  runs.push(run);
  return run;
}

async function serving(run: Run): Promise<{ port: string; adminSocket: string }> {
  await expect
    .poll(() => run.child.exitCode === null && /Envoy admin \(stats\): .*\n/.test(run.stderr), {
      timeout: 30_000,
    })
    .toBe(true);
  const port = /serving http:\/\/localhost:(\d+)\//.exec(run.stderr)?.[1] ?? '';
  const adminSocket = /curl --unix-socket (\S+) http:\/\/localhost\/stats/.exec(run.stderr)?.[1] ?? '';
  return { port, adminSocket };
}

const post = (port: string) =>
  fetch(`http://127.0.0.1:${port}/ai-gateway/anthropic/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': GATEWAY_TOKEN,
    },
    body: JSON.stringify(seedRequest()),
  });

describe("npm start and Envoy's log level", () => {
  it('prints where the admin socket is, and it is private', async () => {
    const run = npmStart({});
    const { port, adminSocket } = await serving(run);
    expect(permissions(adminSocket)).toEqual(PRIVATE);
    const admin = envoyAdmin(`unix:${adminSocket}`);
    expect((await admin.request('/ready')).status).toBe(200);
    expect((await post(port)).status).toBe(200);
    expect(await admin.stat('cluster.anthropic_upstream.upstream_rq_200')).toBe(1);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  });

  it('refuses ENVOY_LOG_LEVEL=debug (and trace) with a clear message, before starting anything', async () => {
    for (const level of ['debug', 'trace']) {
      const run = npmStart({ ENVOY_LOG_LEVEL: level });
      expect(await run.exited).toBe(2);
      expect(run.stderr).toContain(`refusing to start Envoy with --log-level ${level}`);
      expect(run.stderr).toContain('GATEWAY_ALLOW_ENVOY_DEBUG_LOGS=1');
      // The processor never started: it would have logged that it listens.
      expect(run.stdout).toBe('');
    }
  });

  it('with GATEWAY_ALLOW_ENVOY_DEBUG_LOGS=1, starts at debug and warns that secrets will be logged (they are)', async () => {
    upstream.reset();
    const run = npmStart({ ENVOY_LOG_LEVEL: 'debug', GATEWAY_ALLOW_ENVOY_DEBUG_LOGS: '1' });
    const { port } = await serving(run);
    expect(run.stderr).toMatch(/WARNING: Envoy runs with --log-level debug[\s\S]*WILL CONTAIN SECRETS/);
    expect((await post(port)).status).toBe(200);
    // Not an idle warning: Envoy's debug log (on the launcher's stderr) has the token and the key.
    await expect
      .poll(() => run.stderr.includes(GATEWAY_TOKEN) && run.stderr.includes(UPSTREAM_KEY))
      .toBe(true);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  });
});
