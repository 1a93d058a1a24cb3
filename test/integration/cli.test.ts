// The operator CLI as a process (`npm run cli -- ...`): mint-token shows a new
// token once and the configuration entry that stores only its SHA-256; that
// entry, pasted into a configuration, admits exactly that token.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildConfig } from '../../processor/config/load.ts';
import { verifyToken } from '../../processor/policy/tokens.ts';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../processor/cli.ts');

function cli(args: readonly string[], input = '') {
  const run = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const TOKEN = /agw_[A-Za-z0-9_-]+/g;

describe('mint-token', () => {
  const run = cli(['mint-token', '--id', 'alice', '--workspace', 'research']);
  const tokens = run.stdout.match(TOKEN) ?? [];
  const token = tokens[0] ?? '';

  it('prints one new token, once, with 32 bytes of entropy', () => {
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    expect(tokens).toHaveLength(1);
    expect(token).toMatch(/^agw_[A-Za-z0-9_-]{43}$/);
    expect(run.stdout.split(token)).toHaveLength(2);
  });

  it('prints a configuration entry that holds only the token’s SHA-256', () => {
    const entryText = run.stdout.slice(run.stdout.indexOf('  - id:'));
    expect(entryText).not.toContain(token);
    expect(parseYaml(entryText)).toEqual([
      { id: 'alice', workspace: 'research', sha256: createHash('sha256').update(token).digest('hex') },
    ]);
  });

  it('that entry, in a configuration, admits the token and nothing else', () => {
    const entries = parseYaml(run.stdout.slice(run.stdout.indexOf('  - id:'))) as unknown[];
    const loaded = buildConfig(
      { workspaces: [{ id: 'research', upstream_api_key: { env: 'KEY' } }], tokens: entries },
      { KEY: 'sk-ant-research-key' },
    );
    if (!loaded.ok) throw new Error(loaded.problems.join('; '));
    const { tokens: index } = loaded.config.policy;
    expect(verifyToken(index, token)).toMatchObject({ id: 'alice', workspace: 'research' });
    expect(verifyToken(index, `${token}x`)).toBeUndefined();
    expect(verifyToken(index, token.slice(0, -1))).toBeUndefined();
    // Only the digest is held in memory too.
    expect(
      JSON.stringify(
        [...index.values()].map((stored) => ({ ...stored, sha256: stored.sha256.toString('hex') })),
      ),
    ).not.toContain(token);
  });

  it('mints a different token each time', () => {
    const again = cli(['mint-token']).stdout.match(TOKEN)?.[0];
    expect(again).toMatch(/^agw_/);
    expect(again).not.toBe(token);
  });

  it('hash-token prints the same digest for a token read on stdin, and refuses an empty one', () => {
    const hashed = cli(['hash-token'], `${token}\n`);
    expect(hashed.status).toBe(0);
    expect(hashed.stdout).toBe(`${createHash('sha256').update(token).digest('hex')}\n`);
    expect(hashed.stdout).not.toContain(token);
    const empty = cli(['hash-token'], '\n');
    expect(empty.status).toBe(2);
    expect(empty.stderr).toContain('no token on stdin');
  });

  it('an unknown command prints the usage and fails', () => {
    const unknown = cli(['steal-token']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('usage: npm run cli');
  });
});
