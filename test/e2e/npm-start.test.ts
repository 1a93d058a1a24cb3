// `npm start` as a user runs it (`node scripts/gateway.ts`): without a
// configuration file, the launcher starts the processor on a private Unix
// socket and Envoy in front of it, and the gateway answers. A processor that
// dies comes back by itself while Envoy fails closed; one that cannot start
// is retried with backoff; SIGHUP to the processor reloads it; Ctrl-C
// (SIGINT) stops both and removes the socket.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restartDelayMs } from '../../scripts/restart-backoff.ts';
import { expectAnthropicError } from '../support/anthropic-error.ts';
import { type FakeUpstream, startFakeUpstream } from '../support/fake-upstream.ts';
import {
  isRunning,
  killAll,
  type Launched,
  launch,
  launcherEnv,
  type Serving,
  sendMessage,
  serving,
} from '../support/launcher.ts';

/** What Envoy answers while no processor listens. */
const UNAVAILABLE = {
  status: 503,
  type: 'api_error',
  message: "the gateway's policy service is unavailable; nothing was sent upstream",
};

let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => {
  await upstream?.close();
});

type LogEntry = Record<string, unknown>;
const logEntries = (gateway: Launched): LogEntry[] =>
  gateway
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogEntry);

/** Sends until the gateway answers 200, checking that each earlier answer failed closed. */
async function untilServed(port: number, before: number): Promise<void> {
  await expect
    .poll(
      async () => {
        const response = await sendMessage(port);
        if (response.status !== 200) {
          await expectAnthropicError(response, UNAVAILABLE);
          expect(upstream.received).toHaveLength(before);
        } else await response.json();
        return response.status;
      },
      { timeout: 20_000, interval: 100 },
    )
    .toBe(200);
}

describe('npm start without configuration', () => {
  let gateway: Launched;
  let started: Serving;
  let socketPath: string;
  beforeAll(async () => {
    gateway = launch(launcherEnv(upstream.url));
    started = await serving(gateway);
    const [, address] = await gateway.waitFor(/"address":"(unix:[^"]+)"/, 'stdout');
    socketPath = (address as string).slice('unix:'.length);
  });
  afterAll(() => killAll(gateway, started));

  it('serves through a processor on a private Unix socket', async () => {
    expect(existsSync(socketPath)).toBe(true);
    expect(gateway.stderr()).toContain(
      `kill -HUP ${started.processorPid} reloads the processor's configuration; ` +
        `Ctrl-C or kill ${gateway.child.pid} stops the gateway`,
    );
    const response = await sendMessage(started.port);
    expect(response.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
  });

  it('restarts a processor killed with SIGKILL on the same socket; Envoy fails closed meanwhile', async () => {
    upstream.reset();
    process.kill(started.processorPid, 'SIGKILL');
    await gateway.waitFor(
      new RegExp(
        `processor \\(pid ${started.processorPid}\\) exited \\(signal SIGKILL\\); restarting it in 250 ms \\(attempt 1\\)`,
      ),
    );
    // No processor now: an Anthropic-shaped 503, and nothing upstream.
    await expectAnthropicError(await sendMessage(started.port), UNAVAILABLE);
    expect(upstream.arrived).toEqual([]);

    const [, pid] = await gateway.waitFor(/processor restarted \(pid (\d+), attempt 1\), listening on (\S+)/);
    const restarted = Number(pid);
    expect(restarted).not.toBe(started.processorPid);
    expect(gateway.stderr()).toContain(`listening on unix:${socketPath}`);
    started = { ...started, processorPid: restarted };
    await untilServed(started.port, 0);
    expect(upstream.received).toHaveLength(1);
    // The killed one left its socket file; the new one removed it before binding (its log
    // lines may trail the launcher's report: it hears of the start over the IPC channel).
    await expect
      .poll(() => logEntries(gateway).map((entry) => entry.msg))
      .toContain('removed the socket file a stopped processor left behind');
    // The same Envoy all along.
    expect(isRunning(started.envoyPid)).toBe(true);
    expect(gateway.stderr()).not.toMatch(/envoy \(pid \d+\) exited/);
  });

  it('reloads the processor on SIGHUP, which keeps serving', async () => {
    upstream.reset();
    process.kill(started.processorPid, 'SIGHUP');
    await expect
      .poll(() => logEntries(gateway).filter((entry) => entry.msg === 'configuration reloaded'))
      .toEqual([expect.objectContaining({ trigger: 'SIGHUP' })]);
    const response = await sendMessage(started.port);
    expect(response.status).toBe(200);
    expect(isRunning(started.processorPid)).toBe(true);
    expect(gateway.stderr().match(/processor restarted/g)).toHaveLength(1);
  });

  it('stops Envoy and the processor on Ctrl-C (SIGINT), exits 0 and removes the socket', async () => {
    gateway.child.kill('SIGINT');
    expect(await gateway.exited).toBe(0);
    expect(gateway.stderr()).toContain('SIGINT: stopping Envoy, then the processor');
    expect(isRunning(started.envoyPid)).toBe(false);
    expect(isRunning(started.processorPid)).toBe(false);
    expect(existsSync(dirname(socketPath))).toBe(false);
  });
});

describe('npm start with a processor that cannot start again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-npm-start-'));
  const configPath = join(dir, 'gateway.json');
  let gateway: Launched;
  let started: Serving;
  afterAll(() => {
    killAll(gateway, started);
    rmSync(dir, { recursive: true, force: true });
  });

  it('retries it with growing delays on the same TCP port, and serves again once it can start', async () => {
    // A TCP port the OS picks: restarts must come back on the port Envoy dials.
    writeFileSync(configPath, JSON.stringify({ processor: { address: '127.0.0.1:0' } }));
    gateway = launch(launcherEnv(upstream.url, { GATEWAY_CONFIG: configPath }));
    started = await serving(gateway);
    const [, address] = await gateway.waitFor(/processor \(pid \d+\) listening on (127\.0\.0\.1:\d+)/);
    upstream.reset();
    const first = await sendMessage(started.port);
    expect(first.status).toBe(200);

    // A broken file: the running processor keeps its configuration, a new one cannot start.
    writeFileSync(configPath, '{"workspaces": 42}');
    await expect
      .poll(() => logEntries(gateway).map((entry) => entry.msg))
      .toContain('configuration rejected; the previous configuration keeps serving');
    process.kill(started.processorPid, 'SIGKILL');
    await gateway.waitFor(/restarting it in \d+ ms \(attempt 3\)/);
    // It has failed twice: still failing closed, nothing upstream.
    await expectAnthropicError(await sendMessage(started.port), UNAVAILABLE);
    expect(upstream.received).toHaveLength(1);

    writeFileSync(configPath, JSON.stringify({ processor: { address: '127.0.0.1:0' } }));
    const [, pid, attempt] = await gateway.waitFor(/processor restarted \(pid (\d+), attempt (\d+)\)/);
    started = { ...started, processorPid: Number(pid) };
    expect(gateway.stderr()).toContain(`listening on ${address}`);
    await untilServed(started.port, 1);

    const attempts = [...gateway.stderr().matchAll(/restarting it in (\d+) ms \(attempt (\d+)\)/g)].map(
      ([, delay, number]) => ({ delay: Number(delay), attempt: Number(number) }),
    );
    // Each attempt after the last: 250 ms, then doubling (capped at 10 s).
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    expect(attempts).toEqual(attempts.map((_, i) => ({ delay: restartDelayMs(i + 1), attempt: i + 1 })));
    expect(attempts.slice(0, 3).map(({ delay }) => delay)).toEqual([250, 500, 1000]);
    expect(Number(attempt)).toBe(attempts.length);
    // Each failed start says why.
    expect(gateway.stderr()).toContain(
      'processor did not come back (processor exited before listening (code 2): invalid configuration); restarting it in 500 ms (attempt 2)',
    );
  });
});
