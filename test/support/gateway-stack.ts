// The whole gateway for an end-to-end test: the real Envoy binary and the
// processor as a child process, started by the same code as `npm start`,
// pointed at a fake Anthropic upstream. Ports are chosen by the OS.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, vi } from 'vitest';
import { renderBootstrap } from '../../envoy/bootstrap/index.ts';
import { type RunningEnvoy, startEnvoy } from '../../envoy/run.ts';
import { parseAddress } from '../../processor/config/address.ts';
import { loadConfig } from '../../processor/config/load.ts';
import { BASE_PATH } from '../../processor/contract/routes.ts';
import { type RunningProcessor, startProcessor } from '../../scripts/processor-child.ts';
import { type FakeUpstream, startFakeUpstream } from './fake-upstream.ts';
import type { TestCa } from './test-ca.ts';

export const GATEWAY_TOKEN = 'agw_e2e_gateway_token_0123456789abcdefghijklmnop';
export const UPSTREAM_KEY = 'sk-ant-e2e-upstream-key-0123456789';

export type LogEntry = Record<string, unknown>;
type NonEmpty<T> = [T, ...T[]];

export interface StackOptions {
  /** Extra configuration file content (merged over the defaults). */
  readonly config?: Record<string, unknown>;
  /** Extra environment for the processor (secrets referenced by `config`). */
  readonly env?: Record<string, string>;
  /** Point the gateway at this URL instead of a fresh fake upstream. */
  readonly upstreamUrl?: string;
  /**
   * Point Envoy at a processor already listening on this `host:port` (a
   * rogue one, or one running in the test) instead of starting the real
   * processor; `startProcessor()` later starts the real one on this address.
   */
  readonly processorAddress?: string;
  /**
   * Serve the fake upstream over HTTPS (ALPN h2 and http/1.1) with this CA's
   * leaf certificate, and make Envoy trust this CA (ANTHROPIC_UPSTREAM_CA_FILE;
   * `env` may point it elsewhere). The test owns the CA and removes it.
   */
  readonly upstreamTls?: TestCa;
  /**
   * Something between Envoy and the real processor (a proxy): given the
   * processor's address, returns the address Envoy dials instead.
   */
  readonly interpose?: (processorAddress: string) => Promise<string>;
  /** More command-line arguments for Envoy (e.g. `--concurrency 1`). */
  readonly envoyArgs?: readonly string[];
  /** Keep what Envoy itself writes (stdout and stderr) in `envoyLog`; otherwise it is dropped. */
  readonly captureEnvoyLog?: boolean;
}

export interface GatewayStack {
  /** The base URL a client is given: http://127.0.0.1:<port>/ai-gateway/anthropic */
  readonly baseUrl: string;
  readonly origin: string;
  /** The configuration file the processor reads (and reloads). */
  readonly configPath: string;
  readonly upstream: FakeUpstream;
  readonly envoy: RunningEnvoy;
  /** The real processor (throws while none runs, e.g. with `processorAddress` before `startProcessor()`). */
  readonly processor: RunningProcessor;
  /** The address Envoy dials for ext_proc. */
  readonly processorAddress: string;
  /** The processor's Prometheus endpoint (http://127.0.0.1:<port>/metrics). */
  readonly metricsUrl: string;
  /** Every log line the processor wrote. */
  readonly processorLog: string[];
  /** What Envoy itself wrote, with `captureEnvoyLog`. */
  readonly envoyLog: string[];
  /** The processor's parsed log entries that match, of those that have arrived so far. */
  logged(match: (entry: LogEntry) => boolean): LogEntry[];
  /**
   * The processor's parsed log entries that match, once at least one has
   * arrived (lines cross a pipe, so they may trail the HTTP response); fails
   * after `timeoutMs` (5 s), saying what it waited for and what the log held.
   */
  waitForLog(match: (entry: LogEntry) => boolean, timeoutMs?: number): Promise<NonEmpty<LogEntry>>;
  stopProcessor(): Promise<void>;
  /** Starts the real processor (again) on the address Envoy dials. */
  startProcessor(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<GatewayStack> {
  const tls = options.upstreamTls;
  const upstream = await startFakeUpstream(
    tls === undefined ? {} : { tls: { cert: tls.cert, key: tls.key } },
  );
  const dir = mkdtempSync(join(tmpdir(), 'gateway-e2e-'));
  const configPath = join(dir, 'gateway.json');
  writeFileSync(configPath, JSON.stringify(options.config ?? {}));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ANTHROPIC_API_KEY: UPSTREAM_KEY,
    GATEWAY_TOKEN,
    GATEWAY_CONFIG: configPath,
    GATEWAY_PROCESSOR_ADDRESS: '127.0.0.1:0',
    GATEWAY_PORT: '0',
    GATEWAY_METRICS_PORT: '0',
    ANTHROPIC_UPSTREAM_URL: options.upstreamUrl ?? upstream.url,
    ...(tls === undefined ? {} : { ANTHROPIC_UPSTREAM_CA_FILE: tls.caFile }),
    LOG_LEVEL: 'debug',
    ...options.env,
  };
  const loaded = loadConfig(env);
  if (!loaded.ok) throw new Error(`test configuration is invalid: ${loaded.problems.join('; ')}`);
  const processorLog: string[] = [];
  const launchProcessor = (address: string) =>
    startProcessor({
      env: { ...env, GATEWAY_PROCESSOR_ADDRESS: address },
      onLogLine: (line) => processorLog.push(line),
    });

  let processor: RunningProcessor | undefined =
    options.processorAddress === undefined ? await launchProcessor('127.0.0.1:0') : undefined;
  const launchAddress = options.processorAddress ?? processor?.address ?? '';
  const processorAddress =
    options.interpose === undefined ? launchAddress : await options.interpose(launchAddress);
  const { settings } = loaded.config;
  const envoy = await startEnvoy({
    bootstrap: renderBootstrap({
      ...settings,
      listen: { ...settings.listen, address: '127.0.0.1', port: 0 },
      processor: { ...settings.processor, address: parseAddress(processorAddress) },
    }),
    stdio: options.captureEnvoyLog ? 'pipe' : 'ignore',
    ...(options.envoyArgs === undefined ? {} : { args: options.envoyArgs }),
  });
  const envoyLog: string[] = [];
  for (const output of [envoy.process.stdout, envoy.process.stderr]) {
    output?.on('data', (chunk: Buffer) => envoyLog.push(chunk.toString('utf8')));
  }
  // listen.tls: HTTPS (the test CA's certificate names 127.0.0.1 too).
  const origin = `${settings.listen.tls === undefined ? 'http' : 'https'}://127.0.0.1:${envoy.port}`;
  const stack: GatewayStack = {
    baseUrl: `${origin}${BASE_PATH}`,
    origin,
    configPath,
    upstream,
    envoy,
    get processor() {
      if (processor === undefined) throw new Error('the real processor is not running');
      return processor;
    },
    processorAddress,
    get metricsUrl() {
      return `http://127.0.0.1:${processor?.metricsPort ?? 0}/metrics`;
    },
    processorLog,
    envoyLog,
    logged: (match) => logged(processorLog, match),
    waitForLog: (match, timeoutMs = 5_000) =>
      vi.waitFor(
        () => {
          const [first, ...rest] = logged(processorLog, match);
          if (first === undefined) throw new Error(noLogEntry(processorLog, match, timeoutMs));
          return [first, ...rest] satisfies NonEmpty<LogEntry>;
        },
        { timeout: timeoutMs, interval: 20 },
      ),
    stopProcessor: async () => {
      await processor?.stop();
    },
    startProcessor: async () => {
      processor = await launchProcessor(launchAddress);
    },
    stop: async () => {
      await Promise.all([envoy.stop(), processor?.stop(), upstream.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

function logged(lines: readonly string[], match: (entry: LogEntry) => boolean): LogEntry[] {
  return lines.map((line) => JSON.parse(line) as LogEntry).filter(match);
}

/** What a timed-out waitForLog says: what it looked for, and the last lines the processor wrote. */
function noLogEntry(
  lines: readonly string[],
  match: (entry: LogEntry) => boolean,
  timeoutMs: number,
): string {
  const last = lines.slice(-10);
  return [
    `no processor log entry matched ${match.toString()} within ${timeoutMs} ms;`,
    `of its ${lines.length} lines, the last ${last.length}:`,
    ...last.map((line) => `  ${line}`),
  ].join('\n');
}

/**
 * One stack for a test file: started before its tests, stopped after them,
 * and the fake upstream's record cleared before each test. The object returned
 * stands for the stack once it has started; reading it before then throws.
 */
export function useStack(options: StackOptions = {}): GatewayStack {
  let current: GatewayStack | undefined;
  beforeAll(async () => {
    current = await startStack(options);
  });
  afterAll(async () => {
    await current?.stop();
  });
  beforeEach(() => {
    current?.upstream.reset();
  });
  const started = (): GatewayStack => {
    if (current === undefined) throw new Error('the gateway stack is not started (use it inside a test)');
    return current;
  };
  return {
    get baseUrl() {
      return started().baseUrl;
    },
    get origin() {
      return started().origin;
    },
    get configPath() {
      return started().configPath;
    },
    get upstream() {
      return started().upstream;
    },
    get envoy() {
      return started().envoy;
    },
    get processor() {
      return started().processor;
    },
    get processorAddress() {
      return started().processorAddress;
    },
    get metricsUrl() {
      return started().metricsUrl;
    },
    get processorLog() {
      return started().processorLog;
    },
    get envoyLog() {
      return started().envoyLog;
    },
    logged: (match) => started().logged(match),
    waitForLog: (match, timeoutMs) => started().waitForLog(match, timeoutMs),
    stopProcessor: () => started().stopProcessor(),
    startProcessor: () => started().startProcessor(),
    stop: () => started().stop(),
  };
}

/** The seed's request body. */
export function seedRequest(model = 'claude-sonnet-4-6', extra: Record<string, unknown> = {}) {
  return { model, max_tokens: 1024, messages: [{ role: 'user', content: 'What is Neon?' }], ...extra };
}

/** POSTs the seed request (or the same for `model`, with `extra` fields) to the gateway with its token. */
export function sendSeed(
  stack: GatewayStack,
  model = 'claude-sonnet-4-6',
  extra: Record<string, unknown> = {},
): Promise<Response> {
  return fetch(`${stack.baseUrl}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': GATEWAY_TOKEN },
    body: JSON.stringify(seedRequest(model, extra)),
  });
}

/**
 * Sends the seed request until the gateway answers 200 (Envoy reconnects to a
 * restarted processor on its own); the 200 response, its body unread.
 */
export function untilOk(stack: GatewayStack, timeoutMs = 15_000): Promise<Response> {
  return vi.waitFor(
    async () => {
      const response = await sendSeed(stack);
      if (response.status !== 200) {
        await response.arrayBuffer();
        throw new Error(`still answered ${response.status}`);
      }
      return response;
    },
    { timeout: timeoutMs, interval: 100 },
  );
}
