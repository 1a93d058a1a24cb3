// `npm start`'s processes end with it. Killed by any signal, SIGKILL
// included, the launcher leaves neither Envoy nor the processor serving the
// port (Envoy gets its parent-death signal through setpriv, the processor
// sees its channel to the launcher close); SIGHUP (the terminal closing)
// stops the gateway in order; Envoy dying stops the gateway with exit code 1.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../support/fake-upstream.ts';
import {
  expectAllGone,
  isRunning,
  killAll,
  type Launched,
  launch,
  launcherEnv,
  type Serving,
  sendMessage,
  serving,
} from '../support/launcher.ts';

let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => {
  await upstream?.close();
});

let gateway: Launched | undefined;
let started: Serving | undefined;
afterEach(() => {
  killAll(gateway, started);
  gateway = undefined;
  started = undefined;
});

async function start(extra: Record<string, string | undefined> = {}): Promise<Serving> {
  gateway = launch(launcherEnv(upstream.url, extra));
  started = await serving(gateway);
  const response = await sendMessage(started.port);
  expect(response.status).toBe(200);
  return started;
}

describe("the gateway's processes", () => {
  it('are gone, and the port free, within seconds of the launcher being killed with SIGKILL', async () => {
    const running = await start();
    gateway?.child.kill('SIGKILL');
    expect(await gateway?.exited).toBeNull();
    await expectAllGone(running);
  });

  it('stop in order when the launcher gets SIGHUP (its terminal closing), which exits 0', async () => {
    const running = await start();
    gateway?.child.kill('SIGHUP');
    expect(await gateway?.exited).toBe(0);
    expect(gateway?.stderr()).toContain('SIGHUP: stopping Envoy, then the processor');
    await expectAllGone(running);
  });

  it('all stop when Envoy dies: the launcher says so and exits 1', async () => {
    const running = await start();
    process.kill(running.envoyPid, 'SIGKILL');
    expect(await gateway?.exited).toBe(1);
    expect(gateway?.stderr()).toContain(
      `envoy (pid ${running.envoyPid}) exited (signal SIGKILL): stopping the gateway, exit code 1`,
    );
    expect(isRunning(running.processorPid)).toBe(false);
    // Not restarted: the launcher has gone, and said nothing of a restart.
    expect(gateway?.stderr()).not.toContain('restarting');
  });

  it('without setpriv on PATH, warns that only a SIGKILL of the launcher would leave Envoy behind', async () => {
    // Nothing the launcher runs is looked up on PATH but setpriv.
    const running = await start({ PATH: '/nonexistent' });
    expect(gateway?.stderr()).toContain(
      'gateway: warning: setpriv (util-linux) with --pdeathsig was not found on PATH',
    );
    gateway?.child.kill('SIGTERM');
    expect(await gateway?.exited).toBe(0);
    await expectAllGone(running);
  });
});
