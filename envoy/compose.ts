// The Envoy configuration of the docker compose stack (envoy/envoy.yaml),
// rendered by the same renderBootstrap as `npm start` and the tests, from the
// compose stack's gateway configuration (deploy/gateway.yaml). Envoy finds the
// processor at its compose service name. `npm run render:envoy` writes the
// file; test/unit/compose-envoy-yaml.test.ts fails when it is out of date.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify } from 'yaml';
import type { Settings } from '../processor/config/load.ts';
import { configSchema } from '../processor/config/schema.ts';
import { renderBootstrap } from './bootstrap/index.ts';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the pieces of the compose stack are; docker-compose.yml must agree (tested). */
export const COMPOSE = {
  file: join(REPO_ROOT, 'docker-compose.yml'),
  gatewayConfig: join(REPO_ROOT, 'deploy/gateway.yaml'),
  envoyYaml: join(REPO_ROOT, 'envoy/envoy.yaml'),
  processorService: 'processor',
  processorPort: 50051,
  /**
   * Envoy's admin socket inside its container (mode 0600, owned by the
   * image's envoy user; nothing else runs there). Reach it with
   * `docker compose exec envoy ...` (docs/operations.md).
   */
  adminSocket: '/tmp/envoy-admin.sock',
} as const;

/** The settings Envoy is rendered from: the compose gateway file, with the processor at its service name. */
export function composeSettings(): Settings {
  const raw: unknown = parseYaml(readFileSync(COMPOSE.gatewayConfig, 'utf8')) ?? {};
  // Only the settings matter here: secrets are the processor's business, in its container.
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${COMPOSE.gatewayConfig}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  const { listen, admin, processor, upstream, limits, log, metrics } = parsed.data;
  return {
    listen,
    // A socket path of its own: the container has no run directory of envoy/run.ts.
    admin: admin.port === undefined ? { ...admin, socket: admin.socket ?? COMPOSE.adminSocket } : admin,
    processor: {
      ...processor,
      address: { kind: 'tcp', host: COMPOSE.processorService, port: COMPOSE.processorPort },
    },
    upstream,
    limits,
    log,
    metrics,
  };
}

const HEADER = `# Envoy's configuration for docker-compose.yml. GENERATED: do not edit.
# Rendered by envoy/bootstrap/ (the same code as \`npm start\` and the tests)
# from deploy/gateway.yaml: change that file, then run \`npm run render:envoy\`.
`;

export function renderComposeEnvoyYaml(): string {
  return HEADER + stringify(renderBootstrap(composeSettings()), { lineWidth: 0 });
}
