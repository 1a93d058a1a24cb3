import { describe, expect, it } from 'vitest';
import { renderBootstrap } from '../../envoy/bootstrap/index.ts';
import { buildConfig, type Environment, type Settings } from '../../processor/config/load.ts';
import { APPROVAL_KEY, METADATA_NAMESPACE } from '../../processor/contract/names.ts';

const ENV: Environment = { ANTHROPIC_API_KEY: 'sk-ant-test', GATEWAY_TOKEN: 'agw_test' };

function settings(raw: Record<string, unknown> = {}, env: Environment = {}): Settings {
  const result = buildConfig(raw, { ...ENV, ...env });
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.config.settings;
}

type Path = ReadonlyArray<string | number>;

/** The value at `path`, or a thrown error naming the missing step. */
function at(value: unknown, path: Path): unknown {
  let current = value;
  for (const step of path) {
    if (current === null || typeof current !== 'object' || !(step in current)) {
      throw new Error(`no ${String(step)} in ${JSON.stringify(path)}`);
    }
    current = Reflect.get(current, step);
  }
  return current;
}

function list(value: unknown, path: Path): unknown[] {
  const found = at(value, path);
  if (!Array.isArray(found)) throw new Error(`${JSON.stringify(path)} is not a list`);
  return found;
}

function named(items: unknown[], name: string): unknown {
  const item = items.find((candidate) => at(candidate, ['name']) === name);
  if (item === undefined) throw new Error(`nothing named ${name}`);
  return item;
}

const HCM = ['static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config'];
const httpFilters = (bootstrap: unknown): unknown[] => list(bootstrap, [...HCM, 'http_filters']);
const routes = (bootstrap: unknown): unknown[] =>
  list(bootstrap, [...HCM, 'route_config', 'virtual_hosts', 0, 'routes']);
const extProc = (bootstrap: unknown): unknown =>
  at(named(httpFilters(bootstrap), 'envoy.filters.http.ext_proc'), ['typed_config']);
const cluster = (bootstrap: unknown, name: string): unknown =>
  named(list(bootstrap, ['static_resources', 'clusters']), name);

describe('renderBootstrap: ext_proc', () => {
  const bootstrap = renderBootstrap(settings());

  it('fails closed', () => {
    expect(at(extProc(bootstrap), ['failure_mode_allow'])).toBe(false);
  });

  it('sends request headers, buffers the request body, sends request trailers and skips the response', () => {
    expect(at(extProc(bootstrap), ['processing_mode'])).toMatchObject({
      request_header_mode: 'SEND',
      request_body_mode: 'BUFFERED',
      // Only requests that have trailers (headers then trailers: no body message at all).
      request_trailer_mode: 'SEND',
      response_header_mode: 'SKIP',
      response_body_mode: 'NONE',
      response_trailer_mode: 'SKIP',
    });
  });

  it('talks to the processor cluster, with the configured message timeout', () => {
    expect(at(extProc(bootstrap), ['grpc_service', 'envoy_grpc', 'cluster_name'])).toBe('ext_proc_processor');
    expect(at(extProc(bootstrap), ['message_timeout'])).toBe('5s');
    expect(
      at(extProc(renderBootstrap(settings({ processor: { message_timeout_ms: 1500 } }))), [
        'message_timeout',
      ]),
    ).toBe('1.5s');
  });

  it('runs ext_proc before the router, which suppresses x-envoy-* headers', () => {
    const names = httpFilters(bootstrap).map((filter) => at(filter, ['name']));
    expect(names.indexOf('envoy.filters.http.ext_proc')).toBeGreaterThanOrEqual(0);
    expect(names.at(-1)).toBe('envoy.filters.http.router');
    expect(
      at(named(httpFilters(bootstrap), 'envoy.filters.http.router'), [
        'typed_config',
        'suppress_envoy_headers',
      ]),
    ).toBe(true);
  });
});

const upstreamFilters = (bootstrap: unknown): unknown[] =>
  list(cluster(bootstrap, 'anthropic_upstream'), [
    'typed_extension_protocol_options',
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    'http_filters',
  ]);

describe('renderBootstrap: the gateway’s filters, per route', () => {
  const bootstrap = renderBootstrap(settings());
  const onListener = ['envoy.filters.http.set_filter_state', 'envoy.filters.http.ext_proc'];
  const usage = ['anthropic_gateway.stream_usage', 'anthropic_gateway.json_usage'];

  it('are off in the listener’s chain (a shared Envoy’s other routes never meet them), all but the router', () => {
    const filters = httpFilters(bootstrap);
    const off = filters
      .filter((filter) => (filter as { disabled?: boolean }).disabled === true)
      .map((f) => at(f, ['name']));
    expect(off).toEqual([...onListener, ...usage]);
    expect(filters.map((filter) => at(filter, ['name']))).toEqual([
      ...onListener,
      ...usage,
      'envoy.filters.http.router',
    ]);
  });

  it('are switched on by every route of the gateway, the usage filters by the two upstream routes only', () => {
    const enable = { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', config: {} };
    const [messages, countTokens, underBasePath, everythingElse] = routes(bootstrap);
    for (const route of [messages, countTokens]) {
      expect(at(route, ['typed_per_filter_config'])).toEqual(
        Object.fromEntries([...onListener, ...usage].map((name) => [name, enable])),
      );
    }
    for (const route of [underBasePath, everythingElse]) {
      expect(at(route, ['typed_per_filter_config'])).toEqual(
        Object.fromEntries(onListener.map((name) => [name, enable])),
      );
    }
  });

  it('keep the request-id local replies to requests the gateway’s filters saw', () => {
    const mappers = list(bootstrap, [...HCM, 'local_reply_config', 'mappers']);
    const guard = (mapper: unknown) => JSON.stringify(at(mapper, ['filter', 'and_filter', 'filters']));
    for (const mapper of mappers) {
      const requestId = JSON.stringify(at(mapper, ['headers_to_add', 0, 'header', 'value']));
      const state = "'anthropic_gateway.request_id' in filter_state";
      // Either before the filters ran (a fresh id), or with the filters' id on a gateway route.
      if (requestId.includes('UNIQUE_ID')) expect(guard(mapper)).toContain(`!(${state})`);
      else expect(guard(mapper)).toContain(`"expression":"${state}"`);
    }
  });
});

describe('renderBootstrap: request trailers', () => {
  const bootstrap = renderBootstrap(settings());

  it('removes every request trailer on the upstream cluster, right before the codec, and nothing else', () => {
    const names = upstreamFilters(bootstrap).map((filter) => at(filter, ['name']));
    expect(names.slice(-2)).toEqual([
      'anthropic_gateway.no_request_trailers',
      'envoy.filters.http.upstream_codec',
    ]);
    expect(
      at(named(upstreamFilters(bootstrap), 'anthropic_gateway.no_request_trailers'), ['typed_config']),
    ).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation',
      mutations: {
        request_trailers_mutations: [
          { remove_on_match: { key_matcher: { safe_regex: { regex: '(?s).*' } } } },
        ],
      },
    });
  });
});

describe('renderBootstrap: the approval check', () => {
  const bootstrap = renderBootstrap(settings());

  it('lets a request on to the upstream, whatever route sent it, only with the processor’s approval mark', () => {
    const names = upstreamFilters(bootstrap).map((filter) => at(filter, ['name']));
    // First on the upstream cluster; only the trailer strip, which removes and decides
    // nothing else, sits between it and the codec. Not on the listener at all.
    expect(names).toEqual([
      'anthropic_gateway.approval',
      'anthropic_gateway.no_request_trailers',
      'envoy.filters.http.upstream_codec',
    ]);
    expect(httpFilters(bootstrap).map((filter) => at(filter, ['name']))).not.toContain(
      'anthropic_gateway.approval',
    );
    for (const plain of [settings(), settings({ upstream: { url: 'http://127.0.0.1:9000' } })]) {
      expect(upstreamFilters(renderBootstrap(plain))).toEqual(upstreamFilters(bootstrap));
    }
    const rules = at(named(upstreamFilters(bootstrap), 'anthropic_gateway.approval'), [
      'typed_config',
      'rules',
    ]);
    expect(at(rules, ['action'])).toBe('ALLOW');
    const policies = Object.values(at(rules, ['policies']) as Record<string, unknown>);
    expect(policies).toEqual([
      {
        permissions: [{ any: true }],
        principals: [
          {
            sourced_metadata: {
              metadata_matcher: {
                filter: METADATA_NAMESPACE,
                path: [{ key: APPROVAL_KEY }],
                value: { bool_match: true },
              },
            },
          },
        ],
      },
    ]);
  });

  it('accepts dynamic metadata from the processor in the approval namespace only', () => {
    expect(at(extProc(bootstrap), ['metadata_options'])).toEqual({
      receiving_namespaces: { untyped: [METADATA_NAMESPACE] },
    });
  });
});

describe('renderBootstrap: runtime', () => {
  it('closes ext_proc streams gracefully instead of resetting them, and keeps the admin layer', () => {
    const layers = list(renderBootstrap(settings()), ['layered_runtime', 'layers']);
    expect(layers[0]).toMatchObject({
      static_layer: { 'envoy.reloadable_features.ext_proc_graceful_grpc_close': true },
    });
    expect(
      layers.some((layer) => at(layer, ['name']) === 'admin' && 'admin_layer' in (layer as object)),
    ).toBe(true);
  });
});

describe('renderBootstrap: routes', () => {
  it('routes the two gateway paths upstream, rewritten, with the body buffer limit', () => {
    const limit = 5 * 1024 * 1024;
    const bootstrap = renderBootstrap(settings({ limits: { max_request_body_bytes: limit } }));
    const [messages, countTokens] = routes(bootstrap);
    expect(at(messages, ['match', 'path'])).toBe('/ai-gateway/anthropic/v1/messages');
    expect(at(messages, ['route', 'prefix_rewrite'])).toBe('/v1/messages');
    expect(at(messages, ['route', 'cluster'])).toBe('anthropic_upstream');
    expect(at(messages, ['route', 'host_rewrite_literal'])).toBe('api.anthropic.com');
    expect(at(messages, ['request_body_buffer_limit'])).toBe(limit);
    expect(at(countTokens, ['match', 'path'])).toBe('/ai-gateway/anthropic/v1/messages/count_tokens');
    expect(at(countTokens, ['route', 'prefix_rewrite'])).toBe('/v1/messages/count_tokens');
    expect(at(countTokens, ['request_body_buffer_limit'])).toBe(limit);
  });

  it('uses the 32 MiB default limit', () => {
    for (const route of routes(renderBootstrap(settings())).slice(0, 2)) {
      expect(at(route, ['request_body_buffer_limit'])).toBe(32 * 1024 * 1024);
    }
  });

  it('answers everything else under its path, and everything else at all, with an Anthropic-shaped 404', () => {
    const all = routes(renderBootstrap(settings()));
    const fallbacks = all.slice(2);
    expect(fallbacks.map((route) => at(route, ['match']))).toEqual([
      { path_separated_prefix: '/ai-gateway/anthropic' },
      { prefix: '/' },
    ]);
    for (const route of fallbacks) {
      expect(at(route, ['direct_response', 'status'])).toBe(404);
      const body = at(route, ['direct_response', 'body', 'inline_string']);
      expect(typeof body).toBe('string');
      const parsed: unknown = JSON.parse(String(body));
      expect(parsed).toEqual({
        type: 'error',
        error: { type: 'not_found_error', message: expect.any(String) },
      });
    }
    // Only the gateway routes and the two fallbacks.
    expect(all).toHaveLength(4);
  });

  it('rewrites Envoy’s own error replies to Anthropic’s shape', () => {
    const mappers = list(renderBootstrap(settings()), [...HCM, 'local_reply_config', 'mappers']);
    expect(mappers.length).toBeGreaterThan(0);
    for (const mapper of mappers) {
      const body = at(mapper, ['body_format_override', 'json_format']);
      expect(body).toMatchObject({
        type: 'error',
        error: { type: expect.any(String), message: expect.any(String) },
      });
    }
    const tooLarge = mappers.find((mapper) => at(mapper, ['status_code']) === 413);
    expect(at(tooLarge, ['body_format_override', 'json_format', 'error'])).toEqual({
      type: 'request_too_large',
      message: "request body is larger than the gateway's limit of 32 MiB",
    });
  });

  it('leaves the processor’s replies alone and gives every other one a request-id', () => {
    const mappers = list(renderBootstrap(settings()), [...HCM, 'local_reply_config', 'mappers']);
    const expressions = (mapper: unknown) =>
      JSON.stringify(mapper)
        .match(/"expression":"[^"]*"/g)
        ?.join(' ') ?? '';
    for (const mapper of mappers) {
      expect(expressions(mapper)).toContain("!response.code_details.startsWith('anthropic_gateway_')");
      const headers = list(mapper, ['headers_to_add']);
      expect(headers).toHaveLength(1);
      expect(at(headers[0], ['header', 'key'])).toBe('request-id');
    }
    // A fresh unique id for a request refused before the filter chain ran, then
    // the same mappers with Envoy's request id (kept in filter state by the first filter).
    const half = mappers.length / 2;
    const ids = mappers.map((mapper) => at(list(mapper, ['headers_to_add'])[0], ['header', 'value']));
    expect(ids.slice(0, half)).toEqual(Array(half).fill('%UNIQUE_ID%'));
    expect(ids.slice(half)).toEqual(Array(half).fill('%FILTER_STATE(anthropic_gateway.request_id:PLAIN)%'));
    for (const mapper of mappers.slice(0, half)) {
      expect(expressions(mapper)).toContain("!('anthropic_gateway.request_id' in filter_state)");
    }
    for (let i = 0; i < half; i += 1) {
      expect(at(mappers[i], ['body_format_override'])).toEqual(
        at(mappers[i + half], ['body_format_override']),
      );
    }
  });

  it('shapes every status Envoy can produce itself, 4xx and 5xx, ending with catch-alls', () => {
    const mappers = list(renderBootstrap(settings()), [...HCM, 'local_reply_config', 'mappers']);
    const errorTypes = mappers.map((mapper) =>
      at(mapper, ['body_format_override', 'json_format', 'error', 'type']),
    );
    expect(errorTypes.slice(-2)).toEqual(['invalid_request_error', 'api_error']);
    // The catch-alls keep Envoy's status.
    for (const mapper of mappers.slice(-2)) expect(() => at(mapper, ['status_code'])).toThrow();
    const statuses = new Set(mappers.map((mapper) => (mapper as { status_code?: number }).status_code));
    for (const status of [400, 403, 404, 408, 413, 426, 431, 500, 503, 504])
      expect(statuses).toContain(status);
  });
});

describe('renderBootstrap: slow clients', () => {
  const hcm = (raw: Record<string, unknown> = {}) => at(renderBootstrap(settings(raw)), HCM);

  it('bounds the request head, the whole request and idle connections, by default', () => {
    expect(hcm()).toMatchObject({
      request_headers_timeout: '10s',
      request_timeout: '300s',
      common_http_protocol_options: { idle_timeout: '60s' },
      http2_protocol_options: { max_concurrent_streams: 100 },
      // The upstream timeout, as before: it bounds a streamed response, not these.
      stream_idle_timeout: '600s',
    });
  });

  it('takes the timeouts from listen, and sets none that would cut a long response', () => {
    const configured = hcm({
      listen: { request_headers_timeout_seconds: 0.5, request_timeout_seconds: 1.5, idle_timeout_seconds: 2 },
      upstream: { timeout_seconds: 3600 },
    });
    expect(configured).toMatchObject({
      request_headers_timeout: '0.5s',
      request_timeout: '1.5s',
      common_http_protocol_options: { idle_timeout: '2s' },
      stream_idle_timeout: '3600s',
    });
    expect(at(configured, ['common_http_protocol_options'])).not.toHaveProperty('max_stream_duration');
    expect(at(configured, ['common_http_protocol_options'])).not.toHaveProperty('max_connection_duration');
  });

  it('says which timeout ran out, ahead of the generic 408, and names https targets on plain HTTP', () => {
    const mappers = list(at(renderBootstrap(settings()), HCM), ['local_reply_config', 'mappers']);
    const messages = mappers.map((mapper) =>
      at(mapper, ['body_format_override', 'json_format', 'error', 'message']),
    );
    const first = (text: string) => messages.findIndex((message) => String(message).startsWith(text));
    expect(first('timed out receiving the request headers (the gateway waits 10 s')).toBeGreaterThanOrEqual(
      0,
    );
    expect(first('timed out receiving the request (the gateway waits 300 s')).toBeGreaterThanOrEqual(0);
    expect(first('timed out receiving the request headers')).toBeLessThan(
      messages.indexOf('timed out receiving the request'),
    );
    expect(first('timed out receiving the request (')).toBeLessThan(
      messages.indexOf('timed out receiving the request'),
    );
    const https = first('the request target is an https:// URL on a plain-HTTP connection');
    expect(https).toBeGreaterThanOrEqual(0);
    expect(https).toBeLessThan(first('this request is not allowed by the gateway'));
    expect(at(mappers[https], ['status_code'])).toBe(400);
    expect(JSON.stringify(mappers[https])).toContain(
      "response.code_details in ['http1.https_url_on_plaintext_connection']",
    );
  });
});

describe('renderBootstrap: clusters', () => {
  it('connects to an https upstream over TLS with SNI and certificate checks', () => {
    const upstream = cluster(renderBootstrap(settings()), 'anthropic_upstream');
    expect(at(upstream, ['type'])).toBe('LOGICAL_DNS');
    expect(
      at(upstream, [
        'load_assignment',
        'endpoints',
        0,
        'lb_endpoints',
        0,
        'endpoint',
        'address',
        'socket_address',
      ]),
    ).toEqual({
      address: 'api.anthropic.com',
      port_value: 443,
    });
    const tls = at(upstream, ['transport_socket', 'typed_config']);
    expect(at(tls, ['sni'])).toBe('api.anthropic.com');
    expect(at(tls, ['common_tls_context', 'validation_context', 'match_typed_subject_alt_names'])).toEqual([
      { san_type: 'DNS', matcher: { exact: 'api.anthropic.com' } },
    ]);
    expect(at(tls, ['common_tls_context', 'validation_context', 'trusted_ca'])).toEqual({
      filename: '/etc/ssl/certs/ca-certificates.crt',
    });
    expect(at(tls, ['common_tls_context', 'alpn_protocols'])).toEqual(['h2', 'http/1.1']);
  });

  it('trusts upstream.ca_file (or ANTHROPIC_UPSTREAM_CA_FILE) instead of the system bundle', () => {
    const trusted = (bootstrap: unknown) =>
      at(cluster(bootstrap, 'anthropic_upstream'), [
        'transport_socket',
        'typed_config',
        'common_tls_context',
        'validation_context',
        'trusted_ca',
      ]);
    expect(
      trusted(renderBootstrap(settings({ upstream: { ca_file: '/etc/gateway/proxy-ca.pem' } }))),
    ).toEqual({
      filename: '/etc/gateway/proxy-ca.pem',
    });
    expect(
      trusted(renderBootstrap(settings({}, { ANTHROPIC_UPSTREAM_CA_FILE: '/run/secrets/egress-ca.pem' }))),
    ).toEqual({ filename: '/run/secrets/egress-ca.pem' });
  });

  it('sends the upstream connection’s :scheme, not the client’s', () => {
    expect(at(renderBootstrap(settings()), [...HCM, 'scheme_header_transformation'])).toEqual({
      match_upstream: true,
    });
  });

  it('uses the port and host of a custom https upstream', () => {
    const bootstrap = renderBootstrap(
      settings({}, { ANTHROPIC_UPSTREAM_URL: 'https://llm.example.com:8443' }),
    );
    const upstream = cluster(bootstrap, 'anthropic_upstream');
    expect(at(upstream, ['transport_socket', 'typed_config', 'sni'])).toBe('llm.example.com');
    expect(
      at(upstream, [
        'load_assignment',
        'endpoints',
        0,
        'lb_endpoints',
        0,
        'endpoint',
        'address',
        'socket_address',
        'port_value',
      ]),
    ).toBe(8443);
    expect(at(routes(bootstrap)[0], ['route', 'host_rewrite_literal'])).toBe('llm.example.com:8443');
  });

  it('connects to an http upstream without TLS', () => {
    const bootstrap = renderBootstrap(settings({}, { ANTHROPIC_UPSTREAM_URL: 'http://127.0.0.1:8081' }));
    const upstream = cluster(bootstrap, 'anthropic_upstream');
    expect(() => at(upstream, ['transport_socket'])).toThrow();
    expect(at(upstream, ['type'])).toBe('STATIC');
    expect(
      at(upstream, [
        'load_assignment',
        'endpoints',
        0,
        'lb_endpoints',
        0,
        'endpoint',
        'address',
        'socket_address',
      ]),
    ).toEqual({
      address: '127.0.0.1',
      port_value: 8081,
    });
    expect(JSON.stringify(upstream)).not.toContain('tls');
  });

  it('reaches the processor over TCP or a unix socket', () => {
    const address = (bootstrap: unknown): unknown =>
      at(cluster(bootstrap, 'ext_proc_processor'), [
        'load_assignment',
        'endpoints',
        0,
        'lb_endpoints',
        0,
        'endpoint',
        'address',
      ]);
    expect(address(renderBootstrap(settings()))).toEqual({
      socket_address: { address: '127.0.0.1', port_value: 50051 },
    });
    expect(
      address(renderBootstrap(settings({ processor: { address: 'unix:/run/gateway/processor.sock' } }))),
    ).toEqual({
      pipe: { path: '/run/gateway/processor.sock' },
    });
    expect(address(renderBootstrap(settings({ processor: { address: '[::1]:6000' } })))).toEqual({
      socket_address: { address: '::1', port_value: 6000 },
    });
  });

  const PROTOCOL_OPTIONS = [
    'typed_extension_protocol_options',
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  ];
  const processorHttp2 = (bootstrap: unknown, name: string): unknown =>
    at(cluster(bootstrap, name), [...PROTOCOL_OPTIONS, 'explicit_http_config', 'http2_protocol_options']);

  it('speaks HTTP/2 to the processor, and both clusters ping their connections (processor.keepalive_*)', () => {
    for (const name of ['ext_proc_processor', 'processor_access_log']) {
      expect(processorHttp2(renderBootstrap(settings()), name)).toEqual({
        connection_keepalive: { interval: '5s', timeout: '3s' },
      });
      const configured = settings({
        processor: { keepalive_interval_seconds: 0.25, keepalive_timeout_seconds: 0.1 + 0.2 },
      });
      expect(processorHttp2(renderBootstrap(configured), name)).toEqual({
        connection_keepalive: { interval: '0.25s', timeout: '0.3s' },
      });
      const off = settings({ processor: { keepalive_interval_seconds: 0 } });
      expect(processorHttp2(renderBootstrap(off), name)).toEqual({});
    }
  });

  it('pings its HTTP/2 connections to the Anthropic API (upstream.keepalive_*)', () => {
    const http2 = (bootstrap: unknown): unknown =>
      at(cluster(bootstrap, 'anthropic_upstream'), [
        ...PROTOCOL_OPTIONS,
        'auto_config',
        'http2_protocol_options',
      ]);
    expect(http2(renderBootstrap(settings()))).toEqual({
      connection_keepalive: { interval: '30s', timeout: '10s' },
    });
    expect(
      http2(
        renderBootstrap(
          settings({ upstream: { keepalive_interval_seconds: 45, keepalive_timeout_seconds: 15 } }),
        ),
      ),
    ).toEqual({ connection_keepalive: { interval: '45s', timeout: '15s' } });
  });

  it('refuses keepalive durations Envoy cannot take', () => {
    for (const processor of [
      { keepalive_interval_seconds: 0.0001 },
      { keepalive_interval_seconds: -1 },
      { keepalive_timeout_seconds: 0 },
    ]) {
      const result = buildConfig({ processor }, ENV);
      expect(result.ok ? [] : result.problems, JSON.stringify(processor)).toEqual([
        expect.stringMatching(/^processor\.keepalive_/),
      ]);
    }
  });

  it('puts the admin interface on a Unix socket of mode 0600, or on TCP only when a port is given', () => {
    // No path: envoy/run.ts puts the socket in its private directory.
    expect(at(renderBootstrap(settings()), ['admin'])).toEqual({});
    expect(
      at(renderBootstrap(settings({ admin: { socket: '/run/gateway/admin.sock' } })), ['admin']),
    ).toEqual({
      address: { pipe: { path: '/run/gateway/admin.sock', mode: 0o600 } },
    });
    const bootstrap = renderBootstrap(settings({}, { GATEWAY_PORT: '18080', GATEWAY_ADMIN_PORT: '19901' }));
    expect(at(bootstrap, ['static_resources', 'listeners', 0, 'address', 'socket_address'])).toEqual({
      address: '0.0.0.0',
      port_value: 18080,
    });
    expect(at(bootstrap, ['admin', 'address', 'socket_address'])).toEqual({
      address: '127.0.0.1',
      port_value: 19901,
    });
  });
});

describe('renderBootstrap: TLS on the listener (listen.tls)', () => {
  const chain = (bootstrap: unknown) =>
    at(bootstrap, ['static_resources', 'listeners', 0, 'filter_chains', 0]) as Record<string, unknown>;

  it('serves plain HTTP without it', () => {
    expect(chain(renderBootstrap(settings()))).not.toHaveProperty('transport_socket');
  });

  it('presents the certificate and offers HTTP/2 and HTTP/1.1 by ALPN', () => {
    const tls = { cert_file: '/etc/gateway/cert.pem', key_file: '/etc/gateway/key.pem' };
    const bootstrap = renderBootstrap(settings({ listen: { tls } }));
    expect(at(chain(bootstrap), ['transport_socket'])).toEqual({
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
        common_tls_context: {
          alpn_protocols: ['h2', 'http/1.1'],
          tls_certificates: [
            {
              certificate_chain: { filename: '/etc/gateway/cert.pem' },
              private_key: { filename: '/etc/gateway/key.pem' },
            },
          ],
        },
      },
    });
    // The connection manager picks its codec from what ALPN negotiated.
    expect(at(bootstrap, [...HCM, 'codec_type'])).toBe('AUTO');
  });

  it('needs both files', () => {
    for (const tls of [
      { cert_file: '/c.pem' },
      { key_file: '/k.pem' },
      { cert_file: '', key_file: '/k.pem' },
    ]) {
      const result = buildConfig({ listen: { tls } }, ENV);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.problems.join('\n')).toContain('listen.tls');
    }
  });
});
