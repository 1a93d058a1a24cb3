// The configurations people copy: envoy/envoy.yaml (docker compose) and the
// snippets of docs/integrate.md. The real Envoy binary validates what is Envoy
// configuration (`envoy --mode validate`); the snippets are compared with what
// envoy/bootstrap.ts renders; the Kubernetes resources, which no cluster here
// can apply, are checked against each other.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { onGatewayRoute, renderBootstrap } from '../../envoy/bootstrap.ts';
import { envoyBinary } from '../../envoy/run.ts';
import { buildConfig } from '../../processor/config/load.ts';
import { configSchema } from '../../processor/config/schema.ts';

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
  it('accepts envoy/envoy.yaml, the compose stack’s configuration', async () => {
    const result = await validate(read('envoy/envoy.yaml'), 'compose');
    expect(result.output).toContain('OK');
    expect(result.code).toBe(0);
  });

  it('is the Envoy version that docker-compose.yml runs', async () => {
    const { stdout } = await run(envoyBinary(), ['--version']);
    const version = /\/(\d+\.\d+\.\d+)\//.exec(stdout)?.[1];
    const compose = parse(read('docker-compose.yml')) as { services: { envoy: { image: string } } };
    expect(compose.services.envoy.image).toBe(`envoyproxy/envoy:v${version}`);
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
