// `npm start` as a user runs it: `node scripts/gateway.ts` in a child
// process, its output recorded, with what its start-up lines say (the port,
// the processor's and Envoy's pids) parsed for the test. Also the checks a
// test makes on the processes it leaves: running or gone, port free or not.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { expect, vi } from 'vitest';
import { GATEWAY_TOKEN, seedRequest } from './gateway-stack.ts';

const GATEWAY = join(import.meta.dirname, '../../scripts/gateway.ts');

export interface Launched {
  readonly child: ChildProcess;
  /** The launcher's standard output: the processor's JSON log lines. */
  stdout(): string;
  /** The launcher's own lines (`gateway: ...`) and Envoy's log. */
  stderr(): string;
  /** The first match of `pattern` in stderr (stdout with `from: 'stdout'`), once it has appeared. */
  waitFor(pattern: RegExp, from?: 'stderr' | 'stdout', timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves with the launcher's exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
}

/** The environment of a gateway on ports the OS picks, pointed at `upstreamUrl`. */
export function launcherEnv(upstreamUrl: string, extra: Record<string, string | undefined> = {}) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ANTHROPIC_API_KEY: 'sk-ant-npm-start-key',
    GATEWAY_TOKEN,
    GATEWAY_PORT: '0',
    GATEWAY_METRICS_PORT: '0',
    ANTHROPIC_UPSTREAM_URL: upstreamUrl,
  };
  delete env.GATEWAY_CONFIG;
  delete env.GATEWAY_PROCESSOR_ADDRESS;
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export function launch(env: NodeJS.ProcessEnv): Launched {
  const child = spawn(process.execPath, [GATEWAY], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let ended = false;
  void exited.then(() => {
    ended = true;
  });
  const waitFor = async (pattern: RegExp, from: 'stderr' | 'stdout' = 'stderr', timeoutMs = 30_000) => {
    const missing = () => new Error(`no ${pattern} in:\n${stderr}`);
    // A launcher that has exited writes nothing more: stop waiting then (null), not at the timeout.
    const match = await vi.waitFor(
      () => {
        const found = pattern.exec(from === 'stderr' ? stderr : stdout);
        if (found === null && !ended) throw missing();
        return found;
      },
      { timeout: timeoutMs, interval: 25 },
    );
    if (match === null) throw missing();
    return match;
  };
  return { child, stdout: () => stdout, stderr: () => stderr, waitFor, exited };
}

export interface Serving {
  readonly port: number;
  readonly processorPid: number;
  readonly envoyPid: number;
}

/** Waits for the start-up lines and reads them. */
export async function serving(gateway: Launched): Promise<Serving> {
  const [, processorPid] = await gateway.waitFor(/gateway: processor \(pid (\d+)\) listening/);
  const [, envoyPid] = await gateway.waitFor(/gateway: envoy \(pid (\d+)\) started/);
  const [, port] = await gateway.waitFor(/serving https?:\/\/[^:]+:(\d+)\/ai-gateway\/anthropic/);
  return { port: Number(port), processorPid: Number(processorPid), envoyPid: Number(envoyPid) };
}

/** A Messages request with `token`. */
export function sendMessage(port: number, token = GATEWAY_TOKEN): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/ai-gateway/anthropic/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': token },
    body: JSON.stringify(seedRequest()),
  });
}

/**
 * Whether `pid` is a live process. A zombie counts as gone: an orphan's exit
 * is reaped by whatever init the machine has, which may never do it.
 */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the command name, which is in parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Whether a new listener could bind `port` on every interface (as Envoy's listener does). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

/** Both of a gateway's children are gone and its port is free, within a few seconds. */
export async function expectAllGone(started: Serving): Promise<void> {
  await expect.poll(() => isRunning(started.envoyPid), { timeout: 10_000 }).toBe(false);
  await expect.poll(() => isRunning(started.processorPid), { timeout: 10_000 }).toBe(false);
  await expect.poll(() => portIsFree(started.port), { timeout: 10_000 }).toBe(true);
}

/** Stops what a test left running, whatever state it is in. */
export function killAll(gateway: Launched | undefined, started: Serving | undefined): void {
  if (gateway?.child.exitCode === null && gateway.child.signalCode === null) gateway.child.kill('SIGKILL');
  for (const pid of [started?.envoyPid, started?.processorPid]) {
    if (pid !== undefined && isRunning(pid)) process.kill(pid, 'SIGKILL');
  }
}
