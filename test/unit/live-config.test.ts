import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createLiveConfig, type LiveConfig } from '../../processor/config/live.ts';
import { type Environment, type LoadedConfig, loadConfig } from '../../processor/config/load.ts';
import { createLogger, type Logger } from '../../processor/log.ts';
import { type ConfigMetrics, createMetrics } from '../../processor/metrics/registry.ts';
import { hashToken, verifyToken } from '../../processor/policy/tokens.ts';

const ENV: Environment = { ANTHROPIC_API_KEY: 'sk-ant-live-unit-key', GATEWAY_TOKEN: 'agw_default' };
const dir = mkdtempSync(join(tmpdir(), 'gateway-live-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
const opened: LiveConfig[] = [];
afterEach(() => {
  for (const live of opened.splice(0)) live.close();
});

const tokenEntry = (id: string) => ({
  id,
  workspace: 'default',
  sha256: hashToken(`agw_${id}`).toString('hex'),
});

function setUp(initial: Record<string, unknown>, metrics?: ConfigMetrics) {
  fileCount += 1;
  const path = join(dir, `gateway-${fileCount}.json`);
  writeFileSync(path, JSON.stringify(initial));
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line));
      callback();
    },
  });
  const log: Logger = createLogger('info', sink);
  const first = loadConfig(ENV, path);
  if (!first.ok) throw new Error(first.problems.join('; '));
  const live = createLiveConfig({ env: ENV, path, initial: first.config, log, metrics });
  opened.push(live);
  const write = (content: Record<string, unknown>) => writeFileSync(path, JSON.stringify(content));
  const logged = (msg: string) => lines.filter((line) => line.msg === msg);
  return { path, live, log, lines, write, logged, initial: first.config };
}

const knows = (config: LoadedConfig, id: string) =>
  verifyToken(config.policy.tokens, `agw_${id}`) !== undefined;

describe('createLiveConfig: reload', () => {
  it('swaps in the new policy and leaves the old snapshot as it was', () => {
    const { live, write, logged, initial } = setUp({ tokens: [tokenEntry('alice')] });
    write({ tokens: [tokenEntry('bob')] });
    expect(live.reload('test')).toEqual({ applied: true, needRestart: [] });
    expect(knows(live.current(), 'bob')).toBe(true);
    expect(knows(live.current(), 'alice')).toBe(false);
    expect(live.policy()).toBe(live.current().policy);
    // A stream that read the policy before the reload keeps deciding with it.
    expect(knows(initial, 'alice')).toBe(true);
    expect(logged('configuration reloaded')).toEqual([
      expect.objectContaining({ trigger: 'test', tokens: 1, workspaces: 1 }),
    ]);
  });

  it('rejects a file with problems, logs them all and keeps the previous policy', () => {
    const { live, write, logged } = setUp({ tokens: [tokenEntry('alice')] });
    const before = live.policy();
    write({ tokens: [{ ...tokenEntry('bob'), workspace: 'nowhere' }], log: { level: 'loud' } });
    const outcome = live.reload('test');
    expect(outcome.applied).toBe(false);
    const [rejected] = logged('configuration rejected; the previous configuration keeps serving');
    expect(rejected?.problems).toEqual([
      expect.stringMatching(/^log\.level: /),
      'tokens.0.workspace: no workspace has id nowhere',
    ]);
    expect(live.policy()).toBe(before);
  });

  it('rejects a file that is not YAML, and one that has gone', () => {
    const { path, live } = setUp({ tokens: [tokenEntry('alice')] });
    writeFileSync(path, 'tokens: [unclosed');
    expect(live.reload('test').applied).toBe(false);
    rmSync(path);
    expect(live.reload('test').applied).toBe(false);
    expect(knows(live.current(), 'alice')).toBe(true);
  });

  it('keeps the running values of restart-only settings, says so, and applies the log level live', () => {
    const { live, write, log, logged } = setUp({ tokens: [tokenEntry('alice')] });
    write({
      tokens: [tokenEntry('bob')],
      listen: { port: 9999 },
      limits: { max_request_body_bytes: 2 * 1024 * 1024 },
      log: { level: 'debug' },
    });
    expect(live.reload('test')).toEqual({ applied: true, needRestart: ['listen', 'limits'] });
    expect(logged('these settings change only with a restart; the running values stay until then')).toEqual([
      expect.objectContaining({ settings: ['listen', 'limits'] }),
    ]);
    expect(live.current().settings.listen.port).toBe(8080);
    expect(live.current().settings.limits.max_request_body_bytes).toBe(32 * 1024 * 1024);
    expect(knows(live.current(), 'bob')).toBe(true);
    expect(log.level).toBe('debug');
    expect(live.current().settings.log.level).toBe('debug');
  });
});

describe('createLiveConfig: metrics', () => {
  const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
  const values = async (metrics: ConfigMetrics) => ({
    reloads: Object.fromEntries(
      (await metrics.reloads.get()).values.map((v) => [String(v.labels.outcome), v.value]),
    ),
    loadedAt: (await metrics.loadedAt.get()).values[0]?.value,
    info: (await metrics.info.get()).values.map((v) => ({ sha256: v.labels.sha256, value: v.value })),
  });

  it('counts reloads by outcome and shows when, and which file content, is in force', async () => {
    const { config: metrics } = createMetrics({ defaultMetrics: false });
    const start = Date.now() / 1000;
    const { path, live, write } = setUp({ tokens: [tokenEntry('alice')] }, metrics);
    const first = sha256(path);
    const initial = await values(metrics);
    expect(initial).toMatchObject({
      reloads: { success: 0, failure: 0 },
      info: [{ sha256: first, value: 1 }],
    });
    expect(initial.loadedAt).toBeGreaterThanOrEqual(Math.floor(start));

    write({ tokens: [tokenEntry('bob')] });
    expect(live.reload('test').applied).toBe(true);
    const second = sha256(path);
    expect(second).not.toBe(first);
    const applied = await values(metrics);
    // One info series, the new content's.
    expect(applied).toMatchObject({
      reloads: { success: 1, failure: 0 },
      info: [{ sha256: second, value: 1 }],
    });
    expect(applied.loadedAt).toBeGreaterThanOrEqual(initial.loadedAt ?? Number.POSITIVE_INFINITY);

    // A rejected file changes neither the time nor the hash of what is in force.
    writeFileSync(path, 'tokens: [unclosed');
    expect(live.reload('test').applied).toBe(false);
    expect(await values(metrics)).toEqual({
      reloads: { success: 1, failure: 1 },
      loadedAt: applied.loadedAt,
      info: [{ sha256: second, value: 1 }],
    });
  });

  it('shows no file hash for a configuration from the environment alone', async () => {
    const { config: metrics } = createMetrics({ defaultMetrics: false });
    const first = loadConfig(ENV, undefined);
    if (!first.ok) throw new Error(first.problems.join('; '));
    const log = createLogger('silent');
    const live = createLiveConfig({ env: ENV, path: undefined, initial: first.config, log, metrics });
    opened.push(live);
    expect(live.reload('SIGHUP').applied).toBe(true);
    const shown = await values(metrics);
    expect(shown).toMatchObject({ reloads: { success: 1, failure: 0 }, info: [] });
    expect(shown.loadedAt).toEqual(expect.any(Number));
  });
});

describe('createLiveConfig: watch', () => {
  /** A file watcher's event arrives in its own time. */
  const WATCHED = { timeout: 5_000, interval: 25 };

  it('reloads when the file is written in place', async () => {
    const { live, write, logged } = setUp({ tokens: [tokenEntry('alice')] });
    live.watch();
    write({ tokens: [tokenEntry('bob')] });
    await expect
      .poll(() => logged('configuration reloaded'), WATCHED)
      .toEqual([expect.objectContaining({ trigger: 'file change' })]);
    expect(knows(live.current(), 'bob')).toBe(true);
  });

  it('reloads when the file is replaced by a rename, as editors and Kubernetes do', async () => {
    const { path, live, logged } = setUp({ tokens: [tokenEntry('alice')] });
    live.watch();
    const next = join(dir, 'next.json.tmp');
    writeFileSync(next, JSON.stringify({ tokens: [tokenEntry('carol')] }));
    renameSync(next, path);
    await expect.poll(() => knows(live.current(), 'carol'), WATCHED).toBe(true);
    expect(logged('configuration reloaded').length).toBeGreaterThan(0);
  });
});
