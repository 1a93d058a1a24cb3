// The seed's cURL request, as a user would run it, through the real Envoy.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { pacedSseResponder, textStreamEvents } from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, UPSTREAM_KEY, useStack } from '../support/gateway-stack.ts';

const run = promisify(execFile);

const stack = useStack();

const SEED_BODY = `{
    "model": "claude-sonnet-4-6",
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "What is Neon?"}]
  }`;

/** Runs curl and returns the status line's code, headers and body (-i output split). */
async function curl(args: string[]) {
  const { stdout } = await run('curl', ['-sS', '-i', ...args], { maxBuffer: 16 * 1024 * 1024 });
  const split = stdout.indexOf('\r\n\r\n');
  const head = stdout.slice(0, split);
  const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(head)?.[1]);
  return { status, head: head.toLowerCase(), body: stdout.slice(split + 4) };
}

function seedArgs(body: string, token = GATEWAY_TOKEN) {
  return [
    '-X',
    'POST',
    `${stack.baseUrl}/v1/messages`,
    '-H',
    `Authorization: Bearer ${token}`,
    '-H',
    'Content-Type: application/json',
    '-H',
    'anthropic-version: 2023-06-01',
    '-d',
    body,
  ];
}

describe('cURL', () => {
  it("the seed's request returns the message", async () => {
    const { status, body } = await curl(seedArgs(SEED_BODY));
    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ type: 'message', model: 'claude-sonnet-4-6' });
    const received = stack.upstream.received[0];
    expect(received?.headers.find(([name]) => name === 'x-api-key')?.[1]).toBe(UPSTREAM_KEY);
    expect(received?.headers.find(([name]) => name === 'user-agent')?.[1]).toMatch(/^curl\//);
    // curl -d sends the text as given.
    expect(received?.body.toString()).toBe(SEED_BODY);
  });

  it('streams with "stream": true', async () => {
    const events = textStreamEvents('claude-sonnet-4-6', ['Neon', ' is', ' Postgres']);
    stack.upstream.queue(pacedSseResponder(events, 5));
    const { status, head, body } = await curl([
      '-N',
      ...seedArgs(SEED_BODY.replace('"max_tokens": 1024', '"max_tokens": 1024, "stream": true')),
    ]);
    expect(status).toBe(200);
    expect(head).toContain('content-type: text/event-stream');
    const names = [...body.matchAll(/^event: (\w+)$/gm)].map((match) => match[1]);
    expect(names).toEqual(events.map((event) => event.event));
  });

  it('with x-api-key, several anthropic-beta values and ?beta=true, all arrive unchanged', async () => {
    const { status } = await curl([
      '-X',
      'POST',
      `${stack.baseUrl}/v1/messages?beta=true`,
      '-H',
      `x-api-key: ${GATEWAY_TOKEN}`,
      '-H',
      'Content-Type: application/json',
      '-H',
      'anthropic-version: 2023-06-01',
      '-H',
      'anthropic-beta: prompt-caching-2024-07-31,interleaved-thinking-2025-05-14',
      '-d',
      SEED_BODY,
    ]);
    expect(status).toBe(200);
    const received = stack.upstream.received[0];
    expect(received?.url).toBe('/v1/messages?beta=true');
    expect(received?.headers.filter(([name]) => name === 'anthropic-beta')).toEqual([
      ['anthropic-beta', 'prompt-caching-2024-07-31,interleaved-thinking-2025-05-14'],
    ]);
    expect(received?.body.toString()).toBe(SEED_BODY);
  });

  it('lists the models (GET /v1/models), and HEAD on the base URL is 200', async () => {
    const models = await curl([`${stack.baseUrl}/v1/models`, '-H', `x-api-key: ${GATEWAY_TOKEN}`]);
    expect(models.status).toBe(200);
    expect((JSON.parse(models.body) as { data: Array<{ id: string }> }).data[0]?.id).toBe('claude-fable-5-2');
    const head = await curl(['-I', stack.baseUrl]);
    expect(head.status).toBe(200);
    expect(stack.upstream.received).toHaveLength(0);
  });

  it('an error is Anthropic-shaped JSON', async () => {
    const { status, head, body } = await curl(seedArgs(SEED_BODY, 'agw_not_a_token'));
    expect(status).toBe(401);
    expect(head).toContain('content-type: application/json');
    expect(head).toMatch(/request-id: \S+/);
    expect(JSON.parse(body)).toEqual({
      type: 'error',
      error: { type: 'authentication_error', message: 'invalid or missing credential' },
    });
    expect(stack.upstream.received).toHaveLength(0);
  });
});
