// mint-token, beyond what cli.test.ts checks: the token carries 32 bytes of
// entropy and appears once in the output, and the entry it prints, in a
// configuration, admits exactly that token (a neighbour of it is refused).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildConfig } from '../../processor/config/load.ts';
import { verifyToken } from '../../processor/policy/tokens.ts';

const CLI = join(import.meta.dirname, '../../processor/cli.ts');

describe('mint-token', () => {
  const run = spawnSync(process.execPath, [CLI, 'mint-token', '--id', 'alice', '--workspace', 'research'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  const tokens = run.stdout.match(/agw_[A-Za-z0-9_-]+/g) ?? [];
  const token = tokens[0] ?? '';

  it('prints one token, once, with 32 bytes of entropy', () => {
    expect(run.status).toBe(0);
    expect(tokens).toEqual([token]);
    expect(token).toMatch(/^agw_[A-Za-z0-9_-]{43}$/);
  });

  it('prints an entry that admits exactly that token, holding only its digest', () => {
    const entries = parseYaml(run.stdout.slice(run.stdout.indexOf('  - id:'))) as unknown[];
    const loaded = buildConfig(
      { workspaces: [{ id: 'research', upstream_api_key: { env: 'KEY' } }], tokens: entries },
      { KEY: 'sk-ant-research-key' },
    );
    if (!loaded.ok) throw new Error(loaded.problems.join('; '));
    const index = loaded.config.policy.tokens;
    expect(verifyToken(index, token)).toMatchObject({ id: 'alice', workspace: 'research' });
    for (const neighbour of [`${token}x`, token.slice(0, -1), token.toUpperCase(), ` ${token}`]) {
      expect(verifyToken(index, neighbour)).toBeUndefined();
    }
    const held = JSON.stringify([...index.values()].map((stored) => stored.sha256.toString('hex')));
    expect(held).not.toContain(token);
  });
});
