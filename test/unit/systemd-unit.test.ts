// deploy/anthropic-gateway.service: systemd itself checks it (`systemd-analyze
// verify`, on a copy pointed at this checkout, since it wants the binaries to
// exist), and it agrees with the project: the command `npm start` runs, the
// CLI's reload, a stop that lets the processor drain, the run directory the
// CLI looks in, and the configuration docs/operations.md shows for it.
// (test/e2e/systemd-unit.test.ts runs its commands.)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { formatAddress } from '../../processor/config/address.ts';
import { buildConfig } from '../../processor/config/load.ts';
import { configSchema } from '../../processor/config/schema.ts';
import {
  bytes,
  environment,
  INSTALL_DIR,
  parseUnit,
  ROOT,
  RUN_DIR,
  readUnit,
  relocate,
  seconds,
  value,
  values,
} from '../support/systemd-unit.ts';

const text = readUnit();
const unit = parseUnit(text);
const service = (key: string) => value(unit, 'Service', key);
const scratch = mkdtempSync(join(tmpdir(), 'systemd-unit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The YAML block of docs/operations.md's "Running with systemd". */
function operationsConfig(): string {
  const doc = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  const section = /^## Running with systemd\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(doc)?.[1] ?? '';
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  if (yaml === undefined) throw new Error('docs/operations.md: no yaml block under "Running with systemd"');
  return yaml;
}

describe('systemd-analyze verify', () => {
  it('accepts the unit, with no warning, once its paths are this checkout', () => {
    const which = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
    if (which.status !== 0) {
      throw new Error(
        'this test needs systemd-analyze: Debian package systemd (`apt-get install -y systemd`; .ci/run installs it)',
      );
    }
    // verify wants each Exec*= binary to exist; the unit names them in INSTALL_DIR.
    const copy = join(scratch, 'anthropic-gateway.service');
    writeFileSync(copy, relocate(text, { install: ROOT }));
    const result = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('would fail on a warning: an unknown key is one', () => {
    mkdirSync(join(scratch, 'broken'));
    const copy = join(scratch, 'broken', 'anthropic-gateway.service');
    writeFileSync(copy, relocate(text, { install: ROOT }).replace('KillMode=mixed', 'KillMod=mixed'));
    const result = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    expect(result.stderr).toMatch(/Unknown key 'KillMod'/);
  });
});

describe('deploy/anthropic-gateway.service', () => {
  it("runs npm start's launcher on the project's Node.js, from the install directory", () => {
    const start = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
    ).scripts.start;
    expect(start).toBe('node scripts/gateway.ts');
    expect(service('ExecStart')).toBe(
      `${INSTALL_DIR}/node_modules/.bin/node ${INSTALL_DIR}/${start.replace(/^node /, '')}`,
    );
    expect(service('WorkingDirectory')).toBe(INSTALL_DIR);
    expect(service('Type')).toBe('exec');
    // Every path of the install it names exists in a checkout.
    for (const [, path] of text.matchAll(new RegExp(`${INSTALL_DIR}/(\\S+)`, 'g'))) {
      expect(existsSync(join(ROOT, path as string)), path).toBe(true);
    }
  });

  it('reloads through the CLI (SIGHUP to the processor), never with a signal to the launcher', () => {
    expect(service('ExecReload')).toBe(
      `${INSTALL_DIR}/node_modules/.bin/node ${INSTALL_DIR}/processor/cli.ts reload`,
    );
    expect(text).not.toMatch(/MAINPID/);
  });

  it('signals the launcher alone on stop, and waits longer than the processor drains', () => {
    expect(service('KillMode')).toBe('mixed');
    expect(service('KillSignal')).toBe('SIGTERM');
    const drain = configSchema.parse({}).processor.shutdown_timeout_seconds;
    expect(seconds(service('TimeoutStopSec'))).toBeGreaterThan(drain);
  });

  it('restarts a gateway that failed, except for a configuration with problems (exit 2)', () => {
    expect(service('Restart')).toBe('on-failure');
    expect(seconds(service('RestartSec'))).toBeGreaterThan(0);
    expect(service('RestartPreventExitStatus')).toBe('2');
  });

  it('keeps the run directory the CLI looks in where the operator can reach it, private to the service', () => {
    const env = environment(unit);
    expect(env.GATEWAY_RUN_DIR).toBe(RUN_DIR);
    expect(service('RuntimeDirectory')).toBe(basename(RUN_DIR));
    expect(service('RuntimeDirectoryMode')).toBe('0700');
    expect(env.GATEWAY_CONFIG).toBe('/etc/anthropic-gateway/gateway.yaml');
    expect(values(unit, 'Service', 'EnvironmentFile')).toEqual(['/etc/anthropic-gateway/env']);
  });

  it('has room for the processor with 32 MiB bodies, Envoy and the launcher (docs/operations.md)', () => {
    const high = bytes(service('MemoryHigh'));
    const max = bytes(service('MemoryMax'));
    // 768 MiB for the processor, 70 MiB plus three 32 MiB bodies for Envoy, 100 MiB for the launcher.
    expect(high).toBeGreaterThanOrEqual((768 + 70 + 3 * 32 + 100) * 1024 ** 2);
    expect(max).toBeGreaterThan(high);
  });

  it('is hardened, and leaves out what would break Node or the launcher', () => {
    for (const [key, expected] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['PrivateTmp', 'yes'],
      ['CapabilityBoundingSet', ''],
    ] as const) {
      expect(service(key), key).toBe(expected);
    }
    expect(values(unit, 'Service', 'MemoryDenyWriteExecute')).toEqual([]); // V8's JIT
    expect(values(unit, 'Service', 'ReadWritePaths')).toEqual([]); // only /tmp and the run directory
  });
});

describe('docs/operations.md: the configuration for the unit', () => {
  const yaml = operationsConfig();

  it('loads, and puts the sockets an operator reaches in the run directory', () => {
    const result = buildConfig(parse(yaml), { ANTHROPIC_API_KEY: 'sk-ant-test' });
    if (!result.ok) throw new Error(result.problems.join('\n'));
    const { settings } = result.config;
    expect(formatAddress(settings.processor.address)).toBe(`unix:${RUN_DIR}/processor.sock`);
    expect(settings.admin.socket).toBe(`${RUN_DIR}/admin.sock`);
  });
});
