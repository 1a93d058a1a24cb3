// Starts the real ext_proc server in-process on an ephemeral port, with a
// policy built from a configuration and a logger whose lines are collected, so
// tests can read what the processor logged (and prove no secret is in it).
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { LevelWithSilent } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { parseAddress } from '../../processor/config/address.ts';
import { buildConfig, type Environment, type LoadedConfig } from '../../processor/config/load.ts';
import { startExtProcServer } from '../../processor/extproc/server.ts';
import { createLogger } from '../../processor/log.ts';
import type { GatewayMetrics } from '../../processor/metrics/registry.ts';
import type { Policy } from '../../processor/policy/request-policy.ts';
import { hashToken, mintToken } from '../../processor/policy/tokens.ts';
import { Quotas } from '../../processor/quota/quotas.ts';
import type { QuotaStore } from '../../processor/quota/store.ts';
import { createExtProcClient, type ExtProcClient } from './extproc-client.ts';

/** Builds a configuration or throws with every problem listed. */
export function buildTestConfig(raw: unknown, env: Environment): LoadedConfig {
  const loaded = buildConfig(raw, env);
  if (!loaded.ok) throw new Error(`invalid test configuration:\n${loaded.problems.join('\n')}`);
  return loaded.config;
}

/** One workspace and one token, stored as its SHA-256, with limits of its own (a quota, a budget). */
export interface OneToken {
  /** The token's value. */
  readonly token: string;
  readonly tokenId: string;
  readonly workspace: string;
  /** The token entry's own settings: `quota`, `budget`. */
  readonly tokenLimits: Readonly<Record<string, unknown>>;
  /** The workspace's `quota`, if it has one. */
  readonly workspaceQuota?: Readonly<Record<string, number>>;
}

/** The configuration file's content for `options`; the upstream key comes from ANTHROPIC_API_KEY. */
export function oneTokenRaw(options: OneToken) {
  return {
    workspaces: [
      {
        id: options.workspace,
        upstream_api_key: { env: 'ANTHROPIC_API_KEY' },
        ...(options.workspaceQuota === undefined ? {} : { quota: options.workspaceQuota }),
      },
    ],
    tokens: [
      {
        id: options.tokenId,
        workspace: options.workspace,
        sha256: hashToken(options.token).toString('hex'),
        ...options.tokenLimits,
      },
    ],
  };
}

/** The configuration of oneTokenRaw, with `upstreamKey` as the workspace's key. */
export function oneTokenConfig(options: OneToken & { readonly upstreamKey: string }): LoadedConfig {
  return buildTestConfig(oneTokenRaw(options), { ANTHROPIC_API_KEY: options.upstreamKey });
}

/** The quotas of `config`'s plan kept in `store`, logging nothing; fail-closed unless `failOpen`. */
export function quotasIn(config: LoadedConfig, store: QuotaStore, failOpen = false): Quotas {
  return new Quotas({ plan: () => config.quotaPlan, store, failOpen, log: createLogger('silent') });
}

/** A processor of `config` whose quotas are kept in `store` (quotasIn), logging nothing. */
export function startQuotaProcessor(
  config: LoadedConfig,
  store: QuotaStore,
  failOpen = false,
): Promise<TestProcessor> {
  return startTestProcessor({ config, quotas: quotasIn(config, store, failOpen), logLevel: 'silent' });
}

export interface TestProcessorOptions {
  readonly config: LoadedConfig;
  /** Replaces `() => config.policy`, e.g. to inject a failing policy. */
  readonly policy?: () => Policy;
  readonly logLevel?: LevelWithSilent;
  /** host:port to listen on (default: an ephemeral port on 127.0.0.1). */
  readonly address?: string;
  readonly quotas?: Quotas;
  readonly metrics?: GatewayMetrics;
}

export interface TestProcessor {
  /** host:port for a client. */
  readonly address: string;
  /** Every log line so far, raw, as the processor wrote it. */
  readonly logLines: () => readonly string[];
  /** Every log line so far, parsed. */
  readonly logRecords: () => ReadonlyArray<Record<string, unknown>>;
  readonly stop: () => Promise<void>;
}

export async function startTestProcessor(options: TestProcessorOptions): Promise<TestProcessor> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      for (const line of text.split('\n')) if (line !== '') lines.push(line);
      callback();
    },
  });
  const log = createLogger(options.logLevel ?? 'trace', sink);
  const { config } = options;
  const { server, port } = await startExtProcServer({
    address: parseAddress(options.address ?? '127.0.0.1:0'),
    maxRequestBodyBytes: config.settings.limits.max_request_body_bytes,
    policy: options.policy ?? (() => config.policy),
    log,
    quotas: options.quotas,
    metrics: options.metrics,
  });
  return {
    address: `127.0.0.1:${port}`,
    logLines: () => [...lines],
    logRecords: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    stop: () =>
      new Promise<void>((resolve) => {
        // Graceful first; a stream a test left open must not hang the run.
        const force = setTimeout(() => server.forceShutdown(), 2_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

/** Secrets and a configuration with two workspaces: a full token and a token scoped to one model. */
export interface GatewayFixture {
  /** The default workspace's token (from GATEWAY_TOKEN), allowed every Anthropic model. */
  readonly token: string;
  /** The default workspace's upstream key (from ANTHROPIC_API_KEY). */
  readonly upstreamKey: string;
  /** A team-b token, stored as its SHA-256, allowed only `scopedModel`. */
  readonly scopedToken: string;
  readonly scopedUpstreamKey: string;
  readonly scopedModel: string;
  readonly config: LoadedConfig;
}

export function gatewayFixture(): GatewayFixture {
  const token = mintToken();
  const scopedToken = mintToken();
  const upstreamKey = `sk-ant-api03-default-${randomBytes(24).toString('base64url')}`;
  const scopedUpstreamKey = `sk-ant-api03-team-b-${randomBytes(24).toString('base64url')}`;
  const scopedModel = 'claude-haiku-4-5';
  const config = buildTestConfig(
    {
      log: { level: 'trace' },
      workspaces: [
        { id: 'default', upstream_api_key: { env: 'ANTHROPIC_API_KEY' } },
        { id: 'team-b', upstream_api_key: { env: 'TEAM_B_API_KEY' } },
      ],
      tokens: [
        { id: 'default', workspace: 'default', env: 'GATEWAY_TOKEN' },
        {
          id: 'team-b-haiku',
          workspace: 'team-b',
          sha256: hashToken(scopedToken).toString('hex'),
          models: [scopedModel],
        },
      ],
    },
    { GATEWAY_TOKEN: token, ANTHROPIC_API_KEY: upstreamKey, TEAM_B_API_KEY: scopedUpstreamKey },
  );
  return { token, upstreamKey, scopedToken, scopedUpstreamKey, scopedModel, config };
}

export interface TestSession {
  readonly processor: TestProcessor;
  readonly client: ExtProcClient;
}

/**
 * One processor on `fixture`'s configuration and one client to it for a whole
 * test file: started before its tests, stopped after them.
 */
export function useTestProcessor(fixture: GatewayFixture): TestSession {
  let processor: TestProcessor | undefined;
  let client: ExtProcClient | undefined;
  beforeAll(async () => {
    processor = await startTestProcessor({ config: fixture.config });
    client = createExtProcClient(processor.address);
  });
  afterAll(async () => {
    client?.close();
    await processor?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the test processor is not started (use it inside a test)');
    return value;
  };
  return {
    get processor() {
      return started(processor);
    },
    get client() {
      return started(client);
    },
  };
}
