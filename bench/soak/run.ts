// One soak: `npm start` in front of the soak upstream, with the Redis quota
// store, mixed traffic at a steady rate, and faults injected throughout
// (faults.ts). Returns what happened, for the CLI (bench/soak.ts) to print and
// the short version in the test tier (test/e2e/soak.test.ts) to assert.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis } from '../../test/support/redis-server.ts';
import { type FaultCounts, type FaultPeriods, startFaults } from './faults.ts';
import { startSoakGateway } from './gateway.ts';
import { type MemorySample, type MemorySlopes, sample, slopes } from './memory.ts';
import { type Scenario, tagOf } from './scenario.ts';
import { startTraffic, type TrafficReport } from './traffic.ts';
import { startSoakUpstream } from './upstream.ts';

export interface SoakOptions {
  readonly durationMs: number;
  readonly ratePerSecond: number;
  readonly scenario: Scenario;
  readonly faults: FaultPeriods;
  readonly maxLongStreams: number;
  /** How often memory is sampled. */
  readonly sampleMs: number;
}

export interface SoakReport {
  readonly options: SoakOptions;
  readonly traffic: TrafficReport;
  readonly faults: FaultCounts;
  /** Reloads the processor logged as applied, and as rejected. */
  readonly reloadsApplied: number;
  readonly reloadsRejected: number;
  /** Requests that reached the upstream without the gateway's approval (must be none). */
  readonly unapproved: readonly string[];
  readonly upstreamReceived: Record<string, number>;
  /** Access lines the processor wrote, against traffic.completed. */
  readonly accessLines: number;
  /** Processors the launcher saw die (exited, or killed before they listened), from its own lines. */
  readonly processorExits: number;
  /** Processors the launcher started again and saw listening. */
  readonly processorRestarts: number;
  /** After the faults stop: does the gateway serve a plain request again? */
  readonly servesAfterwards: boolean;
  readonly memory: MemorySlopes;
  readonly samples: readonly MemorySample[];
}

const SOAK_TOKEN = 'agw_soak_gateway_token_0123456789abcdefghijklmnop';
const UPSTREAM_KEY = 'sk-ant-soak-upstream-key-0123456789';
const BIG = 1_000_000_000;

/** The configuration file for reload n: the same policy, with a token that comes and goes. */
function configFor(n: number) {
  const extra = createHash('sha256').update(`extra-${n}`).digest('hex');
  return {
    workspaces: [
      { id: 'default', upstream_api_key: { env: 'ANTHROPIC_API_KEY' }, quota: { tokens_per_day: BIG } },
    ],
    tokens: [
      {
        id: 'soak',
        workspace: 'default',
        env: 'GATEWAY_TOKEN',
        quota: { requests_per_minute: BIG, tokens_per_minute: BIG },
      },
      ...(n % 2 === 1 ? [{ id: `extra-${n}`, workspace: 'default', sha256: extra }] : []),
    ],
    quotas: { store: 'redis', redis: { url: { env: 'REDIS_URL' }, timeout_ms: 250 }, fail_open: false },
    log: { level: 'info' },
  };
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-soak-'));
  const configPath = join(dir, 'gateway.json');
  writeFileSync(configPath, JSON.stringify(configFor(0)));
  const upstream = await startSoakUpstream(options.scenario, UPSTREAM_KEY);
  const redis = await startRedis();
  const gateway = await startSoakGateway({
    ...process.env,
    GATEWAY_CONFIG: configPath,
    GATEWAY_TOKEN: SOAK_TOKEN,
    ANTHROPIC_API_KEY: UPSTREAM_KEY,
    ANTHROPIC_UPSTREAM_URL: upstream.url,
    REDIS_URL: redis.url,
    GATEWAY_PORT: '0',
    GATEWAY_ADMIN_PORT: '0',
    GATEWAY_METRICS_PORT: '0',
    // The same address for every processor the launcher starts.
    GATEWAY_PROCESSOR_ADDRESS: `unix:${join(dir, 'processor.sock')}`,
    LOG_LEVEL: 'info',
  }).catch(async (error: unknown) => {
    await Promise.all([upstream.close(), redis.stop()]);
    throw error;
  });

  const started = Date.now();
  const traffic = startTraffic({
    baseUrl: gateway.baseUrl,
    token: SOAK_TOKEN,
    scenario: options.scenario,
    ratePerSecond: options.ratePerSecond,
    maxLongStreams: options.maxLongStreams,
  });
  const faults = startFaults({ gateway, redis, configPath, config: configFor }, options.faults);
  const samples: MemorySample[] = [];
  const sampler = setInterval(() => {
    samples.push(sample(Date.now() - started, traffic.sentSoFar(), gateway.children()));
  }, options.sampleMs);

  let report: SoakReport;
  try {
    await new Promise((resolve) => setTimeout(resolve, options.durationMs));
    await faults.stop();
    const trafficReport = await traffic.stop();
    clearInterval(sampler);
    const servesAfterwards = await servesAgain(gateway.baseUrl);
    // Access lines cross a pipe and a batch of at most 100 ms: let the last ones arrive.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const entries = gateway.logEntries();
    report = {
      options,
      traffic: trafficReport,
      faults: { ...faults.counts },
      reloadsApplied: entries.filter((e) => e.msg === 'configuration reloaded').length,
      reloadsRejected: entries.filter((e) => String(e.msg).startsWith('configuration rejected')).length,
      unapproved: [...upstream.unapproved],
      upstreamReceived: Object.fromEntries(upstream.received),
      accessLines: entries.filter((e) => e.msg === 'access').length,
      processorExits: count(gateway.stderr(), /processor \(pid \d+\) exited|processor did not come back/g),
      processorRestarts: count(gateway.stderr(), /processor restarted \(pid/g),
      servesAfterwards,
      memory: slopes(samples),
      samples,
    };
  } finally {
    clearInterval(sampler);
    await faults.stop();
    await Promise.all([gateway.stop(), upstream.close()]);
    await faults.redis().stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return report;
}

function count(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}

/** A plain request succeeds within a few seconds of the faults stopping (a processor may still be coming back). */
async function servesAgain(baseUrl: string): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const response = await fetch(`${baseUrl}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: {
        'x-api-key': SOAK_TOKEN,
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify({
        model: 'claude-sonnet-4-6',
        messages: [{ role: 'user', content: 'hi' }],
        metadata: { user_id: tagOf('count_tokens', -1) },
      }),
    }).catch(() => undefined);
    await response?.arrayBuffer();
    if (response?.status === 200) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}
