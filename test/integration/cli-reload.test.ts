// `npm run cli -- reload` against real processors (processor/main.ts in child
// processes, as `npm start` runs it): it finds the running processor by its
// pid file, sends SIGHUP, and reports what the reload did; it picks none
// when several run, and ignores records of processes that are gone.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { readProcessor } from '../../processor/lifecycle/pid-file.ts';
import { mintToken } from '../../processor/policy/tokens.ts';
import { type RunningProcessor, startProcessor } from '../../scripts/processor-child.ts';
import { createExtProcClient, requestHeaders } from '../support/extproc-client.ts';
import { expectForwardedHeaders } from '../support/extproc-expect.ts';

const CLI = join(import.meta.dirname, '../../processor/cli.ts');
const dir = mkdtempSync(join(tmpdir(), 'gateway-cli-reload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const running: RunningProcessor[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
});

const TOKEN = mintToken();

function config(name: string, content: Record<string, unknown>): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

const keyFile = join(dir, 'research.key');
const VALID = {
  workspaces: [{ id: 'research', upstream_api_key: { file: keyFile } }],
  tokens: [{ id: 'alice', workspace: 'research', env: 'ALICE_TOKEN' }],
};

async function start(
  runDir: string,
  configPath: string,
): Promise<{ processor: RunningProcessor; log: string[] }> {
  const log: string[] = [];
  const processor = await startProcessor({
    env: {
      PATH: process.env.PATH,
      GATEWAY_CONFIG: configPath,
      GATEWAY_RUN_DIR: runDir,
      GATEWAY_PROCESSOR_ADDRESS: '127.0.0.1:0',
      GATEWAY_METRICS_PORT: '0',
      ALICE_TOKEN: TOKEN,
    },
    onLogLine: (line) => log.push(line),
  });
  running.push(processor);
  return { processor, log };
}

function cli(
  runDir: string,
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', GATEWAY_RUN_DIR: runDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const runDirectory = () => mkdtempSync(join(dir, 'run-'));
const reloadsBySignal = (log: readonly string[]) =>
  log.filter((line) => line.includes('"trigger":"SIGHUP"') && line.includes('configuration reloaded'));

describe('npm run cli -- reload', () => {
  it('finds the one running processor, has it reload (secret files too), and says it applied', async () => {
    writeFileSync(keyFile, 'sk-ant-first\n');
    const runDir = runDirectory();
    const { processor, log } = await start(runDir, config('valid.json', VALID));
    writeFileSync(keyFile, 'sk-ant-rotated\n');

    const result = await cli(runDir, ['reload']);
    expect(result).toEqual({
      code: 0,
      stdout: `reload: processor ${processor.process.pid} applied the configuration\n`,
      stderr: '',
    });
    // Log lines are written in batches: the line may follow the CLI's answer.
    await vi.waitFor(() => expect(reloadsBySignal(log)).toHaveLength(1));
    // The rotated key is the one injected now.
    const client = createExtProcClient(processor.address);
    try {
      const stream = client.openStream();
      expectForwardedHeaders(
        await stream.exchange(requestHeaders({ headers: [['x-api-key', TOKEN]] })),
        'sk-ant-rotated',
        ['x-forwarded-proto', 'x-request-id'],
      );
      await stream.close();
    } finally {
      client.close();
    }
  });

  it('reports a refused configuration with its problems, exit 1; the processor keeps serving', async () => {
    writeFileSync(keyFile, 'sk-ant-first\n');
    const runDir = runDirectory();
    const path = config('refused.json', VALID);
    const { processor, log } = await start(runDir, path);
    rmSync(keyFile);

    const result = await cli(runDir, ['reload']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `reload: processor ${processor.process.pid} refused the configuration; the previous one keeps serving:\n` +
        `problem: workspaces.0.upstream_api_key: cannot read ${keyFile}: ENOENT\n`,
    );
    await vi.waitFor(() =>
      expect(
        log.some((line) => line.includes('"trigger":"SIGHUP"') && line.includes('configuration rejected')),
      ).toBe(true),
    );
    expect(processor.process.exitCode).toBeNull();
  });

  it('says which settings need a restart', async () => {
    writeFileSync(keyFile, 'sk-ant-first\n');
    const runDir = runDirectory();
    const path = config('restart.json', VALID);
    await start(runDir, path);
    // Written in place: the file watcher may reload it first; the CLI's SIGHUP reloads again.
    writeFileSync(path, JSON.stringify({ ...VALID, limits: { max_request_body_bytes: 2 * 1024 * 1024 } }));

    const result = await cli(runDir, ['reload']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('warning: these settings change only with a restart: limits\n');
  });

  it('picks none of several processors without --pid, and the named one with it', async () => {
    writeFileSync(keyFile, 'sk-ant-first\n');
    const runDir = runDirectory();
    const first = await start(runDir, config('first.json', VALID));
    const second = await start(runDir, config('second.json', VALID));

    const ambiguous = await cli(runDir, ['reload']);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('several gateway processors are running; choose one with --pid');
    for (const { processor } of [first, second]) {
      expect(ambiguous.stderr).toContain(`pid ${processor.process.pid}, 127.0.0.1:`);
    }
    // Each processor counts the SIGHUP reloads in its record: none was sent.
    const reloads = (p: RunningProcessor) =>
      readProcessor({ GATEWAY_RUN_DIR: runDir }, p.process.pid ?? 0)?.reloads;
    expect([reloads(first.processor), reloads(second.processor)]).toEqual([0, 0]);

    const chosen = await cli(runDir, ['reload', '--pid', String(second.processor.process.pid)]);
    expect(chosen.code).toBe(0);
    expect([reloads(first.processor), reloads(second.processor)]).toEqual([0, 1]);
    await vi.waitFor(() => expect(reloadsBySignal(second.log)).toHaveLength(1));
  });

  it('ignores and removes the record of a processor that is gone; a stopped one removes its own', async () => {
    writeFileSync(keyFile, 'sk-ant-first\n');
    const runDir = runDirectory();
    const { processor } = await start(runDir, config('gone.json', VALID));
    const pid = processor.process.pid as number;
    expect(existsSync(join(runDir, `${pid}.json`))).toBe(true);
    await processor.stop('SIGTERM');
    expect(existsSync(join(runDir, `${pid}.json`))).toBe(false);

    // A record left by a killed processor, whose pid is no processor now.
    writeFileSync(
      join(runDir, '999999999.json'),
      JSON.stringify({ pid: 999999999, address: 'x', reloads: 0 }),
    );
    const result = await cli(runDir, ['reload']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no running gateway processor found');
    expect(readdirSync(runDir)).toEqual([]);
  });
});
