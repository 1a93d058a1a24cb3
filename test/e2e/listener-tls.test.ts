// TLS on Envoy's listener (listen.tls): the gateway serves HTTPS with the
// operator's certificate, HTTP/2 or HTTP/1.1 as the client offers by ALPN.
// The certificate comes from a throw-away CA (test/support/test-ca.ts); the
// clients trust that CA and nothing else: the TypeScript SDK in a child
// process (NODE_EXTRA_CA_CERTS, as a user would run it), Node's HTTP/2 and
// HTTPS clients. `npm start` says it serves https://.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, seedRequest, UPSTREAM_KEY, useStack } from '../support/gateway-stack.ts';
import { killAll, type Launched, launch, launcherEnv, type Serving, serving } from '../support/launcher.ts';
import { createTestCa } from '../support/test-ca.ts';

const ca = createTestCa();
afterAll(() => ca.remove());
const stack = useStack({ config: { listen: { tls: { cert_file: ca.certFile, key_file: ca.keyFile } } } });
const body = JSON.stringify(seedRequest());

const run = promisify(execFile);

/** The TypeScript SDK, in a Node process of its own that trusts the test CA as a user's would. */
async function sdkCreate(
  baseURL: string,
  extraCa: string | undefined,
): Promise<{ text: string; model: string }> {
  const script = `
    import Anthropic from '@anthropic-ai/sdk';
    const client = new Anthropic({ apiKey: process.env.TOKEN, baseURL: process.env.BASE_URL, maxRetries: 0 });
    const message = await client.messages.create(JSON.parse(process.env.BODY));
    process.stdout.write(JSON.stringify({ text: message.content[0].text, model: message.model }));
  `;
  const env: NodeJS.ProcessEnv = { ...process.env, TOKEN: GATEWAY_TOKEN, BASE_URL: baseURL, BODY: body };
  if (extraCa === undefined) delete env.NODE_EXTRA_CA_CERTS;
  else env.NODE_EXTRA_CA_CERTS = extraCa;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env,
    cwd: join(import.meta.dirname, '../..'),
  });
  return JSON.parse(stdout) as { text: string; model: string };
}

describe('the gateway over HTTPS', () => {
  it('serves the TypeScript SDK, which trusts the certificate through NODE_EXTRA_CA_CERTS', async () => {
    expect(stack.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/ai-gateway\/anthropic$/);
    const message = await sdkCreate(stack.baseUrl, ca.caFile);
    expect(message).toEqual({ text: 'Hello from the fake upstream.', model: 'claude-sonnet-4-6' });
    expect(stack.upstream.received).toHaveLength(1);
    const keys = stack.upstream.received[0]?.headers.filter(([name]) => name === 'x-api-key');
    expect(keys).toEqual([['x-api-key', UPSTREAM_KEY]]);
  });

  it('is refused by a client that does not trust the CA: the certificate is the one configured', async () => {
    await expect(sdkCreate(stack.baseUrl, ca.otherCaFile)).rejects.toThrow(/Connection error|certificate/);
    expect(stack.upstream.arrived).toEqual([]);
  });

  it('negotiates HTTP/2 with an HTTP/2 client', async () => {
    const session = connect(stack.origin, { ca: readFileSync(ca.caFile) });
    try {
      await new Promise<void>((resolve, reject) => {
        session.once('connect', () => resolve());
        session.once('error', reject);
      });
      expect(session.alpnProtocol).toBe('h2');
      const stream = session.request({
        ':method': 'POST',
        ':path': '/ai-gateway/anthropic/v1/messages',
        'content-type': 'application/json',
        'x-api-key': GATEWAY_TOKEN,
      });
      stream.end(body);
      const [status, answer] = await new Promise<[number, string]>((resolve, reject) => {
        let code = 0;
        const chunks: Buffer[] = [];
        stream.on('response', (headers) => {
          code = Number(headers[':status']);
        });
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => resolve([code, Buffer.concat(chunks).toString()]));
        stream.on('error', reject);
      });
      expect(status).toBe(200);
      expect((JSON.parse(answer) as { model: string }).model).toBe('claude-sonnet-4-6');
      expect(stack.upstream.received).toHaveLength(1);
    } finally {
      session.close();
    }
  });

  it('still speaks HTTP/1.1 to a client that offers only that', async () => {
    const url = new URL(`${stack.baseUrl}/v1/messages`);
    const { status, protocol, httpVersion } = await new Promise<{
      status: number;
      protocol: string | false | null;
      httpVersion: string;
    }>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          agent: new Agent({ ca: readFileSync(ca.caFile), ALPNProtocols: ['http/1.1'] }),
          headers: { 'content-type': 'application/json', 'x-api-key': GATEWAY_TOKEN },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              protocol: (res.socket as TLSSocket).alpnProtocol,
              httpVersion: res.httpVersion,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect({ status, protocol, httpVersion }).toEqual({
      status: 200,
      protocol: 'http/1.1',
      httpVersion: '1.1',
    });
    expect(stack.upstream.received).toHaveLength(1);
  });

  it('answers no plain HTTP on its port', async () => {
    await expect(
      fetch(`http://127.0.0.1:${new URL(stack.origin).port}/ai-gateway/anthropic/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': GATEWAY_TOKEN },
        body,
      }),
    ).rejects.toThrow();
    expect(stack.upstream.arrived).toEqual([]);
  });
});

describe('npm start with listen.tls', () => {
  let upstream: FakeUpstream | undefined;
  let gateway: Launched | undefined;
  let started: Serving | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'gateway-tls-start-'));
  afterAll(async () => {
    killAll(gateway, started);
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says it serves https:// and does', async () => {
    upstream = await startFakeUpstream();
    const config = join(dir, 'gateway.json');
    writeFileSync(
      config,
      JSON.stringify({ listen: { tls: { cert_file: ca.certFile, key_file: ca.keyFile } } }),
    );
    gateway = launch(launcherEnv(upstream.url, { GATEWAY_CONFIG: config }));
    started = await serving(gateway);
    expect(gateway.stderr()).toMatch(
      new RegExp(`gateway: serving https://localhost:${started.port}/ai-gateway/anthropic\\n`),
    );
    const message = await sdkCreate(`https://localhost:${started.port}/ai-gateway/anthropic`, ca.caFile);
    expect(message.text).toBe('Hello from the fake upstream.');
  });
});
