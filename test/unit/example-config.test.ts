// docs/gateway.example.yaml is what the README points operators to: it must load.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildConfig } from '../../processor/config/load.ts';

describe('docs/gateway.example.yaml', () => {
  it('is a valid configuration once its secrets exist', () => {
    const secretFile = join(mkdtempSync(join(tmpdir(), 'example-config-')), 'key');
    writeFileSync(secretFile, 'sk-ant-support\n');
    const text = readFileSync(new URL('../../docs/gateway.example.yaml', import.meta.url), 'utf8').replace(
      '/run/secrets/anthropic_support_key',
      secretFile,
    );
    const result = buildConfig(parse(text), {
      ANTHROPIC_API_KEY: 'sk-ant-research',
      CI_GATEWAY_TOKEN: 'agw_ci',
    });
    expect(result.ok ? [] : result.problems).toEqual([]);
    if (!result.ok) return;
    expect(result.config.policy.workspaces.get('support')?.upstreamApiKey).toBe('sk-ant-support');
    expect([...result.config.policy.tokens.values()].map((token) => token.id).sort()).toEqual([
      'alice',
      'ci',
      'support-bot',
    ]);
    expect(result.config.policy.catalog.get('gpt-4o')?.provider).toBe('openai');
  });
});
