// The feature matrix through the real Envoy, the processor and the fake
// upstream, with the TypeScript SDK (its fetch wrapped to record the exact
// bytes it sent) and raw HTTP where the exact bytes are the point: every
// request arrives byte for byte (same SHA-256), every response feature comes
// back to the client intact, JSON and streamed.
import { request as httpRequest } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type Block,
  CACHE_USAGE,
  message,
  messageEvents,
  REDACTED_THINKING,
  THINKING_SIGNATURE,
} from '../support/anthropic-fixtures.ts';
import { json, type ReceivedRequest, sha256, sseResponder } from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, type GatewayStack, startStack } from '../support/gateway-stack.ts';

let stack: GatewayStack;
let client: Anthropic;
/** Every body the SDK handed to fetch, in order. */
const sentBodies: string[] = [];

beforeAll(async () => {
  stack = await startStack();
  client = new Anthropic({
    apiKey: GATEWAY_TOKEN,
    baseURL: stack.baseUrl,
    maxRetries: 0,
    fetch: (url, init) => {
      if (typeof init?.body === 'string') sentBodies.push(init.body);
      return fetch(url, init);
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  stack.upstream.reset();
  sentBodies.length = 0;
});

const MODEL = 'claude-sonnet-4-6';

/** The one request that reached the upstream carries exactly the bytes the SDK sent. */
function expectSdkBytesArrived(): ReceivedRequest {
  expect(stack.upstream.received).toHaveLength(1);
  expect(sentBodies).toHaveLength(1);
  const received = stack.upstream.received[0] as ReceivedRequest;
  expect(received.sha256).toBe(sha256(sentBodies[0] ?? ''));
  return received;
}

function sentJson(): Record<string, unknown> {
  return JSON.parse(stack.upstream.received[0]?.body.toString() ?? '{}') as Record<string, unknown>;
}

function replyWith(content: readonly Block[], usage = CACHE_USAGE, stopReason = 'end_turn') {
  stack.upstream.queue((_request, res) => json(res, 200, message(MODEL, content, usage, stopReason)));
}

function streamWith(content: readonly Block[], usage = CACHE_USAGE, stopReason = 'end_turn') {
  stack.upstream.queue(sseResponder(messageEvents(MODEL, content, usage, stopReason)));
}

/** Raw HTTP through the gateway: exact body bytes, and headers as given (repeats kept). */
function rawPost(
  path: string,
  body: Buffer | string,
  headers: ReadonlyArray<readonly [string, string]> = [],
): Promise<{ status: number; body: string }> {
  const url = new URL(`${stack.baseUrl}${path}`);
  // Given as an array, Node adds neither host nor framing headers itself.
  const flat = [
    ['host', url.host],
    ['content-length', String(Buffer.byteLength(body))],
    ['content-type', 'application/json'],
    ['anthropic-version', '2023-06-01'],
    ['x-api-key', GATEWAY_TOKEN],
    ...headers,
  ].flat();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers: flat },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('prompt caching', () => {
  const cached = { type: 'ephemeral' as const };
  const request = {
    model: MODEL,
    max_tokens: 1024,
    system: [
      { type: 'text' as const, text: 'You are a helpful assistant.' },
      { type: 'text' as const, text: 'A long document. '.repeat(500), cache_control: cached },
    ],
    tools: [
      {
        name: 'get_weather',
        description: 'Weather for a city',
        input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } },
        cache_control: { type: 'ephemeral' as const, ttl: '1h' as const },
      },
    ],
    messages: [
      {
        role: 'user' as const,
        content: [{ type: 'text' as const, text: 'Summarize the key points.', cache_control: cached }],
      },
    ],
  };

  it('cache_control on system blocks, tools and messages arrives unchanged; usage comes back in JSON', async () => {
    replyWith([{ type: 'text', text: 'Summary.' }]);
    const response = await client.messages.create(request);
    expectSdkBytesArrived();
    const sent = sentJson();
    expect(sent.system).toEqual(request.system);
    expect(sent.tools).toEqual(request.tools);
    expect(sent.messages).toEqual(request.messages);
    expect(response.usage).toMatchObject(CACHE_USAGE);
  });

  it('cache usage reaches the client in the stream: message_start and message_delta', async () => {
    streamWith([{ type: 'text', text: 'Summary.' }]);
    const stream = await client.messages.create({ ...request, stream: true });
    const usages: Record<string, unknown> = {};
    for await (const event of stream) {
      if (event.type === 'message_start') usages.start = event.message.usage;
      if (event.type === 'message_delta') usages.delta = event.usage;
    }
    expectSdkBytesArrived();
    expect(usages.start).toMatchObject({
      cache_creation_input_tokens: CACHE_USAGE.cache_creation_input_tokens,
      cache_read_input_tokens: CACHE_USAGE.cache_read_input_tokens,
      input_tokens: CACHE_USAGE.input_tokens,
    });
    expect(usages.delta).toMatchObject(CACHE_USAGE);
  });

  it('messages.stream().finalMessage() carries the cache usage', async () => {
    streamWith([{ type: 'text', text: 'Summary.' }]);
    const final = await client.messages.stream(request).finalMessage();
    expect(final.usage).toMatchObject(CACHE_USAGE);
  });
});

describe('extended thinking', () => {
  const thinking = { type: 'enabled' as const, budget_tokens: 10000 };
  const signed: Block[] = [
    {
      type: 'thinking',
      thinking: 'The user asks about Neon. It is serverless Postgres.',
      signature: THINKING_SIGNATURE,
    },
    { type: 'redacted_thinking', data: REDACTED_THINKING },
    { type: 'text', text: 'Neon is serverless Postgres.' },
  ];
  const ask = {
    model: MODEL,
    max_tokens: 16000,
    thinking,
    messages: [{ role: 'user' as const, content: 'What is Neon?' }],
  };

  it('thinking with budget_tokens arrives unchanged; signed and redacted blocks come back intact (JSON)', async () => {
    replyWith(signed);
    const response = await client.messages.create(ask);
    expectSdkBytesArrived();
    expect(sentJson().thinking).toEqual(thinking);
    expect(response.content).toEqual(signed);
  });

  it('streams thinking_delta and signature_delta; the SDK rebuilds the signed block', async () => {
    streamWith(signed);
    const stream = client.messages.stream(ask);
    const thinkingDeltas: string[] = [];
    const signatures: string[] = [];
    stream.on('thinking', (delta) => thinkingDeltas.push(delta));
    stream.on('signature', (signature) => signatures.push(signature));
    const deltaTypes: string[] = [];
    stream.on('streamEvent', (event) => {
      if (event.type === 'content_block_delta') deltaTypes.push(event.delta.type);
    });
    const final = await stream.finalMessage();
    expect(deltaTypes).toEqual([
      'thinking_delta',
      'thinking_delta',
      'signature_delta',
      'text_delta',
      'text_delta',
    ]);
    expect(thinkingDeltas.join('')).toBe('The user asks about Neon. It is serverless Postgres.');
    expect(signatures).toEqual([THINKING_SIGNATURE]);
    expect(final.content).toEqual(signed);
  });

  it('a multi-turn request sending the signed blocks back arrives byte for byte', async () => {
    // Hand-written, with the spacing and escapes a client might produce: the
    // signature only verifies if every byte reaches Anthropic unchanged.
    const body = `{"model":"${MODEL}","max_tokens":16000,"thinking":{"type":"enabled","budget_tokens":10000},
 "messages":[{"role":"user","content":"What is Neon?"},
  {"role":"assistant","content":[
    {"type":"thinking","thinking":"The user asks about Neon.\\nIt is serverless Postgres \\u2014 ok.","signature":"${THINKING_SIGNATURE}"},
    {"type":"redacted_thinking","data":"${REDACTED_THINKING}"},
    {"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Z\\u00fcrich"}}]},
  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"12 \\u00b0C"}]}]}`;
    const response = await rawPost('/v1/messages', body);
    expect(response.status).toBe(200);
    expect(stack.upstream.received[0]?.sha256).toBe(sha256(body));
  });

  it('the same multi-turn request through the SDK arrives as the SDK sent it', async () => {
    replyWith([{ type: 'text', text: 'It is 12 °C in Zürich.' }]);
    await client.messages.create({
      ...ask,
      messages: [
        { role: 'user', content: 'Weather in Zürich?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Call the tool.', signature: THINKING_SIGNATURE },
            { type: 'redacted_thinking', data: REDACTED_THINKING },
            { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Zürich' } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '12 °C' }] },
      ],
    });
    expectSdkBytesArrived();
  });
});

describe('request features arrive unchanged', () => {
  it('tool use: tools and tool_choice go up; a streamed tool_use block comes back with its input', async () => {
    const toolUse: Block = {
      type: 'tool_use',
      id: 'toolu_01A',
      name: 'get_weather',
      input: { city: 'Paris', unit: 'celsius' },
    };
    streamWith([{ type: 'text', text: 'Let me check.' }, toolUse], CACHE_USAGE, 'tool_use');
    const final = await client.messages
      .stream({
        model: MODEL,
        max_tokens: 1024,
        tools: [
          {
            name: 'get_weather',
            description: 'Weather for a city',
            input_schema: {
              type: 'object',
              properties: {
                city: { type: 'string' },
                unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
              },
              required: ['city'],
            },
          },
        ],
        tool_choice: { type: 'auto', disable_parallel_tool_use: true },
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
      })
      .finalMessage();
    expectSdkBytesArrived();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content[1]).toEqual(toolUse);
  });

  it('an image (base64, 3 MB)', async () => {
    const png = Buffer.concat([
      Buffer.from('89504e470d0a1a0a', 'hex'),
      Buffer.alloc(3 * 1024 * 1024, 0x5a).map((_, i) => (i * 7919) & 0xff),
    ]);
    await client.messages.create({
      model: MODEL,
      max_tokens: 1024,
      messages: [
        {
          role: 'user',
          content: [
            {
              type: 'image',
              source: { type: 'base64', media_type: 'image/png', data: png.toString('base64') },
            },
            { type: 'text', text: 'Describe this image.' },
          ],
        },
      ],
    });
    const received = expectSdkBytesArrived();
    expect(received.body.length).toBeGreaterThan(4 * 1024 * 1024);
  });

  it('a PDF document (base64) with citations enabled', async () => {
    const pdf = Buffer.concat([
      Buffer.from('%PDF-1.7\n'),
      Buffer.alloc(1024 * 1024).map((_, i) => (i * 31) & 0xff),
      Buffer.from('\n%%EOF\n'),
    ]);
    await client.messages.create({
      model: MODEL,
      max_tokens: 1024,
      messages: [
        {
          role: 'user',
          content: [
            {
              type: 'document',
              source: { type: 'base64', media_type: 'application/pdf', data: pdf.toString('base64') },
              citations: { enabled: true },
            },
            { type: 'text', text: 'Summarize this PDF.' },
          ],
        },
      ],
    });
    expectSdkBytesArrived();
    const [content] = (sentJson().messages as Array<{ content: Array<{ source: { data: string } }> }>) ?? [];
    expect(Buffer.from(content?.content[0]?.source.data ?? '', 'base64').equals(pdf)).toBe(true);
  });

  it('stop_sequences and metadata; the stop_sequence that ended the message comes back', async () => {
    stack.upstream.queue((_request, res) =>
      json(res, 200, {
        ...message(MODEL, [{ type: 'text', text: 'one, two' }]),
        stop_reason: 'stop_sequence',
        stop_sequence: '###',
      }),
    );
    const response = await client.messages.create({
      model: MODEL,
      max_tokens: 64,
      stop_sequences: ['###', '\n\nHuman:'],
      metadata: { user_id: 'user-7f3a' },
      messages: [{ role: 'user', content: 'Count.' }],
    });
    expectSdkBytesArrived();
    expect(sentJson()).toMatchObject({
      stop_sequences: ['###', '\n\nHuman:'],
      metadata: { user_id: 'user-7f3a' },
    });
    expect(response.stop_reason).toBe('stop_sequence');
    expect(response.stop_sequence).toBe('###');
  });

  it('several comma-separated anthropic-beta values, from the SDK and repeated headers from raw HTTP', async () => {
    const betas = ['prompt-caching-2024-07-31', 'interleaved-thinking-2025-05-14', 'context-1m-2025-08-07'];
    await client.beta.messages.create({
      model: MODEL,
      max_tokens: 64,
      betas,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const fromSdk = expectSdkBytesArrived();
    expect(fromSdk.headers.filter(([name]) => name === 'anthropic-beta').map(([, value]) => value)).toEqual([
      betas.join(','),
    ]);

    stack.upstream.reset();
    const body = '{"model":"claude-sonnet-4-6","max_tokens":8,"messages":[{"role":"user","content":"Hi"}]}';
    const response = await rawPost('/v1/messages?beta=true', body, [
      ['anthropic-beta', 'prompt-caching-2024-07-31, interleaved-thinking-2025-05-14'],
      ['anthropic-beta', 'future-beta-2027-01-01'],
    ]);
    expect(response.status).toBe(200);
    const received = stack.upstream.received[0];
    expect(received?.sha256).toBe(sha256(body));
    // Envoy may fold repeated headers into one (RFC 9110 §5.3); the values and their order must survive.
    const betaValues = received?.headers
      .filter(([name]) => name === 'anthropic-beta')
      .flatMap(([, value]) => value.split(',').map((part) => part.trim()));
    expect(betaValues).toEqual([
      'prompt-caching-2024-07-31',
      'interleaved-thinking-2025-05-14',
      'future-beta-2027-01-01',
    ]);
  });

  it('an unknown future field, at the top level and nested, arrives byte for byte', async () => {
    const body = `{"model":"${MODEL}","max_tokens":64,"messages":[{"role":"user","content":[{"type":"text","text":"Hi","future_block_option":{"a":[1,2.50,-0e0]}}]}],
      "future_field_2027":{"mode":"x","weights":[0.1,1E+2],"nested":{"deep":[[[]]],"nil":null}},"service_tier":"auto"}`;
    const response = await rawPost('/v1/messages', body);
    expect(response.status).toBe(200);
    expect(stack.upstream.received[0]?.sha256).toBe(sha256(body));
  });
});
