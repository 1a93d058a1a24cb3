// Live configuration through the real Envoy: the processor picks up a changed
// configuration file (tokens, workspaces, catalog) and, on SIGHUP, a rotated
// secret file, without a restart; a bad file changes nothing.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashToken, mintToken } from '../../processor/policy/tokens.ts';
import { type GatewayStack, type LogEntry, seedRequest, startStack } from '../support/gateway-stack.ts';

const ALICE = mintToken();
const BOB = mintToken();
const FIRST_KEY = 'sk-ant-live-first-key-0123456789';
const ROTATED_KEY = 'sk-ant-live-rotated-key-9876543210';

let stack: GatewayStack;
let keyFile: string;

const token = (id: string, value: string, extra: Record<string, unknown> = {}) => ({
  id,
  workspace: 'research',
  sha256: hashToken(value).toString('hex'),
  ...extra,
});

function configWith(tokens: unknown[], extra: Record<string, unknown> = {}) {
  return { workspaces: [{ id: 'research', upstream_api_key: { file: keyFile } }], tokens, ...extra };
}

function send(apiKey: string, model = 'claude-sonnet-4-6') {
  return fetch(`${stack.baseUrl}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify(seedRequest(model)),
  });
}

async function status(apiKey: string, model?: string): Promise<number> {
  const response = await send(apiKey, model);
  await response.arrayBuffer();
  return response.status;
}

/** Runs `change`, then waits for the processor's next log entry with message `msg`. */
async function changeAndWaitFor(change: () => void, msg: string): Promise<LogEntry> {
  const match = (entry: LogEntry) => entry.msg === msg;
  const before = stack.logged(match).length;
  change();
  return vi.waitFor(
    () => {
      const next = stack.logged(match)[before];
      if (next === undefined) throw new Error(`no new "${msg}" log entry`);
      return next;
    },
    { timeout: 10_000, interval: 50 },
  );
}

beforeAll(async () => {
  // The key file lives beside the configuration file, in the stack's own folder.
  stack = await startStack({ config: {} });
  keyFile = join(dirname(stack.configPath), 'research.key');
  writeFileSync(keyFile, `${FIRST_KEY}\n`);
  await changeAndWaitFor(
    () => writeFileSync(stack.configPath, JSON.stringify(configWith([token('alice', ALICE)]))),
    'configuration reloaded',
  );
});

afterAll(async () => {
  await stack?.stop();
});

const lastUpstreamKey = () =>
  stack.upstream.received.at(-1)?.headers.find(([name]) => name === 'x-api-key')?.[1];

describe('live configuration', () => {
  it('applies a changed file at once: a new token works, a removed one is refused', async () => {
    expect(await status(ALICE)).toBe(200);
    expect(await status(BOB)).toBe(401);

    const reloaded = await changeAndWaitFor(
      () => writeFileSync(stack.configPath, JSON.stringify(configWith([token('bob', BOB)]))),
      'configuration reloaded',
    );
    expect(reloaded).toMatchObject({ trigger: 'file change', tokens: 1, workspaces: 1 });
    expect(await status(BOB)).toBe(200);
    expect(await status(ALICE)).toBe(401);
  });

  it('applies a new catalog and token scope', async () => {
    await changeAndWaitFor(
      () =>
        writeFileSync(
          stack.configPath,
          JSON.stringify(
            configWith([token('bob', BOB, { models: ['claude-haiku-4-5'] })], {
              catalog: [
                { id: 'claude-haiku-4-5', provider: 'anthropic', display_name: 'Claude Haiku 4.5' },
                { id: 'claude-sonnet-4-6', provider: 'anthropic', display_name: 'Claude Sonnet 4.6' },
              ],
            }),
          ),
        ),
      'configuration reloaded',
    );
    expect(await status(BOB, 'claude-haiku-4-5')).toBe(200);
    expect(await status(BOB, 'claude-sonnet-4-6')).toBe(403);
    expect(await status(BOB, 'claude-opus-4-8')).toBe(400);
  });

  it('rejects a bad file with every problem listed, and keeps serving the previous configuration', async () => {
    const rejected = await changeAndWaitFor(
      () =>
        writeFileSync(
          stack.configPath,
          JSON.stringify({
            workspaces: [{ id: 'research', upstream_api_key: { file: keyFile } }],
            tokens: [
              { id: 'carol', workspace: 'nowhere', sha256: hashToken(mintToken()).toString('hex') },
              { id: 'dave', workspace: 'research', sha256: 'not-a-digest' },
            ],
            upstream: { timeout_seconds: -1 },
          }),
        ),
      'configuration rejected; the previous configuration keeps serving',
    );
    expect(rejected.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^upstream\.timeout_seconds: /),
        expect.stringMatching(/^tokens\.1\.sha256: /),
        'tokens.0.workspace: no workspace has id nowhere',
      ]),
    );
    expect(await status(BOB, 'claude-haiku-4-5')).toBe(200);
    expect(await status(BOB, 'claude-sonnet-4-6')).toBe(403);
  });

  it('re-reads a rotated secret file on SIGHUP', async () => {
    await changeAndWaitFor(
      () => writeFileSync(stack.configPath, JSON.stringify(configWith([token('bob', BOB)]))),
      'configuration reloaded',
    );
    expect(await status(BOB)).toBe(200);
    expect(lastUpstreamKey()).toBe(FIRST_KEY);

    // The key file is not watched: rotating it takes a SIGHUP.
    writeFileSync(keyFile, `${ROTATED_KEY}\n`);
    const reloaded = await changeAndWaitFor(
      () => stack.processor.process.kill('SIGHUP'),
      'configuration reloaded',
    );
    expect(reloaded.trigger).toBe('SIGHUP');
    expect(await status(BOB)).toBe(200);
    expect(lastUpstreamKey()).toBe(ROTATED_KEY);
  });

  it('says that a change to what Envoy was started with needs a restart, and applies the rest', async () => {
    const warning = await changeAndWaitFor(
      () =>
        writeFileSync(
          stack.configPath,
          JSON.stringify(configWith([token('alice', ALICE)], { upstream: { timeout_seconds: 30 } })),
        ),
      'these settings change only with a restart; the running values stay until then',
    );
    expect(warning.settings).toEqual(['upstream']);
    // The reload that logged the warning has already swapped the policy.
    expect(await status(ALICE)).toBe(200);
    expect(await status(BOB)).toBe(401);
  });
});

describe('live configuration in the metrics', () => {
  it('counts every reload by outcome, and shows the hash and load time of the file in force', async () => {
    const before = Date.now() / 1000;
    await changeAndWaitFor(
      () => writeFileSync(stack.configPath, JSON.stringify(configWith([token('alice', ALICE)]))),
      'configuration reloaded',
    );
    const after = Date.now() / 1000;
    const text = await (await fetch(stack.metricsUrl)).text();
    const count = (msg: string) =>
      stack.processorLog.filter((line) => line.includes(`"msg":"${msg}"`)).length;
    const sample = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    // Reloads from the start of this file on: applied ones and the rejected one.
    const applied = count('configuration reloaded');
    const rejected = count('configuration rejected; the previous configuration keeps serving');
    expect(applied).toBeGreaterThan(4);
    expect(rejected).toBe(1);
    expect(sample(/^gateway_config_reloads_total\{outcome="success"\} (\d+)$/m)).toBe(applied);
    expect(sample(/^gateway_config_reloads_total\{outcome="failure"\} (\d+)$/m)).toBe(rejected);
    // What `sha256sum` prints for the file in force, and when it was loaded.
    const digest = createHash('sha256').update(readFileSync(stack.configPath)).digest('hex');
    expect(text).toMatch(new RegExp(`^gateway_config_info\\{sha256="${digest}"\\} 1$`, 'm'));
    expect(text.match(/^gateway_config_info\{/gm)).toHaveLength(1);
    const loadedAt = sample(/^gateway_config_loaded_timestamp_seconds (\S+)$/m);
    expect(loadedAt).toBeGreaterThanOrEqual(Math.floor(before));
    expect(loadedAt).toBeLessThanOrEqual(after);
  });
});
