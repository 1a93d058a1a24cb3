// The quota, metrics and metering parts of the configuration and of the
// rendered Envoy bootstrap, and the metadata the policy hands on to the access log.
import { describe, expect, it } from 'vitest';
import { renderBootstrap } from '../../envoy/bootstrap/index.ts';
import { buildConfig, type Environment, type LoadedConfig } from '../../processor/config/load.ts';
import { ACCESS_LOG_FLUSH_INTERVAL_MS, ACCESS_LOG_NAME } from '../../processor/contract/access-log.ts';
import { METADATA_NAMESPACE } from '../../processor/contract/names.ts';
import { USAGE_NAMESPACE } from '../../processor/contract/usage.ts';
import { factsMetadata, readFacts } from '../../processor/extproc/metadata.ts';

const ENV: Environment = { ANTHROPIC_API_KEY: 'sk-ant-test', GATEWAY_TOKEN: 'agw_test' };

function load(raw: Record<string, unknown>, env: Environment = {}): LoadedConfig {
  const result = buildConfig(raw, { ...ENV, ...env });
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.config;
}

function problems(raw: Record<string, unknown>, env: Environment = {}): readonly string[] {
  const result = buildConfig(raw, { ...ENV, ...env });
  return result.ok ? [] : result.problems;
}

describe('quota configuration', () => {
  it('defaults to the memory store, failing closed, with no limits', () => {
    const config = load({});
    expect(config.quotaStore).toEqual({ kind: 'memory', failOpen: false });
    expect(config.quotaPlan.tokens.size).toBe(0);
    expect(config.quotaPlan.workspaces.size).toBe(0);
  });

  it('reads limits per token and per workspace', () => {
    const config = load({
      workspaces: [
        { id: 'w', upstream_api_key: { env: 'ANTHROPIC_API_KEY' }, quota: { tokens_per_day: 5000 } },
      ],
      tokens: [
        {
          id: 't',
          workspace: 'w',
          env: 'GATEWAY_TOKEN',
          quota: { requests_per_minute: 3, tokens_per_minute: 90 },
        },
      ],
    });
    expect(config.quotaPlan.tokens.get('t')).toEqual({ requests_per_minute: 3, tokens_per_minute: 90 });
    expect(config.quotaPlan.workspaces.get('w')).toEqual({ tokens_per_day: 5000 });
  });

  it('refuses limits that are not positive integers, and unknown limit names', () => {
    const tokens = (quota: unknown) => [{ id: 't', workspace: 'default', env: 'GATEWAY_TOKEN', quota }];
    expect(problems({ tokens: tokens({ requests_per_minute: 0 }) })).not.toEqual([]);
    expect(problems({ tokens: tokens({ tokens_per_minute: 1.5 }) })).not.toEqual([]);
    expect(problems({ tokens: tokens({ requests_per_hour: 5 }) })).not.toEqual([]);
  });

  it('reads the Redis store, its URL from the environment, and the failure mode', () => {
    const config = load(
      { quotas: { store: 'redis', redis: { url: { env: 'REDIS_URL' } }, fail_open: true } },
      { REDIS_URL: 'redis://:secret@127.0.0.1:6390/2' },
    );
    expect(config.quotaStore).toEqual({
      kind: 'redis',
      failOpen: true,
      url: 'redis://:secret@127.0.0.1:6390/2',
      keyPrefix: 'anthropic-gateway:',
      timeoutMs: 250,
    });
  });

  it('says what is missing for Redis', () => {
    expect(problems({ quotas: { store: 'redis' } }).join()).toContain('store redis needs a redis section');
    expect(problems({ quotas: { store: 'redis', redis: { url: { env: 'NOPE' } } } }).join()).toContain(
      'quotas.redis.url: environment variable NOPE is not set',
    );
  });

  it('serves metrics on 127.0.0.1:9464 unless told otherwise', () => {
    expect(load({}).settings.metrics).toEqual({ enabled: true, address: '127.0.0.1', port: 9464 });
    expect(load({}, { GATEWAY_METRICS_PORT: '0' }).settings.metrics.port).toBe(0);
  });
});

describe('renderBootstrap: usage read by Envoy, entries to the processor', () => {
  interface Filter {
    name: string;
    disabled?: boolean;
    typed_config: Record<string, unknown>;
  }
  interface Route {
    match: { path?: string; prefix?: string };
    typed_per_filter_config?: Record<string, unknown>;
  }
  const bootstrap = renderBootstrap(load({}).settings) as unknown as {
    static_resources: {
      listeners: Array<{
        filter_chains: Array<{
          filters: Array<{
            typed_config: {
              http_filters: Filter[];
              access_log: Array<{ name: string; typed_config: Record<string, unknown> }>;
              route_config: { virtual_hosts: Array<{ routes: Route[] }> };
            };
          }>;
        }>;
      }>;
      clusters: Array<{ name: string }>;
    };
  };
  const hcm = bootstrap.static_resources.listeners[0]?.filter_chains[0]?.filters[0]?.typed_config;
  const filters = hcm?.http_filters ?? [];
  const names = filters.map((f) => f.name);
  const policy = filters.find((f) => f.name === 'envoy.filters.http.ext_proc')?.typed_config;
  const stream = filters.find((f) => f.name === 'anthropic_gateway.stream_usage');
  const json = filters.find((f) => f.name === 'anthropic_gateway.json_usage');
  const routes = hcm?.route_config.virtual_hosts[0]?.routes ?? [];

  it('has one ext_proc filter, the policy, and the usage filters where the metering filter was', () => {
    expect(names).toEqual([
      'envoy.filters.http.set_filter_state',
      'envoy.filters.http.ext_proc',
      'anthropic_gateway.stream_usage',
      'anthropic_gateway.json_usage',
      // The approval check and the trailer strip are on the upstream cluster.
      'envoy.filters.http.router',
    ]);
    expect(policy?.metadata_options).toEqual({ receiving_namespaces: { untyped: [METADATA_NAMESPACE] } });
  });

  it('reads usage on the two upstream routes only', () => {
    expect(stream?.disabled).toBe(true);
    expect(json?.disabled).toBe(true);
    const enabled = routes.filter(
      (r) => r.typed_per_filter_config?.['anthropic_gateway.stream_usage'] !== undefined,
    );
    expect(enabled.map((r) => r.match.path)).toEqual([
      '/ai-gateway/anthropic/v1/messages',
      '/ai-gateway/anthropic/v1/messages/count_tokens',
    ]);
    for (const route of enabled)
      expect(Object.keys(route.typed_per_filter_config ?? {}).sort()).toEqual([
        'anthropic_gateway.json_usage',
        'anthropic_gateway.stream_usage',
        'envoy.filters.http.ext_proc',
        'envoy.filters.http.set_filter_state',
      ]);
  });

  it('writes each usage field from message_start and every message_delta under one key, a later value replacing the earlier', () => {
    interface SseRule {
      rule: {
        selectors: Array<{ key: string }>;
        on_present: { key: string; metadata_namespace: string; type: string };
      };
      stop_processing_after_matches?: number;
    }
    const parser = stream?.typed_config.response_rules as
      | { content_parser: { typed_config: { rules: SseRule[] } } }
      | undefined;
    const rules = (parser?.content_parser.typed_config.rules ?? []).map(
      ({ rule, stop_processing_after_matches }) => ({
        path: rule.selectors.map((s) => s.key).join('.'),
        ...rule.on_present,
        stop_processing_after_matches,
      }),
    );
    for (const key of [
      'input_tokens',
      'output_tokens',
      'cache_creation_input_tokens',
      'cache_read_input_tokens',
    ]) {
      const writing = rules.filter((r) => r.key === key);
      expect(writing.map((r) => r.path)).toEqual([`message.usage.${key}`, `usage.${key}`]);
      for (const rule of writing) {
        expect(rule).toMatchObject({ metadata_namespace: USAGE_NAMESPACE, type: 'PROTOBUF_VALUE' });
        // 0 (unset): every event is read, so the last report wins.
        expect(rule.stop_processing_after_matches).toBeUndefined();
      }
    }
  });

  it('reads a JSON answer only when it is JSON, its usage and count_tokens apart', () => {
    const responseRules = json?.typed_config.response_rules as {
      rules: Array<{ selectors: Array<{ key: string }>; on_present: { key: string } }>;
      allow_content_types_regex: { regex: string };
    };
    const paths = Object.fromEntries(
      responseRules.rules.map((r) => [r.on_present.key, r.selectors.map((s) => s.key).join('.')]),
    );
    expect(paths).toMatchObject({ input_tokens: 'usage.input_tokens', counted_input_tokens: 'input_tokens' });
    const allowed = new RegExp(`^(?:${responseRules.allow_content_types_regex.regex})$`);
    expect(allowed.test('application/json')).toBe(true);
    expect(allowed.test('application/json; charset=utf-8')).toBe(true);
    expect(allowed.test('text/event-stream')).toBe(false);
  });

  it('sends every entry to the processor on an access-log cluster of its own, with its content-type and request-id', () => {
    expect(hcm?.access_log).toHaveLength(1);
    expect(hcm?.access_log[0]?.typed_config).toMatchObject({
      common_config: {
        log_name: ACCESS_LOG_NAME,
        transport_api_version: 'V3',
        grpc_service: { envoy_grpc: { cluster_name: 'processor_access_log' } },
        buffer_flush_interval: `${ACCESS_LOG_FLUSH_INTERVAL_MS / 1000}s`,
        buffer_size_bytes: 16384,
      },
      additional_response_headers_to_log: ['content-type', 'request-id'],
    });
    const clusters = bootstrap.static_resources.clusters.map((c) => c.name);
    expect(clusters).toContain('processor_access_log');
    expect(clusters).not.toContain('ext_proc_metering');
  });
});

describe('request facts as dynamic metadata', () => {
  it('round-trips through the Struct Envoy forwards', () => {
    const facts = {
      request_id: 'r-1',
      token_id: 'alice',
      workspace: 'w',
      route: 'messages',
      model: 'claude-haiku-4-5',
    };
    const struct = factsMetadata(facts);
    const namespace = struct.fields?.[METADATA_NAMESPACE]?.structValue;
    expect(
      readFacts({ filter_metadata: { [METADATA_NAMESPACE]: { fields: namespace?.fields ?? {} } } } as never),
    ).toEqual(facts);
    expect(readFacts(undefined)).toEqual({});
  });
});
