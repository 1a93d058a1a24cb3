// What the figures were taken on: the machine, the load on it, and the
// versions of everything measured.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { envoyBinary } from '../../envoy/run.ts';
import { LITELLM_BIN, REPO_ROOT } from './systems.ts';

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly envoy: string;
  readonly oha: string;
  readonly litellm: string;
  readonly portkey: string;
  readonly commit: string;
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** The 1-, 5- and 15-minute load averages. */
export function loadAverage(): [number, number, number] {
  const [one, five, fifteen] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
  return [one ?? Number.NaN, five ?? Number.NaN, fifteen ?? Number.NaN];
}

export function machineInfo(ohaBin: string): MachineInfo {
  const portkeyPackage = join(REPO_ROOT, 'bench/peers/node_modules/@portkey-ai/gateway/package.json');
  const litellmPython = join(REPO_ROOT, '.venv-bench/bin/python');
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    envoy: run(envoyBinary(), ['--version']).match(/\/(\d+\.\d+\.\d+)\//)?.[1] ?? 'unknown',
    oha: run(ohaBin, ['--version']).replace(/^oha /, ''),
    litellm: existsSync(LITELLM_BIN)
      ? run(litellmPython, ['-c', 'import importlib.metadata as m; print(m.version("litellm"))'])
      : 'not installed',
    portkey: existsSync(portkeyPackage)
      ? (JSON.parse(readFileSync(portkeyPackage, 'utf8')) as { version: string }).version
      : 'not installed',
    commit: run('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']),
  };
}
