// The operator CLI (processor/cli.ts) run as an operator runs it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { hashToken } from '../../processor/policy/tokens.ts';

const CLI = join(import.meta.dirname, '../../processor/cli.ts');
const dir = mkdtempSync(join(tmpdir(), 'gateway-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: readonly string[], options: { env?: Record<string, string>; input?: string } = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', ...options.env },
    input: options.input ?? '',
    encoding: 'utf8',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('check-config', () => {
  it('accepts a valid file', () => {
    const path = file(
      'ok.yaml',
      'workspaces:\n  - id: research\n    upstream_api_key: { env: RESEARCH_KEY }\n' +
        `tokens:\n  - id: alice\n    workspace: research\n    sha256: ${hashToken('agw_a').toString('hex')}\n`,
    );
    const result = cli(['check-config', path], { env: { RESEARCH_KEY: 'sk-ant-x' } });
    expect(result).toMatchObject({ code: 0, stdout: 'configuration OK\n', stderr: '' });
  });

  it('lists every problem of a file, schema and references alike, and exits 1', () => {
    const path = file(
      'bad.yaml',
      [
        'listen: { port: 80000 }',
        'upstream: { url: ftp://example.com }',
        'workspaces:',
        '  - id: research',
        '    upstream_api_key: { env: RESEARCH_KEY }',
        'tokens:',
        '  - { id: alice, workspace: nowhere, env: ALICE_TOKEN }',
        '  - { id: bob, workspace: research, sha256: abc }',
        '',
      ].join('\n'),
    );
    const result = cli(['check-config', path]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^problem: listen\.port: /),
      expect.stringMatching(/^problem: upstream\.url: /),
      expect.stringMatching(/^problem: tokens\.1\.sha256: /),
      'problem: workspaces.0.upstream_api_key: environment variable RESEARCH_KEY is not set',
      'problem: tokens.0.workspace: no workspace has id nowhere',
      'problem: tokens.0.env: environment variable ALICE_TOKEN is not set',
    ]);
  });

  it('reads GATEWAY_CONFIG when no file is named, and reports a file it cannot read', () => {
    const missing = join(dir, 'missing.yaml');
    const result = cli(['check-config'], { env: { GATEWAY_CONFIG: missing } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`problem: ${missing}: ENOENT`);
  });

  it('reports YAML that does not parse', () => {
    const result = cli(['check-config', file('broken.yaml', 'tokens: [unclosed\n')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^problem: .*broken\.yaml: /);
  });
});

describe('mint-token', () => {
  it('prints a new token once and a configuration entry holding only its hash', () => {
    const result = cli(['mint-token', '--id', 'alice', '--workspace', 'research']);
    expect(result.code).toBe(0);
    const token = /token \(shown once, give it to the client\): (\S+)/.exec(result.stdout)?.[1];
    if (token === undefined) throw new Error(`no token in ${result.stdout}`);
    const entryText = result.stdout.slice(result.stdout.indexOf('  - id:'));
    expect(entryText).not.toContain(token);
    const [entry] = parseYaml(entryText) as Array<Record<string, string>>;
    expect(entry).toEqual({ id: 'alice', workspace: 'research', sha256: hashToken(token).toString('hex') });

    // The entry, pasted into a configuration, checks out.
    const path = file(
      'minted.yaml',
      `workspaces:\n  - id: research\n    upstream_api_key: { env: RESEARCH_KEY }\ntokens:\n${entryText}`,
    );
    expect(cli(['check-config', path], { env: { RESEARCH_KEY: 'sk-ant-x' } }).code).toBe(0);
  });

  it('mints a different token each time', () => {
    const first = cli(['mint-token']).stdout;
    const second = cli(['mint-token']).stdout;
    expect(first).not.toBe(second);
  });
});

describe('hash-token and usage', () => {
  it('hashes a token read on stdin', () => {
    const result = cli(['hash-token'], { input: 'agw_stdin_token\n' });
    expect(result).toMatchObject({ code: 0, stdout: `${hashToken('agw_stdin_token').toString('hex')}\n` });
    expect(cli(['hash-token'], { input: '' }).code).toBe(2);
  });

  it('prints its usage for an unknown command', () => {
    const result = cli(['launch']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('check-config');
  });
});

describe('--help and bad command lines, as the real process', () => {
  it('--help prints the usage on stdout and exits 0, for the CLI and each command', () => {
    const top = cli(['--help']);
    expect(top).toMatchObject({ code: 0, stderr: '' });
    expect(top.stdout).toMatch(/^usage: npm run cli -- <command>/);
    for (const command of ['mint-token', 'hash-token', 'check-config', 'reload']) {
      const result = cli([command, '--help']);
      expect(result, command).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toMatch(new RegExp(`^usage: npm run cli -- ${command}`));
    }
  });

  it('a bad flag or argument gets one line and the usage, exit 2, never a stack trace', () => {
    for (const args of [
      ['--help=1'],
      ['mint-token', '--nope'],
      ['check-config', 'a', 'b'],
      ['reload', '--pid'],
    ]) {
      const result = cli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^cli: .+\n(usage: npm run cli -- .+\n)+/);
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(result.stderr).not.toContain('node:internal');
    }
  });
});
