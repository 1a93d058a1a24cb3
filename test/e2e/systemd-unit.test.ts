// deploy/anthropic-gateway.service's commands, run the way systemd runs them
// (without its sandbox, which takes a running systemd): ExecStart in its
// WorkingDirectory with the unit's Environment= and EnvironmentFile= on top of
// systemd's PATH, the configuration docs/operations.md shows for the unit, the
// unit's paths moved into a scratch folder. The gateway serves; ExecReload
// reports an applied file and fails on a refused one; a stop as KillMode=mixed
// does it (SIGTERM to the launcher alone) exits 0 and leaves nothing running;
// a configuration with problems exits 2, which the unit does not restart.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { hashToken } from '../../processor/policy/tokens.ts';
import { type FakeUpstream, startFakeUpstream } from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN } from '../support/gateway-stack.ts';
import { isRunning, sendMessage } from '../support/launcher.ts';
import {
  environment,
  parseUnit,
  ROOT,
  RUN_DIR,
  readUnit,
  relocate,
  seconds,
  value,
  values,
} from '../support/systemd-unit.ts';

/** systemd's PATH for system services. */
const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const scratch = mkdtempSync(join(tmpdir(), 'systemd-e2e-'));
const etc = join(scratch, 'etc');
const run = join(scratch, 'run');
const unit = parseUnit(relocate(readUnit(), { install: ROOT, config: etc, run }));
const service = (key: string) => value(unit, 'Service', key);
const configPath = join(etc, 'gateway.yaml');

/** docs/operations.md's configuration for the unit, its run directory moved, with the test's token. */
function operationsConfig(): Record<string, unknown> {
  const doc = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  const section = /^## Running with systemd\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(doc)?.[1] ?? '';
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const config = parse(yaml.replaceAll(RUN_DIR, run)) as Record<string, unknown>;
  return {
    ...config,
    tokens: [{ id: 'systemd', workspace: 'default', sha256: hashToken(GATEWAY_TOKEN).toString('hex') }],
  };
}

/** What systemd gives ExecStart= and ExecReload=: its PATH, the unit's environment and its file's. */
function serviceEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: SYSTEMD_PATH, RUNTIME_DIRECTORY: run };
  for (const file of values(unit, 'Service', 'EnvironmentFile')) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const at = line.indexOf('=');
      if (at > 0 && !line.startsWith('#')) env[line.slice(0, at)] = line.slice(at + 1);
    }
  }
  return {
    ...env,
    ...environment(unit),
    // Away from other runs: ports the OS picks, the fake upstream.
    GATEWAY_PORT: '0',
    GATEWAY_METRICS_PORT: '0',
    ANTHROPIC_UPSTREAM_URL: upstream.url,
  };
}

interface Run {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
}

/** One of the unit's command lines (no quoting in them), as systemd starts it. */
function runCommand(key: 'ExecStart' | 'ExecReload'): Run {
  const [command, ...args] = service(key).split(' ');
  const child = spawn(command as string, args, {
    cwd: service('WorkingDirectory'),
    env: serviceEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await startFakeUpstream();
  mkdirSync(etc);
  // RuntimeDirectoryMode=0700, as systemd makes it.
  mkdirSync(run, { mode: 0o700 });
  writeFileSync(join(etc, 'env'), 'ANTHROPIC_API_KEY=sk-ant-systemd-unit-key\n', { mode: 0o600 });
});
afterAll(async () => {
  await upstream?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('deploy/anthropic-gateway.service, its commands run as systemd runs them', () => {
  let gateway: Run | undefined;
  let pids: number[] = [];
  afterAll(() => {
    for (const pid of pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    if (gateway?.child.exitCode === null) gateway.child.kill('SIGKILL');
  });

  it('ExecStart serves, ExecReload applies then refuses, and a stop as KillMode=mixed leaves nothing', async () => {
    writeFileSync(configPath, stringify(operationsConfig()));
    gateway = runCommand('ExecStart');
    const started = gateway;
    const line = async (pattern: RegExp) => {
      await expect.poll(() => pattern.test(started.output()), { timeout: 30_000 }).toBe(true);
      return pattern.exec(started.output()) as RegExpExecArray;
    };
    const [, processorPid, address] = await line(/gateway: processor \(pid (\d+)\) listening on (\S+)/);
    const [, envoyPid] = await line(/gateway: envoy \(pid (\d+)\) started/);
    pids = [Number(processorPid), Number(envoyPid)];
    const [, port] = await line(/serving http:\/\/[^:]+:(\d+)\/ai-gateway\/anthropic/);
    expect(address).toBe(`unix:${run}/processor.sock`);
    expect(started.output()).toContain(`curl --unix-socket ${run}/admin.sock http://localhost/stats`);

    const answer = await sendMessage(Number(port));
    expect(answer.status).toBe(200);
    await answer.json();
    // The key came from the EnvironmentFile.
    expect(upstream.received.at(-1)?.headers).toContainEqual(['x-api-key', 'sk-ant-systemd-unit-key']);

    // systemctl reload: the CLI finds the processor by its record in GATEWAY_RUN_DIR.
    const reload = runCommand('ExecReload');
    expect(await reload.exited).toBe(0);
    expect(reload.output()).toBe(`reload: processor ${processorPid} applied the configuration\n`);

    // A file with problems: systemctl reload fails and says why; the gateway keeps serving.
    writeFileSync(
      configPath,
      stringify({ ...operationsConfig(), tokens: [{ id: 'x', workspace: 'nowhere' }] }),
    );
    const refused = runCommand('ExecReload');
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toMatch(
      new RegExp(
        `^reload: processor ${processorPid} refused the configuration; the previous one keeps serving:\nproblem: `,
      ),
    );
    const still = await sendMessage(Number(port));
    expect(still.status).toBe(200);
    await still.json();

    // systemctl stop with KillMode=mixed: KillSignal to the main process alone.
    started.child.kill(service('KillSignal') as NodeJS.Signals);
    const code = await Promise.race([
      started.exited,
      new Promise((resolve) =>
        setTimeout(() => resolve('timeout'), seconds(service('TimeoutStopSec')) * 1000),
      ),
    ]);
    expect(code).toBe(0);
    for (const pid of pids) await expect.poll(() => isRunning(pid), { timeout: 10_000 }).toBe(false);
    // The processor removed its record: the next start finds no stale one.
    expect(readdirSync(run).filter((name) => name.endsWith('.json'))).toEqual([]);
  }, 90_000);

  it('exits 2 on a configuration with problems, which RestartPreventExitStatus keeps from restarting', async () => {
    writeFileSync(
      configPath,
      stringify({ ...operationsConfig(), tokens: [{ id: 'x', workspace: 'nowhere' }] }),
    );
    const broken = runCommand('ExecStart');
    expect(await broken.exited).toBe(Number(service('RestartPreventExitStatus')));
    expect(broken.output()).toMatch(/^gateway: the configuration has problems:\n {2}- /);
  });
});
