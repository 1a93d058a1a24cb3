// Runs Claude Code (`@anthropic-ai/claude-code`, a pinned dev dependency whose
// native binary comes from its per-platform npm package) headless, as a user
// would: `claude -p "<prompt>"`, in a throw-away HOME and working directory,
// with only the environment given here (never the machine's ANTHROPIC_*).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { messageEvents } from './anthropic-fixtures.ts';
import { json, messageBody, type Responder, sseResponder } from './fake-upstream.ts';

const ROOT = resolve(import.meta.dirname, '../..');
export const CLAUDE_BIN = join(ROOT, 'node_modules/.bin/claude');

export interface ClaudeRun {
  /** The exit code, or null when it was killed (timeout). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** What keeps a headless run from reaching anything but the base URL. */
export const OFFLINE_ENV = {
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  DISABLE_TELEMETRY: '1',
} as const;

export function runClaudeCode(
  env: Readonly<Record<string, string>>,
  args: readonly string[],
  timeoutMs = 120_000,
): Promise<ClaudeRun> {
  const home = mkdtempSync(join(tmpdir(), 'claude-code-home-'));
  return new Promise((resolveRun) => {
    // stdin is /dev/null: with a pipe, `claude -p` waits for piped input first.
    const child = spawn(CLAUDE_BIN, [...args], {
      cwd: home,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      rmSync(home, { recursive: true, force: true });
      resolveRun({ code, stdout, stderr });
    });
  });
}

/** `claude --version`, e.g. "2.1.332 (Claude Code)". */
export async function claudeCodeVersion(): Promise<string> {
  const run = await runClaudeCode(OFFLINE_ENV, ['--version'], 60_000);
  return run.stdout.trim();
}

/** A fake upstream's answer to whatever Claude Code sends (streamed or not, count_tokens too): `text`. */
export function answerClaudeCode(text: string): Responder {
  return (request, res) => {
    if (request.url.startsWith('/v1/messages/count_tokens')) return json(res, 200, { input_tokens: 1234 });
    const body = JSON.parse(request.body.toString()) as { model?: string; stream?: boolean };
    const model = body.model ?? 'no-model';
    if (body.stream === true)
      return sseResponder(messageEvents(model, [{ type: 'text', text }]))(request, res);
    return json(res, 200, messageBody(model, text));
  };
}
