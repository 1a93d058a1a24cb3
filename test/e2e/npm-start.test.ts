// `npm start` as a user runs it, without a configuration file: the launcher
// starts the processor on a private Unix socket and Envoy in front of it, the
// gateway answers, and Ctrl-C (SIGINT) stops both and removes the socket.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, seedRequest } from '../support/gateway-stack.ts';

const GATEWAY = join(import.meta.dirname, '../../scripts/gateway.ts');

let upstream: FakeUpstream;
let gateway: ChildProcess;
let stdout = '';
let stderr = '';

function waitFor(read: () => string, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      const match = pattern.exec(read());
      if (match) resolve(match);
      else if (Date.now() > deadline || gateway.exitCode !== null)
        reject(new Error(`no ${pattern}:\n${stderr}`));
      else setTimeout(poll, 50);
    };
    poll();
  });
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ANTHROPIC_API_KEY: 'sk-ant-npm-start-key',
    GATEWAY_TOKEN,
    GATEWAY_PORT: '0',
    ANTHROPIC_UPSTREAM_URL: upstream.url,
  };
  delete env.GATEWAY_CONFIG;
  delete env.GATEWAY_PROCESSOR_ADDRESS;
  gateway = spawn(process.execPath, [GATEWAY], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  gateway.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  gateway.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
});
afterAll(async () => {
  if (gateway?.exitCode === null) gateway.kill('SIGKILL');
  await upstream?.close();
});

describe('npm start without configuration', () => {
  it('serves through a processor on a private Unix socket, and removes it on exit', async () => {
    const [, port] = await waitFor(() => stderr, /serving http:\/\/localhost:(\d+)\/ai-gateway\/anthropic/);
    const [, address] = await waitFor(() => stdout, /"address":"(unix:[^"]+)"/);
    const socketPath = (address as string).slice('unix:'.length);
    expect(existsSync(socketPath)).toBe(true);

    const response = await fetch(`http://127.0.0.1:${port}/ai-gateway/anthropic/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
        'x-api-key': GATEWAY_TOKEN,
      },
      body: JSON.stringify(seedRequest()),
    });
    expect(response.status).toBe(200);
    expect(upstream.received).toHaveLength(1);

    const exited = new Promise<number | null>((resolve) => gateway.once('exit', resolve));
    gateway.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(existsSync(dirname(socketPath))).toBe(false);
  });
});
