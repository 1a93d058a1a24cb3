// Hostile upstream answers through the real Envoy, at its usage filters
// (sse_to_metadata and its JSON parser are work in progress in Envoy 1.40,
// outside its threat model; json_to_metadata reads every JSON answer): huge
// events, broken and deep JSON, endless lines without a newline, huge,
// negative, fractional and string token counts, many events, bytes that are
// not UTF-8, all cut into random chunks. Whatever the upstream sends, the
// client gets exactly its bytes, Envoy stays up, and the access line holds
// sane usage (whole numbers, 0 or more) or none. FUZZ_RUNS raises the count.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Responder } from '../support/fake-upstream.ts';
import { runs } from '../support/fuzz.ts';
import {
  GATEWAY_TOKEN,
  type GatewayStack,
  type LogEntry,
  seedRequest,
  startStack,
} from '../support/gateway-stack.ts';

let stack: GatewayStack;

beforeAll(async () => {
  stack = await startStack({ env: { LOG_LEVEL: 'info' } });
});
afterAll(async () => {
  await stack?.stop();
});

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
  /** Where the body is cut into separate writes (offsets, any order). */
  readonly cuts: readonly number[];
}

/** Writes the body in pieces, each in its own turn of the event loop, so Envoy sees them as separate chunks. */
function answerWith(answer: Answer): Responder {
  return async (_request, res) => {
    res.writeHead(answer.status, { 'content-type': answer.contentType });
    const points = [...new Set(answer.cuts.map((c) => c % (answer.body.length + 1)))].sort((a, b) => a - b);
    let start = 0;
    for (const point of [...points, answer.body.length]) {
      if (point > start) res.write(answer.body.subarray(start, point));
      start = point;
      await new Promise((resolve) => setImmediate(resolve));
    }
    res.end();
  };
}

const accessLines = (): LogEntry[] =>
  stack.processorLog.map((line) => JSON.parse(line) as LogEntry).filter((e) => e.msg === 'access');

const isCount = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** Sends one request answered by `answer`; checks the bytes, Envoy, and the request's access line. */
async function roundTrip(answer: Answer, path = '/v1/messages'): Promise<LogEntry> {
  const before = accessLines().length;
  stack.upstream.queue(answerWith(answer));
  const response = await fetch(`${stack.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': GATEWAY_TOKEN },
    body: JSON.stringify(seedRequest()),
  });
  expect(response.status).toBe(answer.status);
  const received = new Uint8Array(await response.arrayBuffer());
  expect(received.length).toBe(answer.body.length);
  expect(sha(received)).toBe(sha(answer.body));
  expect((await stack.envoy.admin.request('/ready')).status).toBe(200);
  // Requests go one at a time: the next access line is this one's.
  await expect.poll(() => accessLines().length, { timeout: 10_000 }).toBeGreaterThan(before);
  const line = accessLines()[before] as LogEntry;
  expect(line.status).toBe(answer.status);
  const usage = line.usage as Record<string, unknown> | undefined;
  if (usage !== undefined) for (const value of Object.values(usage)) expect(isCount(value)).toBe(true);
  const cacheCreation = line.cacheCreation as Record<string, unknown> | undefined;
  if (cacheCreation !== undefined)
    for (const value of Object.values(cacheCreation)) expect(isCount(value)).toBe(true);
  if (line.countedInputTokens !== undefined) expect(isCount(line.countedInputTokens)).toBe(true);
  // A cost is a finite amount of 0 or more, and only with usage to price (or count_tokens' 0).
  if (line.costUsd !== undefined) {
    expect(Number.isFinite(line.costUsd) && (line.costUsd as number) >= 0).toBe(true);
    expect(usage !== undefined || line.costUsd === 0).toBe(true);
  }
  return line;
}

const SSE = 'text/event-stream; charset=utf-8';
const event = (name: string, data: string) => `event: ${name}\ndata: ${data}\n\n`;
const start = (usage: string) =>
  event('message_start', `{"type":"message_start","message":{"usage":${usage}}}`);
const delta = (usage: string) =>
  event('message_delta', `{"type":"message_delta","delta":{},"usage":${usage}}`);
const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** Hand-picked hostile answers, each with its name. */
const CASES: ReadonlyArray<readonly [string, string, string | Buffer]> = [
  [
    'a huge event',
    SSE,
    start(`{"input_tokens":5,"pad":"${'x'.repeat(1024 * 1024)}"}`) + delta('{"output_tokens":2}'),
  ],
  [
    'broken JSON',
    SSE,
    `${event('message_start', '{"type":"message_start","message":{"usage":{"input_tokens":5}')}${delta('{"output_tokens":')}`,
  ],
  ['an endless line without a newline', SSE, `data: ${'a'.repeat(3 * 1024 * 1024)}`],
  ['an endless event without a blank line', SSE, `data: {"usage":{"output_tokens":1}}\n`.repeat(50_000)],
  [
    'huge numbers',
    SSE,
    start('{"input_tokens":1e400,"output_tokens":123456789012345678901234567890}') +
      delta('{"cache_read_input_tokens":9007199254740993}'),
  ],
  [
    'negative, fractional and string counts',
    SSE,
    start(
      '{"input_tokens":-5,"output_tokens":1.5,"cache_read_input_tokens":"12","cache_creation_input_tokens":true}',
    ) +
      delta(
        '{"output_tokens":null,"input_tokens":{"a":1},"cache_creation":{"ephemeral_5m_input_tokens":-1}}',
      ),
  ],
  ['deep arrays', SSE, event('message_start', `{"message":{"usage":${deep(100_000)}}}`)],
  ['deep objects', SSE, event('message_delta', `{"usage":${deepObject(20_000)}}`)],
  ['many events', SSE, Array.from({ length: 20_000 }, (_, i) => delta(`{"output_tokens":${i}}`)).join('')],
  [
    'CRLF lines and data without a space',
    SSE,
    'event: message_start\r\ndata:{"message":{"usage":{"input_tokens":3}}}\r\n\r\n',
  ],
  [
    'bytes that are not UTF-8',
    SSE,
    Buffer.concat([
      Buffer.from('data: {"usage":{"output_tokens":'),
      Buffer.from([0xff, 0xfe, 0x80]),
      Buffer.from('}}\n\n'),
    ]),
  ],
  ['deep JSON answer', 'application/json', `{"usage":${deepObject(50_000)}}`],
  [
    'JSON answer with huge and negative numbers',
    'application/json',
    '{"usage":{"input_tokens":1e400,"output_tokens":-3,"cache_read_input_tokens":2.5}}',
  ],
  ['JSON answer that is no JSON', 'application/json', '{"usage":{"input_tokens":5'],
  ['JSON answer of an array', 'application/json', `[${'{"usage":{"input_tokens":5}},'.repeat(10_000)}1]`],
];

describe('hostile upstream answers through the usage filters', () => {
  for (const [name, contentType, body] of CASES) {
    it(`passes ${name} through intact, with sane usage or none`, async () => {
      await roundTrip({ status: 200, contentType, body: Buffer.from(body), cuts: [7, 4096, 65_537] });
    });
  }

  it('reads a sane stream after all of them, as the last report has it', async () => {
    const line = await roundTrip({
      status: 200,
      contentType: SSE,
      body: Buffer.from(
        start('{"input_tokens":41,"output_tokens":1}') + delta('{"input_tokens":41,"output_tokens":9}'),
      ),
      cuts: [3, 50],
    });
    expect(line.usage).toEqual({
      input_tokens: 41,
      output_tokens: 9,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
  });

  it(`passes ${runs(40)} generated answers through intact, with sane usage or none`, async () => {
    const count = fc.oneof(
      fc.integer({ min: -10, max: 2 ** 31 }).map(String),
      fc.double().map((d) => (Number.isFinite(d) ? String(d) : '1e999')),
      fc.constantFrom('"7"', 'true', 'null', '{}', '[]', '1e400', '-0', '12345678901234567890123'),
    );
    const usage = fc
      .record(
        { input_tokens: count, output_tokens: count, cache_read_input_tokens: count },
        { requiredKeys: [] },
      )
      .map(
        (fields) =>
          `{${Object.entries(fields)
            .map(([k, v]) => `"${k}":${v}`)
            .join(',')}}`,
      );
    const piece = fc.oneof(
      usage.map(start),
      usage.map(delta),
      fc.string({ maxLength: 200 }).map((text) => event('content_block_delta', JSON.stringify({ text }))),
      fc.string({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
      fc.constantFrom('\n', '\n\n', '\r\n', 'data: ', 'event: message_delta\n', '{', '}'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { maxLength: 30 }),
        fc.constantFrom(SSE, 'application/json'),
        fc.constantFrom(200, 200, 400, 529),
        fc.array(fc.nat(20_000), { maxLength: 6 }),
        async (pieces, contentType, status, cuts) => {
          const line = await roundTrip({
            status,
            contentType,
            body: Buffer.from(pieces.join(''), 'latin1'),
            cuts,
          });
          // An error answer never carries usage, whatever its body says.
          if (status !== 200) expect(line.usage).toBeUndefined();
        },
      ),
      { numRuns: runs(40) },
    );
  });
});
