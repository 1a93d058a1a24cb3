// The systems a run compares, each started against a given upstream and
// answering POST /v1/messages: (a) the client straight to the mock, (b) plain
// Envoy, (c) the gateway (Envoy + the processor, started by the same code as
// `npm start`), (d) LiteLLM's proxy in Anthropic pass-through mode and
// (e) Portkey's gateway, and (f) the floor of the design: the gateway's Envoy
// with an empty processor (floor-processor.ts). Peers that are not installed
// are reported and skipped.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderBootstrap } from '../../envoy/bootstrap/index.ts';
import { startEnvoy } from '../../envoy/run.ts';
import { parseAddress } from '../../processor/config/address.ts';
import { loadConfig, type Settings } from '../../processor/config/load.ts';
import { BASE_PATH } from '../../processor/contract/routes.ts';
import { startProcessor } from '../../scripts/processor-child.ts';
import { renderPlainEnvoyBootstrap } from './plain-envoy.ts';
import { answers, freePort, spawnServer } from './spawned.ts';

export const SYSTEM_NAMES = ['direct', 'envoy', 'floor', 'gateway', 'litellm', 'portkey'] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];

export const SYSTEM_LABELS: Readonly<Record<SystemName, string>> = {
  direct: '(a) direct to the mock',
  envoy: '(b) plain Envoy',
  floor: '(f) Envoy + empty processor',
  gateway: '(c) this gateway',
  litellm: '(d) LiteLLM proxy',
  portkey: '(e) Portkey gateway',
};

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const GATEWAY_TOKEN = 'agw_bench_gateway_token_0123456789abcdefghijklmnopq';
export const UPSTREAM_KEY = 'sk-ant-bench-upstream-key-0123456789';

export interface SystemUnderTest {
  readonly name: SystemName;
  /** POST here for /v1/messages through this system. */
  readonly url: string;
  /** Headers a client sends (besides content-type), as this system expects them. */
  readonly headers: Readonly<Record<string, string>>;
  /** The processes this system adds, by role, for CPU and memory figures. */
  readonly processes: Readonly<Record<string, number>>;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  /**
   * `unix` (a socket in a temporary folder), as `npm start` runs it without
   * configuration, or `tcp` (127.0.0.1, a free port), the configured default.
   */
  readonly processorTransport: 'tcp' | 'unix';
}

const CLIENT_HEADERS = { 'anthropic-version': '2023-06-01', 'x-api-key': GATEWAY_TOKEN };

function gatewaySettings(
  upstreamUrl: string,
  processorAddress: string,
): { settings: Settings; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ANTHROPIC_API_KEY: UPSTREAM_KEY,
    GATEWAY_TOKEN,
    GATEWAY_CONFIG: '',
    GATEWAY_PROCESSOR_ADDRESS: processorAddress,
    GATEWAY_PORT: '0',
    // Any free port: two processors (bench/variants.ts), or a gateway already running, must not collide.
    GATEWAY_METRICS_PORT: '0',
    ANTHROPIC_UPSTREAM_URL: upstreamUrl,
    LOG_LEVEL: 'info',
  };
  const loaded = loadConfig(env as Record<string, string | undefined>);
  if (!loaded.ok) throw new Error(`bench configuration is invalid: ${loaded.problems.join('; ')}`);
  const { settings } = loaded.config;
  return {
    env,
    settings: {
      ...settings,
      listen: { ...settings.listen, address: '127.0.0.1', port: 0 },
    },
  };
}

async function startPlainEnvoy(upstreamUrl: string): Promise<SystemUnderTest> {
  const { settings } = gatewaySettings(upstreamUrl, '127.0.0.1:1');
  const envoy = await startEnvoy({ bootstrap: renderPlainEnvoyBootstrap(settings), stdio: 'ignore' });
  return {
    name: 'envoy',
    url: `http://127.0.0.1:${envoy.port}${BASE_PATH}/v1/messages`,
    headers: CLIENT_HEADERS,
    processes: { envoy: envoy.process.pid as number },
    stop: () => envoy.stop(),
  };
}

interface ProcessorUnderTest {
  readonly address: string;
  readonly pid: number;
  stop(): Promise<unknown>;
}

const FLOOR_PROCESSOR = join(REPO_ROOT, 'bench/lib/floor-processor.ts');
const GRPC_JS_GATEWAY = join(REPO_ROOT, 'bench/lib/grpc-js-gateway.ts');

/** The empty processor (bench/lib/floor-processor.ts), as a child process. */
function startFloorProcessor(address: string, args: readonly string[] = []): Promise<ProcessorUnderTest> {
  return startBenchProcessor(FLOOR_PROCESSOR, [address, ...args], process.env);
}

/**
 * A processor as a child process, by the launcher `npm start` uses: the
 * gateway's own (processor/main.ts) or one of the benchmark's (`script`: the
 * empty one, or the gateway's on grpc-js). Ready once it sends the listening
 * signal (processor/lifecycle/ready-signal.ts).
 */
async function startBenchProcessor(
  script: string | undefined,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<ProcessorUnderTest> {
  const processor = await startProcessor({ env, ...(script === undefined ? {} : { script }), args });
  return { address: processor.address, pid: processor.process.pid as number, stop: () => processor.stop() };
}

/** A variant of Envoy-with-a-processor, for bench/variants.ts; the defaults are the systems (c) and (f). */
export interface ProcessorVariant {
  /** The gateway's processor, the same on grpc-js's server (grpc-js-gateway.ts), or the empty one. */
  readonly processor: 'gateway' | 'gateway-grpc-js' | 'floor';
  /** More arguments for the empty processor (floor-processor.ts). */
  readonly floorArgs?: readonly string[];
  /** A change to the rendered bootstrap (a copy); none by default. */
  readonly bootstrap?: (bootstrap: Record<string, unknown>) => Record<string, unknown>;
  /** More command-line arguments for Envoy (e.g. `--concurrency 1`). */
  readonly envoyArgs?: readonly string[];
}

/**
 * Envoy on the gateway's bootstrap with a processor: the gateway's own (c), or
 * the empty one that shows the floor of the design (f), or a variant of either.
 */
export async function startWithProcessor(
  upstreamUrl: string,
  options: GatewayOptions,
  name: SystemName,
  variant: ProcessorVariant,
): Promise<SystemUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  const address =
    options.processorTransport === 'unix' ? `unix:${join(dir, 'processor.sock')}` : '127.0.0.1:0';
  const { settings, env } = gatewaySettings(upstreamUrl, address);
  const processor: ProcessorUnderTest =
    variant.processor === 'floor'
      ? await startFloorProcessor(address, variant.floorArgs)
      : variant.processor === 'gateway-grpc-js'
        ? await startBenchProcessor(GRPC_JS_GATEWAY, [], env)
        : await startBenchProcessor(undefined, [], env);
  try {
    const rendered = renderBootstrap({
      ...settings,
      processor: { ...settings.processor, address: parseAddress(processor.address) },
    });
    const envoy = await startEnvoy({
      bootstrap:
        variant.bootstrap?.(structuredClone(rendered) as unknown as Record<string, unknown>) ?? rendered,
      stdio: 'ignore',
      ...(variant.envoyArgs === undefined ? {} : { args: variant.envoyArgs }),
    });
    return {
      name,
      url: `http://127.0.0.1:${envoy.port}${BASE_PATH}/v1/messages`,
      headers: CLIENT_HEADERS,
      processes: { envoy: envoy.process.pid as number, processor: processor.pid },
      stop: async () => {
        await Promise.all([envoy.stop(), processor.stop()]);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await processor.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export const LITELLM_BIN = join(REPO_ROOT, '.venv-bench/bin/litellm');

async function startLiteLlm(upstreamUrl: string): Promise<SystemUnderTest> {
  const port = await freePort();
  const server = await spawnServer({
    command: LITELLM_BIN,
    args: ['--host', '127.0.0.1', '--port', String(port), '--num_workers', '1'],
    env: {
      ...process.env,
      // The pass-through route /anthropic/* forwards here, with this key.
      ANTHROPIC_API_BASE: upstreamUrl,
      ANTHROPIC_API_KEY: UPSTREAM_KEY,
      // Offline: the bundled model cost map, no telemetry, quiet logs.
      LITELLM_LOCAL_MODEL_COST_MAP: 'True',
      LITELLM_TELEMETRY: 'False',
      LITELLM_LOG: 'ERROR',
    },
    ready: () => answers(`http://127.0.0.1:${port}/health/liveliness`),
    readyTimeoutMs: 120_000,
  });
  return {
    name: 'litellm',
    url: `http://127.0.0.1:${port}/anthropic/v1/messages`,
    headers: CLIENT_HEADERS,
    processes: { litellm: server.pid },
    stop: () => server.stop(),
  };
}

export const PORTKEY_SERVER = join(
  REPO_ROOT,
  'bench/peers/node_modules/@portkey-ai/gateway/build/start-server.js',
);

async function startPortkey(upstreamUrl: string): Promise<SystemUnderTest> {
  const port = await freePort();
  const server = await spawnServer({
    command: process.execPath,
    args: [PORTKEY_SERVER, `--port=${port}`, '--headless'],
    env: { ...process.env, NODE_ENV: 'production' },
    ready: () => answers(`http://127.0.0.1:${port}/`),
  });
  return {
    name: 'portkey',
    url: `http://127.0.0.1:${port}/v1/messages`,
    headers: {
      'anthropic-version': '2023-06-01',
      authorization: `Bearer ${UPSTREAM_KEY}`,
      'x-portkey-provider': 'anthropic',
      'x-portkey-custom-host': `${upstreamUrl}/v1`,
    },
    processes: { portkey: server.pid },
    stop: () => server.stop(),
  };
}

/** Why a peer cannot run here, or undefined if it can. */
export function missing(name: SystemName): string | undefined {
  if (name === 'litellm' && !existsSync(LITELLM_BIN))
    return 'not installed (bench/setup.sh failed to install it)';
  if (name === 'portkey' && !existsSync(PORTKEY_SERVER))
    return 'not installed (bench/setup.sh failed to install it)';
  return undefined;
}

/**
 * The peers take a port number, found free a moment before they bind it;
 * another process can take it in between (EADDRINUSE), so try a few ports.
 */
async function withFreshPort<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

export async function startSystem(
  name: SystemName,
  upstreamUrl: string,
  gateway: GatewayOptions,
): Promise<SystemUnderTest> {
  switch (name) {
    case 'direct':
      return {
        name,
        url: `${upstreamUrl}/v1/messages`,
        headers: CLIENT_HEADERS,
        processes: {},
        stop: async () => {},
      };
    case 'envoy':
      return startPlainEnvoy(upstreamUrl);
    case 'floor':
    case 'gateway':
      return startWithProcessor(upstreamUrl, gateway, name, { processor: name });
    case 'litellm':
      return withFreshPort(() => startLiteLlm(upstreamUrl));
    case 'portkey':
      return withFreshPort(() => startPortkey(upstreamUrl));
  }
}
