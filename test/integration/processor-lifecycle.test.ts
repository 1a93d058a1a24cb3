// The processor as production runs it (processor/main.ts in a child process):
// its gRPC health service, the container health check, graceful shutdown
// on SIGTERM with a request still being decided, shutdown when the launcher
// that started it is gone, and its Unix socket across a crash.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EXT_PROC_SERVICE } from '../../processor/contract/names.ts';
import { checkHealth, watchHealth } from '../../processor/health/client.ts';
import { mintToken } from '../../processor/policy/tokens.ts';
import { type RunningProcessor, startProcessor } from '../../scripts/processor-child.ts';
import { createExtProcClient, requestBody, requestHeaders } from '../support/extproc-client.ts';
import { expectBodyContinues, expectForwardedHeaders } from '../support/extproc-expect.ts';

const TOKEN = mintToken();
const UPSTREAM_KEY = 'sk-ant-lifecycle-test-key-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'gateway-lifecycle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type LogEntry = Record<string, unknown>;

interface Started {
  readonly processor: RunningProcessor;
  readonly log: LogEntry[];
  /** Resolves with the first entry whose msg is `msg`. */
  waitFor(msg: string): Promise<LogEntry>;
}

const running: RunningProcessor[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
});

async function start(config: Record<string, unknown> = {}, address = '127.0.0.1:0'): Promise<Started> {
  const configPath = join(dir, `gateway-${running.length}-${Date.now()}.json`);
  writeFileSync(configPath, JSON.stringify(config));
  const log: LogEntry[] = [];
  const waiters: Array<{ msg: string; resolve: (entry: LogEntry) => void }> = [];
  const processor = await startProcessor({
    env: {
      PATH: process.env.PATH,
      GATEWAY_CONFIG: configPath,
      GATEWAY_TOKEN: TOKEN,
      ANTHROPIC_API_KEY: UPSTREAM_KEY,
      GATEWAY_PROCESSOR_ADDRESS: address,
      GATEWAY_METRICS_PORT: '0',
      LOG_LEVEL: 'debug',
    },
    onLogLine: (line) => {
      const entry = JSON.parse(line) as LogEntry;
      log.push(entry);
      for (const waiter of waiters.filter((w) => w.msg === entry.msg)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(entry);
      }
    },
  });
  running.push(processor);
  return {
    processor,
    log,
    waitFor: (msg) => {
      const seen = log.find((entry) => entry.msg === msg);
      if (seen !== undefined) return Promise.resolve(seen);
      const arrived = new Promise<LogEntry>((resolve) => waiters.push({ msg, resolve }));
      return within(arrived, () => `no "${msg}" line; the log so far: ${messagesOf(log)}`);
    },
  };
}

const messagesOf = (log: readonly LogEntry[]) => JSON.stringify(log.map((entry) => entry.msg));

/** `promise`, or a failure that says what was awaited, well inside the test's own timeout. */
function within<T>(promise: Promise<T>, missing: () => string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(missing())), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const exitCode = (processor: RunningProcessor): Promise<number | null> => {
  const child = processor.process;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return within(exited, () => `processor ${child.pid} has not exited`);
};

const messagesBody = JSON.stringify({
  model: 'claude-sonnet-4-6',
  max_tokens: 16,
  messages: [{ role: 'user', content: 'Hi' }],
});

describe('health', () => {
  it('answers SERVING for the whole server and for ext_proc once it listens', async () => {
    const { processor } = await start();
    expect(await checkHealth(processor.address)).toBe('SERVING');
    expect(await checkHealth(processor.address, EXT_PROC_SERVICE)).toBe('SERVING');
    await expect(checkHealth(processor.address, 'no.such.Service')).rejects.toThrow(/NOT_FOUND|unknown/i);
  });

  it('passes the container HEALTHCHECK command while serving, and fails it once stopped', async () => {
    const { processor } = await start();
    const run = promisify(execFile);
    const script = join(import.meta.dirname, '../../processor/health/healthcheck.ts');
    const ok = await run(process.execPath, [script, processor.address]);
    expect(ok.stdout).toContain('SERVING');

    await processor.stop('SIGTERM');
    const failed = await run(process.execPath, [script, processor.address]).then(
      () => undefined,
      (error: { code?: number; stdout?: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toContain('unreachable');
  });
});

describe('graceful shutdown on SIGTERM', () => {
  it('finishes a request waiting for its body decision, refuses new streams, then exits 0', async () => {
    const { processor, waitFor } = await start();
    const client = createExtProcClient(processor.address);
    const watch = watchHealth(processor.address);
    try {
      const inFlight = client.openStream();
      expectForwardedHeaders(
        await inFlight.exchange(requestHeaders({ headers: [['x-api-key', TOKEN]] })),
        UPSTREAM_KEY,
        ['x-forwarded-proto', 'x-request-id'],
      );

      processor.process.kill('SIGTERM');
      await waitFor('shutting down: no new streams, finishing the ones in flight');

      // A new connection finds no listener.
      const late = createExtProcClient(processor.address);
      const lateStream = late.openStream();
      lateStream.send(requestHeaders({ headers: [['x-api-key', TOKEN]] }));
      expect((await lateStream.status).code).not.toBe(0);
      late.close();

      // The request already in flight still gets its decision, and its stream ends cleanly.
      expectBodyContinues(await inFlight.exchange(requestBody(messagesBody)));
      expect((await inFlight.status).code).toBe(0);

      expect(await exitCode(processor)).toBe(0);
      expect((await waitFor('processor stopped')).outcome).toBe('drained');
      // A health watcher saw the change and was let go, so it held nothing up.
      expect(watch.statuses).toEqual(['SERVING', 'NOT_SERVING']);
      expect((await watch.ended).code).toBe(0);
    } finally {
      watch.cancel();
      client.close();
    }
  });

  it('cancels a stream still undecided at the deadline, and still exits 0', async () => {
    const { processor, waitFor } = await start({ processor: { shutdown_timeout_seconds: 0.5 } });
    const client = createExtProcClient(processor.address);
    try {
      const stuck = client.openStream();
      await stuck.exchange(requestHeaders({ headers: [['x-api-key', TOKEN]] }));
      processor.process.kill('SIGTERM');
      // The body never comes: Envoy would answer this request 503 (fail-closed).
      expect((await stuck.status).code).not.toBe(0);
      expect(await exitCode(processor)).toBe(0);
      expect((await waitFor('processor stopped')).outcome).toBe('deadline');
    } finally {
      client.close();
    }
  });

  it('cancels what is left at a second signal, without waiting for the deadline', async () => {
    // The default deadline (20 s) is longer than this test may take.
    const { processor, waitFor } = await start();
    const client = createExtProcClient(processor.address);
    try {
      const stuck = client.openStream();
      await stuck.exchange(requestHeaders({ headers: [['x-api-key', TOKEN]] }));
      processor.process.kill('SIGTERM');
      await waitFor('shutting down: no new streams, finishing the ones in flight');
      processor.process.kill('SIGINT');
      expect((await stuck.status).code).not.toBe(0);
      expect(await exitCode(processor)).toBe(0);
      expect((await waitFor('processor stopped')).outcome).toBe('interrupted');
    } finally {
      client.close();
    }
  });
});

describe('when the launcher that started it is gone', () => {
  it('drains and exits 0 once the channel to its launcher closes', async () => {
    const { processor, waitFor } = await start();
    // What the kernel does to the channel when the launcher dies, however it dies.
    processor.process.disconnect();
    expect(await exitCode(processor)).toBe(0);
    expect((await waitFor('shutting down: no new streams, finishing the ones in flight')).signal).toBe(
      'launcher gone',
    );
    expect((await waitFor('processor stopped')).outcome).toBe('drained');
  });

  it('exits too when nobody reads its log any more', async () => {
    const { processor } = await start();
    // The launcher's end of the log pipe closes with it: every write now fails with EPIPE.
    processor.process.stdout?.destroy();
    processor.process.disconnect();
    expect(await exitCode(processor)).toBe(0);
  });
});

describe('its Unix socket', () => {
  it('binds again where a killed processor left its socket file', async () => {
    const address = `unix:${join(dir, 'crashed.sock')}`;
    const first = await start({}, address);
    await first.processor.stop('SIGKILL');
    expect(existsSync(address.slice('unix:'.length))).toBe(true);

    const second = await start({}, address);
    expect(await checkHealth(second.processor.address)).toBe('SERVING');
    expect((await second.waitFor('removed the socket file a stopped processor left behind')).address).toBe(
      address,
    );
  });

  it('is left to a processor still listening on it: the second one fails, naming the address', async () => {
    const address = `unix:${join(dir, 'taken.sock')}`;
    const first = await start({}, address);
    await expect(start({}, address)).rejects.toThrow(
      `processor exited before listening (code 1): ${address} is already in use (another gateway running?); ` +
        'choose a free one with processor.address (or GATEWAY_PROCESSOR_ADDRESS)',
    );
    expect(await checkHealth(first.processor.address)).toBe('SERVING');
  });
});
