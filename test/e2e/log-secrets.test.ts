// The real processor process, at debug level, behind the real Envoy, fed every
// kind of request that carries a secret: good tokens, wrong ones, Basic
// credentials, the upstream key itself, and requests cut off mid-body. Not one
// line it writes may contain a token, the upstream key, or an authorization
// value. (The error-level path, a policy that throws, is checked the same way
// in processor-failures.test.ts, through Envoy, and in the unit log tests.)
// Neither may Envoy's own output, at the level `npm start` runs it by default
// (at debug it would: test/e2e/envoy-admin.test.ts shows that it does, and
// that the launcher refuses debug unless told).

import { connect } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GATEWAY_TOKEN,
  type GatewayStack,
  seedRequest,
  startStack,
  UPSTREAM_KEY,
} from '../support/gateway-stack.ts';
import { buildRequest } from '../support/raw-http.ts';

let stack: GatewayStack;

beforeAll(async () => {
  stack = await startStack({ captureEnvoyLog: true });
});
afterAll(async () => {
  await stack?.stop();
});

const WRONG_TOKEN = `${GATEWAY_TOKEN.slice(0, -6)}WRONG0`;
const BASIC = Buffer.from(`user:${GATEWAY_TOKEN}`).toString('base64');
const body = JSON.stringify(seedRequest());

describe('processor logs', () => {
  it('never contain a token, the upstream key or an authorization value, at debug level', async () => {
    const send = (
      headers: Record<string, string>,
      payload: string = body,
      path = '/v1/messages',
      method = 'POST',
    ) =>
      fetch(`${stack.baseUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...headers },
        ...(method === 'POST' ? { body: payload } : {}),
      }).then((response) => response.arrayBuffer());

    await send({ 'x-api-key': GATEWAY_TOKEN });
    await send({ authorization: `Bearer ${GATEWAY_TOKEN}` });
    await send({ 'x-api-key': WRONG_TOKEN });
    await send({ authorization: `Bearer ${WRONG_TOKEN}` });
    await send({ authorization: `Basic ${BASIC}` });
    await send({ 'x-api-key': GATEWAY_TOKEN, authorization: `Bearer ${WRONG_TOKEN}` });
    await send({ 'x-api-key': UPSTREAM_KEY });
    await send({ 'x-api-key': `${GATEWAY_TOKEN}${'x'.repeat(2000)}` });
    await send({ 'x-api-key': GATEWAY_TOKEN, 'content-encoding': 'gzip' });
    await send({ 'x-api-key': GATEWAY_TOKEN }, '{"model":');
    await send({ 'x-api-key': GATEWAY_TOKEN }, JSON.stringify(seedRequest('claude-nonexistent')));
    await send({ 'x-api-key': GATEWAY_TOKEN, cookie: `token=${GATEWAY_TOKEN}` }, body, '/v1/models', 'GET');
    await send({ 'x-api-key': GATEWAY_TOKEN }, body, '/v1/batches', 'POST');
    await send({ 'x-api-key': GATEWAY_TOKEN }, body, '/v1/messages', 'GET');
    // The access line's request fields: a client that puts a secret in the
    // query or the user agent, forwarded, refused and answered by the gateway.
    await send(
      { 'x-api-key': GATEWAY_TOKEN, 'user-agent': `agent ${GATEWAY_TOKEN}` },
      body,
      `/v1/messages?key=${GATEWAY_TOKEN}`,
    );
    await send(
      { 'x-api-key': WRONG_TOKEN, 'user-agent': `Bearer ${UPSTREAM_KEY}` },
      body,
      `/v1/messages?k=${UPSTREAM_KEY}`,
    );
    await send(
      { 'x-api-key': GATEWAY_TOKEN, 'user-agent': `secret ${UPSTREAM_KEY}` },
      body,
      `/v1/models?t=${WRONG_TOKEN}`,
      'GET',
    );
    // The TypeScript SDK, as clients use it.
    const client = new Anthropic({ apiKey: GATEWAY_TOKEN, baseURL: stack.baseUrl, maxRetries: 0 });
    await client.messages.create(seedRequest() as Anthropic.MessageCreateParamsNonStreaming);
    // Requests abandoned mid-body: Envoy cancels the processor's stream.
    for (let i = 0; i < 3; i += 1) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(new URL(stack.origin).port), '127.0.0.1', () => {
          const head = buildRequest({
            target: '/ai-gateway/anthropic/v1/messages',
            headers: [
              ['authorization', `Bearer ${GATEWAY_TOKEN}`],
              ['content-length', String(body.length * 2)],
            ],
            contentLength: false,
          });
          socket.write(Buffer.concat([head, Buffer.from(body)]), () => {
            setTimeout(() => {
              socket.destroy();
              resolve();
            }, 50);
          });
        });
        socket.on('error', () => resolve());
      });
    }

    // Not vacuous: the rejections were logged, with their reasons, at debug level.
    const rejected = await stack.waitForLog((entry) => entry.reason === 'method_not_allowed');
    expect(rejected.length).toBeGreaterThan(0);
    const entries = stack.processorLog.map((line) => JSON.parse(line) as Record<string, unknown>);
    const reasons = new Set(entries.map((entry) => entry.reason));
    for (const reason of [
      'invalid_credential',
      'content_encoding',
      'invalid_json',
      'unknown_model',
      'method_not_allowed',
    ]) {
      expect(reasons, reason).toContain(reason);
    }
    expect(new Set(entries.map((entry) => entry.level))).toEqual(new Set([20, 30]));
    // Not vacuous either: the access lines carry the request's path and user agent (censored where a secret was).
    const access = entries.filter((entry) => entry.msg === 'access');
    expect(access.filter((entry) => String(entry.path).includes('?key=[redacted]'))).toHaveLength(1);
    expect(access.filter((entry) => entry.userAgent === 'agent [redacted]')).toHaveLength(1);
    expect(access.filter((entry) => entry.upstreamRequestId !== undefined).length).toBeGreaterThan(0);
    for (const entry of access) expect(typeof entry.method, JSON.stringify(entry)).toBe('string');
    const secrets = [GATEWAY_TOKEN, WRONG_TOKEN, UPSTREAM_KEY, BASIC, GATEWAY_TOKEN.slice(4, 24)];
    for (const line of stack.processorLog) {
      for (const secret of secrets) expect(line).not.toContain(secret);
      expect(line).not.toMatch(/bearer |basic /i);
    }
    const envoyOutput = stack.envoyLog.join('');
    for (const secret of secrets) expect(envoyOutput).not.toContain(secret);
    expect(envoyOutput).not.toMatch(/bearer |basic |x-api-key|authorization/i);
  });
});
