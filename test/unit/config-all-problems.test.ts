// One look at a bad configuration lists every problem: those of the schema and
// those found across entries (references, secrets), without echoes of the
// former.
import { describe, expect, it } from 'vitest';
import { buildConfig, type Environment, type LoadResult } from '../../processor/config/load.ts';
import { hashToken } from '../../processor/policy/tokens.ts';

const ENV: Environment = { ANTHROPIC_API_KEY: 'sk-ant-test', GATEWAY_TOKEN: 'agw_test_token' };
const DIGEST = hashToken('agw_some_token').toString('hex');

function problems(result: LoadResult): readonly string[] {
  if (result.ok) throw new Error('expected problems, got a configuration');
  return result.problems;
}

describe('buildConfig: every problem at once', () => {
  it('lists schema problems and the problems across entries together', () => {
    const list = problems(
      buildConfig(
        {
          listen: { port: 'eighty' },
          workspaces: [{ id: 'research', upstream_api_key: { env: 'RESEARCH_KEY' } }],
          tokens: [
            { id: 'alice', workspace: 'nowhere', sha256: DIGEST },
            { id: 'bob', workspace: 'research', sha256: 'not-hex' },
            { id: 'carol', workspace: 'research', env: 'CAROL_TOKEN', models: ['gpt-4o'] },
          ],
        },
        ENV,
      ),
    );
    expect(list).toEqual([
      'listen.port: Invalid input: expected number, received string',
      'tokens.1.sha256: must be 64 lower-case hex digits (SHA-256)',
      'workspaces.0.upstream_api_key: environment variable RESEARCH_KEY is not set',
      'tokens.0.workspace: no workspace has id nowhere',
      'tokens.2.models: gpt-4o is not an Anthropic model of the catalog',
      'tokens.2.env: environment variable CAROL_TOKEN is not set',
    ]);
  });

  it('checks the rest of an entry or a section whose field failed the schema, in the same pass', () => {
    const list = problems(
      buildConfig(
        {
          workspaces: [
            { id: 'research', upstream_api_key: { env: 'RESEARCH_KEY' }, quota: { tokens_per_day: -5 } },
          ],
          tokens: [
            { id: 'alice', workspace: 'nowhere', sha256: 'abc', models: ['gpt-9'] },
            { id: 'bob', workspace: 'research', env: 'BOB_TOKEN', quota: { rpm: 5 } },
          ],
          catalog: [{ id: 'claude-x', provider: 'anthropic', display_name: 'X', created_at: 'soon' }],
          quotas: { store: 'redis', redis: { url: { env: 'REDIS_URL' } }, fail_open: 'maybe' },
        },
        ENV,
      ),
    );
    expect(list).toEqual([
      'quotas.fail_open: Invalid input: expected boolean, received string',
      expect.stringMatching(/^catalog\.0\.created_at: /),
      'workspaces.0.quota.tokens_per_day: Too small: expected number to be >0',
      'tokens.0.sha256: must be 64 lower-case hex digits (SHA-256)',
      'tokens.1.quota: Unrecognized key: "rpm"',
      // Found across entries, though each entry (or section) also failed the schema:
      'workspaces.0.upstream_api_key: environment variable RESEARCH_KEY is not set',
      'tokens.0.workspace: no workspace has id nowhere',
      'tokens.0.models: gpt-9 is not an Anthropic model of the catalog',
      'tokens.1.env: environment variable BOB_TOKEN is not set',
      'quotas.redis.url: environment variable REDIS_URL is not set',
    ]);
  });

  it('names entries by their index in the file, even after an entry that failed the schema', () => {
    const list = problems(
      buildConfig(
        {
          tokens: [
            { id: 'broken', workspace: 'default' },
            { id: 'dup', workspace: 'default', sha256: DIGEST },
            { id: 'dup', workspace: 'default', env: 'GATEWAY_TOKEN' },
          ],
        },
        ENV,
      ),
    );
    expect(list).toEqual(['tokens.0: give exactly one of sha256 or env', 'tokens.2.id: duplicate id dup']);
  });

  it('does not report a reference to an entry that failed the schema a second time', () => {
    const list = problems(
      buildConfig(
        {
          workspaces: [{ id: 'research', upstream_api_key: { vault: 'kv/research' } }],
          catalog: [
            { id: 'claude-sonnet-4-6', provider: 'anthropic', display_name: 'Claude Sonnet 4.6' },
            { id: 'claude-new', provider: 'anthropic' },
          ],
          tokens: [{ id: 'alice', workspace: 'research', sha256: DIGEST, models: ['claude-new'] }],
        },
        ENV,
      ),
    );
    expect(list).toHaveLength(2);
    expect(list).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^workspaces\.0\.upstream_api_key: /),
        expect.stringMatching(/^catalog\.1\.display_name: /),
      ]),
    );
  });

  it('skips checks that depend on a whole list that is unusable', () => {
    const list = problems(
      buildConfig(
        { workspaces: 'research', tokens: [{ id: 'alice', workspace: 'research', sha256: DIGEST }] },
        ENV,
      ),
    );
    expect(list).toEqual(['workspaces: Invalid input: expected array, received string']);
  });

  it('reports only the root problem when the file is not an object', () => {
    expect(problems(buildConfig(['a', 'list'], ENV))).toEqual([
      '(root): Invalid input: expected object, received array',
    ]);
  });

  it('still loads a valid configuration unchanged', () => {
    const result = buildConfig(
      { tokens: [{ id: 'alice', workspace: 'default', sha256: DIGEST, models: ['claude-haiku-4-5'] }] },
      ENV,
    );
    expect(result.ok).toBe(true);
  });
});
