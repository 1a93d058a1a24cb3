// Runs the Python `anthropic` SDK (installed into .venv by scripts/setup.sh)
// for an end-to-end test: one long-lived driver process (test/e2e/python/
// driver.py) per test file, sent one command at a time over stdin, so the
// SDK is imported once rather than per request.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = resolve(import.meta.dirname, '../..');
export const VENV_PYTHON = join(ROOT, '.venv/bin/python');
const DRIVER = join(ROOT, 'test/e2e/python/driver.py');

/** One HTTP request the SDK made, as its httpx event hook saw it. */
export interface SentRequest {
  readonly method: string;
  readonly url: string;
  /** SHA-256 (hex) of the exact body bytes the SDK sent. */
  readonly sha256: string;
  readonly length: number;
  readonly x_api_key: boolean;
  /** The authorization scheme, if any (`Bearer`). */
  readonly authorization: string | null;
  readonly anthropic_version: string | null;
  readonly anthropic_beta: string | null;
}

export interface PythonError {
  readonly class: string;
  readonly message: string;
  readonly status_code?: number;
  readonly request_id?: string | null;
  readonly type?: string | null;
  readonly api_message?: string | null;
  readonly body?: unknown;
}

export type PythonResult<T> =
  | { readonly ok: true; readonly result: T; readonly sent: SentRequest[] }
  | { readonly ok: false; readonly error: PythonError; readonly sent: SentRequest[] };

export type PythonCredential = { readonly api_key: string } | { readonly auth_token: string };

export interface PythonSdk {
  call<T = unknown>(op: string, args?: unknown, credential?: PythonCredential): Promise<PythonResult<T>>;
  close(): Promise<void>;
}

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly crash?: string;
}

export function startPythonSdk(baseUrl: string, defaultCredential: PythonCredential): PythonSdk {
  if (!existsSync(VENV_PYTHON)) {
    throw new Error(
      `${VENV_PYTHON} is missing: run \`npm install\` (scripts/setup.sh installs the Python SDK)`,
    );
  }
  const child: ChildProcessWithoutNullStreams = spawn(VENV_PYTHON, ['-u', DRIVER], {
    env: { ...process.env, GATEWAY_BASE_URL: baseUrl, PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  const exited = new Promise<void>((resolveExit) => {
    child.on('exit', (code, signal) => {
      for (const waiter of pending.values()) {
        waiter.reject(new Error(`python driver exited (${code ?? signal}) before answering:\n${stderr}`));
      }
      pending.clear();
      resolveExit();
    });
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const reply = JSON.parse(line) as Reply;
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if (waiter === undefined) return;
    if (reply.crash !== undefined) waiter.reject(new Error(`python driver failed:\n${reply.crash}`));
    else waiter.resolve(reply);
  });

  let nextId = 1;
  return {
    call: <T>(op: string, args: unknown = {}, credential = defaultCredential) => {
      const id = nextId++;
      return new Promise<PythonResult<T>>((resolveCall, rejectCall) => {
        pending.set(id, {
          resolve: (reply) => resolveCall(reply as unknown as PythonResult<T>),
          reject: rejectCall,
        });
        child.stdin.write(`${JSON.stringify({ id, op, args, client: credential })}\n`);
      });
    },
    close: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

/** The result of a call that must have succeeded (fails the test with the SDK's error otherwise). */
export function ok<T>(reply: PythonResult<T>): T & {} {
  if (!reply.ok)
    throw new Error(`expected success, the SDK raised ${reply.error.class}: ${reply.error.message}`);
  return reply.result as T & {};
}

/** The error of a call that must have failed. */
export function failed(reply: PythonResult<unknown>): PythonError {
  if (reply.ok) throw new Error('expected the SDK to raise, it returned a result');
  return reply.error;
}
