import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatAddress } from '../../processor/config/address.ts';
import {
  buildConfig,
  type Environment,
  type LoadedConfig,
  type LoadResult,
  loadConfig,
} from '../../processor/config/load.ts';
import { checkModel } from '../../processor/policy/catalog.ts';
import { hashToken, verifyToken } from '../../processor/policy/tokens.ts';

const ENV: Environment = { ANTHROPIC_API_KEY: 'sk-ant-test', GATEWAY_TOKEN: 'agw_test_token' };

const dir = mkdtempSync(join(tmpdir(), 'gateway-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function loaded(result: LoadResult): LoadedConfig {
  if (!result.ok) throw new Error(`expected a configuration, got problems: ${result.problems.join('; ')}`);
  return result.config;
}

function problems(result: LoadResult): readonly string[] {
  if (result.ok) throw new Error('expected problems, got a configuration');
  return result.problems;
}

const workspace = (id: string, envName = 'ANTHROPIC_API_KEY') => ({ id, upstream_api_key: { env: envName } });

describe('buildConfig: defaults', () => {
  it('works with no file and the two environment variables', () => {
    const { settings, policy } = loaded(buildConfig({}, ENV));
    expect(settings.listen).toEqual({
      address: '0.0.0.0',
      port: 8080,
      request_headers_timeout_seconds: 10,
      request_timeout_seconds: 300,
      idle_timeout_seconds: 60,
    });
    expect(settings.upstream.url).toBe('https://api.anthropic.com');
    expect(settings.limits.max_request_body_bytes).toBe(32 * 1024 * 1024);
    expect(formatAddress(settings.processor.address)).toBe('127.0.0.1:50051');
    expect(settings.log.level).toBe('info');
    expect(policy.workspaces.get('default')).toEqual({ id: 'default', upstreamApiKey: 'sk-ant-test' });
    const grant = verifyToken(policy.tokens, 'agw_test_token');
    expect(grant?.workspace).toBe('default');
    expect(grant?.models).toBeUndefined();
    expect(verifyToken(policy.tokens, 'sk-ant-test')).toBeUndefined();
    expect(checkModel(policy.catalog, 'claude-opus-4-8', undefined)).toBeUndefined();
  });

  it('lists every missing environment variable, not just the first', () => {
    const list = problems(buildConfig({ workspaces: [workspace('default')] }, {}));
    expect(list).toEqual([
      'workspaces.0.upstream_api_key: environment variable ANTHROPIC_API_KEY is not set',
      'tokens.0.env: environment variable GATEWAY_TOKEN is not set',
    ]);
  });

  it('refuses to start without GATEWAY_TOKEN', () => {
    expect(problems(buildConfig({}, { ANTHROPIC_API_KEY: 'sk' }))).toEqual([
      'tokens.0.env: environment variable GATEWAY_TOKEN is not set',
    ]);
  });

  it('starts the built-in workspace without ANTHROPIC_API_KEY, with a warning and no key', () => {
    const result = buildConfig({}, { GATEWAY_TOKEN: 'agw_t' });
    expect(result.ok ? result.warnings : []).toEqual([
      'workspaces.0.upstream_api_key: environment variable ANTHROPIC_API_KEY is not set',
    ]);
    expect(loaded(result).policy.workspaces.get('default')).toEqual({
      id: 'default',
      upstreamApiKey: undefined,
    });
    expect(loaded(buildConfig({}, ENV)).policy.workspaces.get('default')?.upstreamApiKey).toBe('sk-ant-test');
    const full = buildConfig({}, ENV);
    expect(full.ok ? full.warnings : ['not ok']).toEqual([]);
  });

  it('treats an empty environment variable as missing', () => {
    const list = problems(
      buildConfig({ workspaces: [workspace('default')] }, { ANTHROPIC_API_KEY: '', GATEWAY_TOKEN: 'agw_x' }),
    );
    expect(list).toEqual([
      'workspaces.0.upstream_api_key: environment variable ANTHROPIC_API_KEY is not set',
    ]);
    expect(problems(buildConfig({}, { ANTHROPIC_API_KEY: 'sk', GATEWAY_TOKEN: '' }))).toEqual([
      'tokens.0.env: environment variable GATEWAY_TOKEN is not set',
    ]);
  });
});

describe('buildConfig: tokens and workspaces', () => {
  it('accepts a token given as its SHA-256', () => {
    const sha256 = hashToken('agw_hashed').toString('hex');
    const { policy } = loaded(
      buildConfig(
        {
          workspaces: [workspace('w')],
          tokens: [{ id: 'hashed', workspace: 'w', sha256, models: ['claude-haiku-4-5'] }],
        },
        { ANTHROPIC_API_KEY: 'sk' },
      ),
    );
    const grant = verifyToken(policy.tokens, 'agw_hashed');
    expect(grant?.id).toBe('hashed');
    expect([...(grant?.models ?? [])]).toEqual(['claude-haiku-4-5']);
  });

  it('rejects a malformed sha256, and a token with both or neither of sha256 and env', () => {
    const sha256 = hashToken('x').toString('hex');
    const bad = [
      { id: 't', workspace: 'default', sha256: sha256.toUpperCase() },
      { id: 't', workspace: 'default', sha256: sha256.slice(1) },
      { id: 't', workspace: 'default', sha256, env: 'GATEWAY_TOKEN' },
      { id: 't', workspace: 'default' },
    ];
    for (const token of bad) {
      const list = problems(buildConfig({ tokens: [token] }, ENV));
      expect(list.length, JSON.stringify(token)).toBeGreaterThan(0);
      expect(
        list.every((p) => p.startsWith('tokens.0')),
        list.join('; '),
      ).toBe(true);
    }
  });

  it('rejects a token that references an unknown workspace', () => {
    const list = problems(
      buildConfig({ tokens: [{ id: 't', workspace: 'nope', env: 'GATEWAY_TOKEN' }] }, ENV),
    );
    expect(list).toEqual(['tokens.0.workspace: no workspace has id nope']);
  });

  it('rejects a models scope naming a non-Anthropic or unknown model', () => {
    const list = problems(
      buildConfig(
        {
          tokens: [
            {
              id: 't',
              workspace: 'default',
              env: 'GATEWAY_TOKEN',
              models: ['gpt-5', 'claude-9', 'claude-opus-4-8'],
            },
          ],
        },
        ENV,
      ),
    );
    expect(list).toEqual([
      'tokens.0.models: gpt-5 is not an Anthropic model of the catalog',
      'tokens.0.models: claude-9 is not an Anthropic model of the catalog',
    ]);
  });

  it('rejects duplicate workspace, token and catalog ids, and the same token twice', () => {
    const sha = hashToken('agw_same').toString('hex');
    const list = problems(
      buildConfig(
        {
          catalog: [
            { id: 'm', provider: 'anthropic', display_name: 'M' },
            { id: 'm', provider: 'anthropic', display_name: 'M again' },
          ],
          workspaces: [workspace('w'), workspace('w')],
          tokens: [
            { id: 't', workspace: 'w', sha256: sha },
            { id: 't', workspace: 'w', sha256: sha },
          ],
        },
        ENV,
      ),
    );
    expect(list).toContain('catalog: model ids must be unique');
    expect(list).toContain('workspaces.1.id: duplicate id w');
    expect(list).toContain('tokens.1.id: duplicate id t');
    expect(list).toContain('tokens: two entries have the same token');
  });

  it('reports every semantic problem together', () => {
    const list = problems(
      buildConfig(
        {
          workspaces: [workspace('w', 'MISSING_KEY')],
          tokens: [
            { id: 'a', workspace: 'other', env: 'MISSING_TOKEN' },
            { id: 'b', workspace: 'w', env: 'GATEWAY_TOKEN', models: ['gemini-2.5-pro'] },
          ],
        },
        ENV,
      ),
    );
    expect(list).toHaveLength(4);
    expect(list.some((p) => p.includes('MISSING_KEY'))).toBe(true);
    expect(list.some((p) => p.includes('MISSING_TOKEN'))).toBe(true);
    expect(list.some((p) => p.includes('no workspace has id other'))).toBe(true);
    expect(list.some((p) => p.includes('gemini-2.5-pro'))).toBe(true);
  });

  it('replaces the built-in catalog with the configured one', () => {
    const { policy } = loaded(
      buildConfig(
        {
          catalog: [
            { id: 'claude-custom', provider: 'anthropic', display_name: 'Custom' },
            { id: 'other', provider: 'openai', display_name: 'Other' },
          ],
        },
        ENV,
      ),
    );
    expect(policy.catalog.size).toBe(2);
    expect(checkModel(policy.catalog, 'claude-custom', undefined)).toBeUndefined();
    expect(checkModel(policy.catalog, 'claude-opus-4-8', undefined)?.message).toMatch(/^unknown model: /);
    expect(checkModel(policy.catalog, 'other', undefined)?.message).toBe(
      'model is not available on this endpoint',
    );
  });
});

describe('buildConfig: schema', () => {
  it('rejects unknown fields at every level', () => {
    for (const raw of [
      { extra: 1 },
      { listen: { port: 8080, extra: 1 } },
      { upstream: { url: 'https://api.anthropic.com', api_key: 'sk' } },
      { workspaces: [{ id: 'w', upstream_api_key: { env: 'X' }, extra: 1 }] },
      { workspaces: [{ id: 'w', upstream_api_key: { env: 'X', file: '/x' } }] },
      { tokens: [{ id: 't', workspace: 'default', env: 'GATEWAY_TOKEN', scope: ['x'] }] },
      { catalog: [{ id: 'm', provider: 'anthropic', display_name: 'M', extra: 1 }] },
    ]) {
      expect(buildConfig(raw, ENV).ok, JSON.stringify(raw)).toBe(false);
    }
  });

  it('names the path of each schema problem, all together', () => {
    const list = problems(
      buildConfig({ listen: { port: 70000 }, upstream: { url: 'ftp://x' }, log: { level: 'loud' } }, ENV),
    );
    expect(list.some((p) => p.startsWith('listen.port:'))).toBe(true);
    expect(list.some((p) => p.startsWith('upstream.url:'))).toBe(true);
    expect(list.some((p) => p.startsWith('log.level:'))).toBe(true);
  });

  it('rejects a document that is not an object', () => {
    for (const raw of ['text', 42, null, []]) {
      expect(problems(buildConfig(raw, ENV)).length, JSON.stringify(raw)).toBeGreaterThan(0);
    }
  });
});

describe('buildConfig: environment overrides', () => {
  it('GATEWAY_PORT and ANTHROPIC_UPSTREAM_URL override the file', () => {
    const { settings } = loaded(
      buildConfig(
        {
          listen: { address: '127.0.0.1', port: 1234 },
          upstream: { url: 'https://example.com', timeout_seconds: 30 },
        },
        { ...ENV, GATEWAY_PORT: '9000', ANTHROPIC_UPSTREAM_URL: 'http://127.0.0.1:8081' },
      ),
    );
    expect(settings.listen).toMatchObject({ address: '127.0.0.1', port: 9000 });
    expect(settings.upstream.url).toBe('http://127.0.0.1:8081');
    expect(settings.upstream.timeout_seconds).toBe(30);
  });

  it('the other overrides apply too, and an empty variable is ignored', () => {
    const { settings } = loaded(
      buildConfig(
        {},
        {
          ...ENV,
          GATEWAY_ADMIN_PORT: '9902',
          GATEWAY_PROCESSOR_ADDRESS: 'unix:/tmp/p.sock',
          LOG_LEVEL: 'debug',
          GATEWAY_PORT: '',
        },
      ),
    );
    expect(settings.admin).toEqual({ address: '127.0.0.1', port: 9902 });
    expect(formatAddress(settings.processor.address)).toBe('unix:/tmp/p.sock');
    expect(settings.log.level).toBe('debug');
    expect(settings.listen.port).toBe(8080);
  });

  it('rejects a non-numeric GATEWAY_PORT', () => {
    expect(
      problems(buildConfig({}, { ...ENV, GATEWAY_PORT: 'eighty' })).some((p) => p.startsWith('listen.port')),
    ).toBe(true);
  });
});

describe('buildConfig: secrets from files', () => {
  it('reads a workspace key from a file, ignoring one trailing newline', () => {
    const path = join(dir, 'anthropic-key');
    writeFileSync(path, 'sk-ant-from-file\n');
    const crlf = join(dir, 'anthropic-key-crlf');
    writeFileSync(crlf, 'sk-ant-crlf\r\n');
    const { policy } = loaded(
      buildConfig(
        {
          workspaces: [
            { id: 'a', upstream_api_key: { file: path } },
            { id: 'b', upstream_api_key: { file: crlf } },
          ],
          tokens: [{ id: 't', workspace: 'a', env: 'GATEWAY_TOKEN' }],
        },
        { GATEWAY_TOKEN: 'agw_t' },
      ),
    );
    expect(policy.workspaces.get('a')?.upstreamApiKey).toBe('sk-ant-from-file');
    expect(policy.workspaces.get('b')?.upstreamApiKey).toBe('sk-ant-crlf');
  });

  it('reports an empty or missing secret file', () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    const missing = join(dir, 'does-not-exist');
    const list = problems(
      buildConfig(
        {
          workspaces: [
            { id: 'a', upstream_api_key: { file: empty } },
            { id: 'b', upstream_api_key: { file: missing } },
          ],
          tokens: [{ id: 't', workspace: 'a', env: 'GATEWAY_TOKEN' }],
        },
        ENV,
      ),
    );
    expect(list).toEqual([
      `workspaces.0.upstream_api_key: file ${empty} is empty`,
      `workspaces.1.upstream_api_key: cannot read ${missing}: ENOENT`,
    ]);
  });
});

describe('loadConfig', () => {
  it('reads a YAML file named by GATEWAY_CONFIG', () => {
    const path = join(dir, 'gateway.yaml');
    writeFileSync(path, 'listen:\n  port: 8443\nlimits:\n  max_request_body_bytes: 1048576\n');
    const { settings } = loaded(loadConfig({ ...ENV, GATEWAY_CONFIG: path }));
    expect(settings.listen.port).toBe(8443);
    expect(settings.limits.max_request_body_bytes).toBe(1048576);
  });

  it('treats an empty file as defaults', () => {
    const path = join(dir, 'empty.yaml');
    writeFileSync(path, '');
    expect(loaded(loadConfig(ENV, path)).settings.listen.port).toBe(8080);
  });

  it('reports an unreadable or malformed file', () => {
    expect(problems(loadConfig(ENV, join(dir, 'missing.yaml')))[0]).toContain('missing.yaml');
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'listen: [unclosed\n');
    expect(problems(loadConfig(ENV, path))[0]).toContain('bad.yaml');
  });
});

describe('limits.max_request_body_bytes', () => {
  it('refuses a limit below 1 MiB, which Envoy would not enforce', () => {
    const result = buildConfig(
      { limits: { max_request_body_bytes: 1024 } },
      { ANTHROPIC_API_KEY: 'sk-ant-x', GATEWAY_TOKEN: 'agw_x' },
    );
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems.join('\n')).toContain('limits.max_request_body_bytes');
  });
});

describe('buildConfig: the admin interface', () => {
  it('is on a Unix socket by default, with no warning', () => {
    const result = buildConfig({}, ENV);
    expect(loaded(result).settings.admin).toEqual({ address: '127.0.0.1' });
    expect(result.ok ? result.warnings : ['not ok']).toEqual([]);
  });

  it('goes on TCP only when a port is chosen (file or GATEWAY_ADMIN_PORT), with a warning', () => {
    for (const [raw, env] of [
      [{ admin: { port: 9901 } }, ENV],
      [{}, { ...ENV, GATEWAY_ADMIN_PORT: '9901' }],
    ] as const) {
      const result = buildConfig(raw, env);
      expect(loaded(result).settings.admin).toEqual({ address: '127.0.0.1', port: 9901 });
      expect(result.ok ? result.warnings : []).toEqual([
        expect.stringMatching(/^admin\.port: .*TCP 127\.0\.0\.1:9901, without authentication.*log/),
      ]);
    }
  });

  it('refuses a socket and a port together', () => {
    expect(problems(buildConfig({ admin: { socket: '/run/gateway/admin.sock', port: 9901 } }, ENV))).toEqual([
      'admin: give socket or port (TCP), not both',
    ]);
  });
});
