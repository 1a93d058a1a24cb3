// The quota, metrics and metering parts of the configuration and of the
// rendered Envoy bootstrap, and the metadata the two ext_proc streams share.
import { describe, expect, it } from 'vitest';
import { renderBootstrap } from '../../envoy/bootstrap.ts';
import { buildConfig, type Environment, type LoadedConfig } from '../../processor/config/load.ts';
import {
  factsMetadata,
  METADATA_NAMESPACE,
  readAttribute,
  readFacts,
} from '../../processor/extproc/metadata.ts';
import { METERING_STREAM, STREAM_KIND_HEADER } from '../../processor/extproc/server.ts';

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

describe('renderBootstrap: metering filter', () => {
  const bootstrap = renderBootstrap(load({}).settings) as {
    static_resources: {
      listeners: Array<{
        filter_chains: Array<{
          filters: Array<{
            typed_config: { http_filters: Array<{ name: string; typed_config: Record<string, unknown> }> };
          }>;
        }>;
      }>;
      clusters: Array<{ name: string }>;
    };
  };
  const filters =
    bootstrap.static_resources.listeners[0]?.filter_chains[0]?.filters[0]?.typed_config.http_filters ?? [];
  const names = filters.map((f) => f.name);
  const metering = filters.find((f) => f.name === 'anthropic_gateway.metering')?.typed_config;
  const policy = filters.find((f) => f.name === 'envoy.filters.http.ext_proc')?.typed_config;

  it('runs after the policy and before the router', () => {
    expect(names).toEqual([
      'envoy.filters.http.set_filter_state',
      'envoy.filters.http.ext_proc',
      'anthropic_gateway.metering',
      'anthropic_gateway.approval',
      'anthropic_gateway.no_request_trailers',
      'envoy.filters.http.router',
    ]);
  });

  it('observes the response only, never holding it, never failing the request', () => {
    expect(metering).toMatchObject({
      observability_mode: true,
      failure_mode_allow: true,
      processing_mode: {
        request_header_mode: 'SKIP',
        request_body_mode: 'NONE',
        response_header_mode: 'SEND',
        response_body_mode: 'STREAMED',
      },
      response_attributes: ['request.time', 'request.id'],
    });
  });

  it('names its streams for the processor and reads the metadata the policy writes', () => {
    expect(metering?.grpc_service).toEqual({
      envoy_grpc: { cluster_name: 'ext_proc_metering' },
      initial_metadata: [{ key: STREAM_KIND_HEADER, value: METERING_STREAM }],
    });
    expect(metering?.metadata_options).toEqual({ forwarding_namespaces: { untyped: [METADATA_NAMESPACE] } });
    expect(policy?.metadata_options).toEqual({ receiving_namespaces: { untyped: [METADATA_NAMESPACE] } });
    expect(bootstrap.static_resources.clusters.map((c) => c.name)).toContain('ext_proc_metering');
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

  it('reads an attribute whatever the filter name it is keyed by', () => {
    const attributes = {
      'envoy.filters.http.ext_proc': { fields: { 'request.id': { stringValue: 'abc' } } },
    };
    expect(readAttribute(attributes as never, 'request.id')).toBe('abc');
    expect(readAttribute(attributes as never, 'request.time')).toBeUndefined();
  });
});
