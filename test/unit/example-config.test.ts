// docs/gateway.example.yaml is what the README points operators to: it must load.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildConfig } from '../../processor/config/load.ts';

describe('docs/gateway.example.yaml', () => {
  it("is a valid configuration with the README's two exports alone", () => {
    const text = readFileSync(new URL('../../docs/gateway.example.yaml', import.meta.url), 'utf8');
    const result = buildConfig(parse(text), {
      ANTHROPIC_API_KEY: 'sk-ant-research',
      GATEWAY_TOKEN: 'agw_ci',
    });
    expect(result.ok ? [] : result.problems).toEqual([]);
    if (!result.ok) return;
    expect(result.config.policy.workspaces.get('support')?.upstreamApiKey).toBe('sk-ant-research');
    expect([...result.config.policy.tokens.values()].map((token) => token.id).sort()).toEqual([
      'alice',
      'ci',
      'support-bot',
    ]);
    expect(result.config.policy.catalog.get('gpt-4o')?.provider).toBe('openai');
  });

  it('shows the file form of a secret, for production', () => {
    const text = readFileSync(new URL('../../docs/gateway.example.yaml', import.meta.url), 'utf8');
    expect(text).toContain('upstream_api_key: { file: /run/secrets/anthropic_support_key }');
  });
});
