// The gateway under soak: `npm start` itself (scripts/gateway.ts), so that the
// launcher's own supervision is what brings a killed processor back. Its
// children are found through /proc, by what they run.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { processTree } from '../lib/proc.ts';

const LAUNCHER = join(import.meta.dirname, '../../scripts/gateway.ts');

export interface SoakGateway {
  readonly baseUrl: string;
  /** Parsed JSON lines of the processor's log (the launcher passes them through). */
  readonly logEntries: () => ReadonlyArray<Record<string, unknown>>;
  /** The pids of the processor and Envoy now running under the launcher. */
  children(): { processor: number | undefined; envoy: number | undefined };
  /** Whatever the launcher wrote to stderr, for a failure's message. */
  readonly stderr: () => string;
  stop(): Promise<number | null>;
}

export async function startSoakGateway(env: NodeJS.ProcessEnv): Promise<SoakGateway> {
  const launcher: ChildProcess = spawn(process.execPath, [LAUNCHER], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entries: Array<Record<string, unknown>> = [];
  let stderr = '';
  createInterface({ input: launcher.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    try {
      entries.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // Not a log line of the processor's: nothing to count.
    }
  });
  const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the gateway did not start:\n${stderr}`)), 30_000);
    launcher.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const serving = /serving http:\/\/[^:]+:(\d+)\//.exec(stderr);
      if (serving) {
        clearTimeout(timer);
        resolve(Number(serving[1]));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited (${code}) before serving:\n${stderr}`));
    });
  });
  const pid = launcher.pid as number;
  return {
    baseUrl: `http://127.0.0.1:${port}/ai-gateway/anthropic`,
    logEntries: () => entries,
    stderr: () => stderr,
    children: () => {
      let processor: number | undefined;
      let envoy: number | undefined;
      for (const member of processTree(pid).slice(1)) {
        const command = commandLine(member);
        if (command.includes('processor/main.ts')) processor = member;
        else if (/(^|\/)envoy\0/.test(command)) envoy = member;
      }
      return { processor, envoy };
    },
    stop: async () => {
      if (launcher.exitCode === null && launcher.signalCode === null) launcher.kill('SIGTERM');
      return exited;
    },
  };
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
