// Claude Code (`claude -p`, the pinned @anthropic-ai/claude-code) through the
// real Envoy, as a new user runs it: only ANTHROPIC_BASE_URL pointing at the
// gateway and a key, no model chosen, so Claude Code asks for its own default
// (which the built-in catalog must serve). A recording
// proxy in front of Envoy sees exactly what Claude Code sent (it is a native
// binary: no hook inside it), and the fake upstream what arrived: the same body
// bytes, the anthropic-beta values, the ?beta=true query, the workspace key in
// place of the gateway token.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG } from '../../processor/config/default-catalog.ts';
import { answerClaudeCode, claudeCodeVersion, OFFLINE_ENV, runClaudeCode } from '../support/claude-code.ts';
import { claudeCodeModels } from '../support/client-models.ts';
import type { ReceivedRequest } from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, type GatewayStack, startStack, UPSTREAM_KEY } from '../support/gateway-stack.ts';
import { type Exchange, type RecordingProxy, startRecordingProxy } from '../support/recording-proxy.ts';

const ANSWER = 'PONG from the fake upstream via the gateway';
/** What the pinned Claude Code defaults to, read from its own bundle. */
const DEFAULT_MODELS = new Set(claudeCodeModels().defaults);
const SERVED = new Set(DEFAULT_CATALOG.filter((m) => m.provider === 'anthropic').map((m) => m.id));
const PINNED = (
  JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  }
).devDependencies['@anthropic-ai/claude-code'];

let stack: GatewayStack;
let proxy: RecordingProxy;

const claudeCodeResponder = answerClaudeCode(ANSWER);

beforeAll(async () => {
  stack = await startStack();
  proxy = await startRecordingProxy(stack.origin);
});
afterAll(async () => {
  await proxy?.close();
  await stack?.stop();
});
beforeEach(() => {
  stack.upstream.reset();
  stack.upstream.useDefault(claudeCodeResponder);
  proxy.exchanges.length = 0;
});

const baseUrl = () => `${proxy.origin}/ai-gateway/anthropic`;
const values = (headers: ReadonlyArray<readonly [string, string]> | undefined, name: string) =>
  (headers ?? []).filter(([key]) => key === name).map(([, value]) => value);

/** Every Messages request Claude Code sent went through the gateway unchanged but for the credential. */
function expectForwardedUnchanged(): { posts: Exchange[]; received: ReceivedRequest[] } {
  const posts = proxy.exchanges.filter((exchange) => exchange.method === 'POST');
  const received = stack.upstream.received;
  expect(posts.length).toBeGreaterThan(0);
  expect(posts.map((exchange) => exchange.status)).toEqual(posts.map(() => 200));
  expect(received).toHaveLength(posts.length);
  for (const [i, sent] of posts.entries()) {
    const arrived = received[i] as ReceivedRequest;
    // The query string kept, the prefix stripped.
    expect(sent.url).toBe('/ai-gateway/anthropic/v1/messages?beta=true');
    expect(arrived.url).toBe('/v1/messages?beta=true');
    // The body byte for byte (Claude Code's are tens of KB: system prompt, tools).
    expect(sent.requestLength).toBeGreaterThan(10_000);
    expect(arrived.sha256).toBe(sent.requestSha256);
    // Claude Code's own default model, which the built-in catalog serves.
    const { model } = JSON.parse(arrived.body.toString()) as { model: string };
    expect(DEFAULT_MODELS.has(model), model).toBe(true);
    expect(SERVED.has(model), model).toBe(true);
    // anthropic-beta intact: several comma-separated betas, Claude Code's own among them.
    const betas = values(sent.requestHeaders, 'anthropic-beta');
    expect(betas.join(',')).toContain('claude-code-20250219');
    expect(values(arrived.headers, 'anthropic-beta')).toEqual(betas);
    expect(values(arrived.headers, 'anthropic-version')).toEqual(
      values(sent.requestHeaders, 'anthropic-version'),
    );
    expect(values(arrived.headers, 'user-agent')[0]).toMatch(/^claude-cli\//);
    // The workspace key replaced the gateway token; nothing else of Claude Code's went up.
    expect(values(arrived.headers, 'x-api-key')).toEqual([UPSTREAM_KEY]);
    expect(values(arrived.headers, 'authorization')).toEqual([]);
    expect(arrived.body.toString()).not.toContain(GATEWAY_TOKEN);
    expect(arrived.headers.some(([name]) => name.startsWith('x-stainless') || name === 'x-app')).toBe(false);
  }
  return { posts, received };
}

describe('Claude Code', () => {
  it('is the pinned version, run from its npm package', async () => {
    expect(PINNED).toMatch(/^\d+\.\d+\.\d+$/);
    expect(await claudeCodeVersion()).toBe(`${PINNED} (Claude Code)`);
  });

  it('answers through the gateway with ANTHROPIC_API_KEY (sent as x-api-key)', async () => {
    const run = await runClaudeCode(
      {
        ...OFFLINE_ENV,
        ANTHROPIC_BASE_URL: baseUrl(),
        ANTHROPIC_API_KEY: GATEWAY_TOKEN,
      },
      ['-p', 'Reply with PONG'],
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(ANSWER);
    const { posts } = expectForwardedUnchanged();
    for (const sent of posts) {
      expect(values(sent.requestHeaders, 'x-api-key')).toEqual([GATEWAY_TOKEN]);
      expect(values(sent.requestHeaders, 'authorization')).toEqual([]);
    }
    // With nonessential traffic off, Claude Code sends nothing but Messages requests.
    expect(proxy.exchanges.every((exchange) => exchange.method === 'POST')).toBe(true);
  });

  it('answers through the gateway with ANTHROPIC_AUTH_TOKEN (sent as Authorization: Bearer)', async () => {
    const run = await runClaudeCode(
      {
        ...OFFLINE_ENV,
        ANTHROPIC_BASE_URL: baseUrl(),
        ANTHROPIC_AUTH_TOKEN: GATEWAY_TOKEN,
      },
      ['-p', 'Reply with PONG'],
    );
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(ANSWER);
    const { posts } = expectForwardedUnchanged();
    for (const sent of posts) {
      expect(values(sent.requestHeaders, 'authorization')).toEqual([`Bearer ${GATEWAY_TOKEN}`]);
      expect(values(sent.requestHeaders, 'x-api-key')).toEqual([]);
    }
  });

  it('its HEAD probe of the base URL gets 200 with no body, and never reaches the upstream', async () => {
    // The preconnect probe is "nonessential traffic": it is sent only without
    // CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC. --strict-mcp-config and the two
    // DISABLE_* keep this run from reaching anything but the base URL.
    const run = await runClaudeCode(
      {
        DISABLE_TELEMETRY: '1',
        DISABLE_AUTOUPDATER: '1',
        DISABLE_ERROR_REPORTING: '1',
        ANTHROPIC_BASE_URL: baseUrl(),
        ANTHROPIC_API_KEY: GATEWAY_TOKEN,
      },
      ['-p', 'Reply with PONG', '--strict-mcp-config'],
    );
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(ANSWER);
    const probes = proxy.exchanges.filter((exchange) => exchange.method === 'HEAD');
    expect(probes.map((probe) => probe.url)).toEqual(['/ai-gateway/anthropic/api/hello']);
    const [probe] = probes;
    // Claude Code does not wait for it; the proxy may still be relaying the answer.
    await expect.poll(() => probe?.responseLength, { timeout: 5_000 }).toBe(0);
    expect(probe?.status).toBe(200);
    // Sent without a credential, answered by the gateway itself.
    expect(values(probe?.requestHeaders, 'x-api-key')).toEqual([]);
    expect(values(probe?.requestHeaders, 'authorization')).toEqual([]);
    expect(values(probe?.responseHeaders, 'request-id')).toHaveLength(1);
    expect(stack.upstream.received.every((request) => request.method === 'POST')).toBe(true);
    expectForwardedUnchanged();
  });

  it('a wrong token fails at once with the gateway message (x-should-retry: false), upstream untouched', async () => {
    const run = await runClaudeCode(
      {
        ...OFFLINE_ENV,
        ANTHROPIC_BASE_URL: baseUrl(),
        ANTHROPIC_API_KEY: 'agw_not_a_token',
      },
      ['-p', 'Reply with PONG'],
    );
    expect(run.code).not.toBe(0);
    expect(`${run.stdout}${run.stderr}`).toContain('401 invalid or missing credential');
    // One attempt: without the header, Claude Code 2.1.330 retried a 401 ten times over minutes.
    expect(proxy.exchanges.map((exchange) => exchange.status)).toEqual([401]);
    expect(values(proxy.exchanges[0]?.responseHeaders, 'x-should-retry')).toEqual(['false']);
    expect(stack.upstream.received).toEqual([]);
  });

  it('a model outside the catalog gets a clear error, and nothing reaches the upstream', async () => {
    const run = await runClaudeCode(
      {
        ...OFFLINE_ENV,
        ANTHROPIC_BASE_URL: baseUrl(),
        ANTHROPIC_API_KEY: GATEWAY_TOKEN,
        ANTHROPIC_MODEL: 'claude-not-in-the-catalog',
      },
      ['-p', 'Reply with PONG'],
    );
    expect(run.code).not.toBe(0);
    // The product page's text, then the id Claude Code asked for.
    expect(`${run.stdout}${run.stderr}`).toContain('unknown model: "claude-not-in-the-catalog"');
    expect(proxy.exchanges.length).toBeGreaterThan(0);
    expect(proxy.exchanges.map((exchange) => exchange.status)).toEqual(proxy.exchanges.map(() => 400));
    expect(stack.upstream.received).toEqual([]);
  });
});
