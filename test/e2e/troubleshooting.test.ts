// What docs/troubleshooting.md says Claude Code prints, as the pinned Claude
// Code prints it through the real Envoy: a base URL without the gateway's
// prefix, or ending in /v1, shows as a model problem (Claude Code reads a 404
// as a missing model) while the gateway answered 404 wrong_base_url; an
// unknown model and an unknown token show the gateway's message. Each line is
// read from the page and must appear, whole, in Claude Code's output; nothing
// reaches the upstream.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OFFLINE_ENV, runClaudeCode } from '../support/claude-code.ts';
import { GATEWAY_TOKEN, useStack } from '../support/gateway-stack.ts';

const page = readFileSync(resolve(import.meta.dirname, '../../docs/troubleshooting.md'), 'utf8');
/** The page's line that starts with `start`. */
function quoted(start: string): string {
  const line = page.split('\n').find((candidate) => candidate.startsWith(start));
  if (line === undefined) throw new Error(`docs/troubleshooting.md has no line starting ${start}`);
  return line;
}

const stack = useStack();

async function claude(env: Record<string, string>) {
  const run = await runClaudeCode({ ...OFFLINE_ENV, ANTHROPIC_API_KEY: GATEWAY_TOKEN, ...env }, [
    '-p',
    'Reply with PONG',
  ]);
  expect(run.code).not.toBe(0);
  expect(stack.upstream.received).toEqual([]);
  return run.stdout.split('\n').concat(run.stderr.split('\n'));
}

describe('docs/troubleshooting.md: what Claude Code prints', () => {
  const wrongBaseUrl = quoted("There's an issue with the selected model");

  it('for a base URL without the prefix: a model problem, from a 404 that names the base URL', async () => {
    const lines = await claude({ ANTHROPIC_BASE_URL: stack.origin });
    expect(lines).toContain(wrongBaseUrl);
    const [entry] = await stack.waitForLog((e) => e.msg === 'access' && e.reason === 'wrong_base_url');
    expect(entry).toMatchObject({ status: 404 });
  });

  it('for a base URL ending in /v1: the same', async () => {
    const lines = await claude({ ANTHROPIC_BASE_URL: `${stack.baseUrl}/v1` });
    expect(lines).toContain(wrongBaseUrl);
  });

  it('for a model outside the catalog: the gateway’s message', async () => {
    const lines = await claude({ ANTHROPIC_BASE_URL: stack.baseUrl, ANTHROPIC_MODEL: 'claude-sonnet-9-9' });
    expect(lines).toContain(quoted('API Error: 400 unknown model: "claude-sonnet-9-9"'));
  });

  it('for a token the gateway does not know', async () => {
    const lines = await claude({
      ANTHROPIC_BASE_URL: stack.baseUrl,
      ANTHROPIC_API_KEY: 'agw_a_previous_run',
    });
    expect(lines).toContain(quoted('Failed to authenticate.'));
  });
});
