// The usage readers: SSE (message_start plus cumulative message_delta) and the
// top-level JSON field reader, fed in every way a stream can be cut.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopLevelFieldReader } from '../../processor/metering/json-fields.ts';
import { createUsageMeter } from '../../processor/metering/meter.ts';
import { SseUsageReader } from '../../processor/metering/sse-usage.ts';
import { applyUsageReport, emptyUsage, quotaTokens } from '../../processor/metering/usage.ts';
import { encodeSse, messageBody, textStreamEvents } from '../support/fake-upstream.ts';

/** Cuts `bytes` at the given offsets (sorted, deduplicated, in range). */
function cut(bytes: Buffer, offsets: readonly number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

const CACHED = {
  input_tokens: 21,
  output_tokens: 345,
  cache_creation_input_tokens: 1000,
  cache_read_input_tokens: 2000,
};

/** A streamed message whose message_delta repeats the cumulative totals, cache fields included. */
function cachedStream(): Buffer {
  const events = textStreamEvents(
    'claude-sonnet-4-6',
    ['Hello', ' "usage": {"output_tokens": 999}', ' world'],
    CACHED,
  );
  const delta = events.find((e) => e.event === 'message_delta');
  if (delta === undefined) throw new Error('no message_delta');
  (delta.data as { usage: unknown }).usage = { ...CACHED };
  return Buffer.from(events.map(encodeSse).join(''));
}

describe('applyUsageReport', () => {
  it('replaces the fields a report names (usage is cumulative) and ignores the rest', () => {
    const usage = emptyUsage();
    expect(applyUsageReport(usage, { input_tokens: 5, output_tokens: 1, cache_read_input_tokens: 7 })).toBe(
      true,
    );
    expect(applyUsageReport(usage, { output_tokens: 30 })).toBe(true);
    expect(applyUsageReport(usage, { output_tokens: 30 })).toBe(false);
    expect(
      applyUsageReport(usage, { input_tokens: -1, output_tokens: 'many', cache_creation_input_tokens: null }),
    ).toBe(false);
    expect(applyUsageReport(usage, null)).toBe(false);
    expect(usage).toEqual({
      input_tokens: 5,
      output_tokens: 30,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 7,
    });
  });

  it('charges input, cache writes and output to quotas, not cache reads', () => {
    expect(quotaTokens(CACHED)).toBe(21 + 1000 + 345);
  });
});

describe('SseUsageReader', () => {
  it('reads message_start and the cumulative message_delta, counting cache tokens once', () => {
    const reader = new SseUsageReader();
    reader.feed(cachedStream());
    expect(reader.usage).toEqual(CACHED);
    expect(reader.stopped).toBe(true);
  });

  it('gives the same usage however the stream is cut into chunks', () => {
    const stream = cachedStream();
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 40 }), (offsets) => {
        const reader = new SseUsageReader();
        for (const chunk of cut(stream, offsets)) reader.feed(chunk);
        expect(reader.usage).toEqual(CACHED);
      }),
    );
  });

  it('reads a stream cut after every single byte', () => {
    const stream = cachedStream();
    const reader = new SseUsageReader();
    for (let i = 0; i < stream.length; i += 1) reader.feed(stream.subarray(i, i + 1));
    expect(reader.usage).toEqual(CACHED);
  });

  it('has the input side after message_start alone (a stream cut short)', () => {
    const stream = cachedStream().toString();
    const reader = new SseUsageReader();
    const changed = reader.feed(Buffer.from(stream.slice(0, stream.indexOf('event: content_block_delta'))));
    expect(changed).toBe(true);
    expect(reader.usage).toEqual({ ...CACHED, output_tokens: 1 });
    expect(reader.stopped).toBe(false);
  });

  it('accepts CRLF line ends and events without an event: line', () => {
    const text = [
      `data: ${JSON.stringify({ type: 'message_start', message: { usage: { input_tokens: 4, output_tokens: 1 } } })}`,
      '',
      `data: ${JSON.stringify({ type: 'message_delta', usage: { output_tokens: 8 } })}`,
      '',
      '',
    ].join('\r\n');
    const reader = new SseUsageReader();
    reader.feed(Buffer.from(text));
    expect(reader.usage).toMatchObject({ input_tokens: 4, output_tokens: 8 });
  });

  it('ignores usage-looking text inside other events, comments and malformed data', () => {
    const text = [
      'event: content_block_delta',
      `data: ${JSON.stringify({ type: 'message_delta', usage: { output_tokens: 500 } })}`,
      '',
      ': a comment with "usage"',
      'event: message_delta',
      'data: {not json',
      '',
      'event: message_delta',
      `data: ${JSON.stringify({ type: 'message_delta', usage: { output_tokens: 6 } })}`,
      '',
      '',
    ].join('\n');
    const reader = new SseUsageReader();
    reader.feed(Buffer.from(text));
    expect(reader.usage.output_tokens).toBe(6);
  });
});

describe('TopLevelFieldReader', () => {
  const body = Buffer.from(
    JSON.stringify({
      id: 'msg_1',
      content: [
        { type: 'text', text: 'a "usage": {"input_tokens": 1} \\ " }' },
        { usage: { input_tokens: 2 } },
      ],
      nested: { usage: { input_tokens: 3 } },
      'us\u00e9age': 1,
      usage: { input_tokens: 12, output_tokens: 7 },
    }),
  );

  it('finds the top-level field only, however the body is cut', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 30 }), (offsets) => {
        const found: unknown[] = [];
        const reader = new TopLevelFieldReader({ usage: (value) => found.push(value) });
        for (const chunk of cut(body, offsets)) reader.feed(chunk);
        expect(found).toEqual([{ input_tokens: 12, output_tokens: 7 }]);
      }),
    );
  });

  it('agrees with JSON.parse on random documents (escapes, nesting, unicode), however cut', () => {
    const document = fc
      .tuple(
        fc.dictionary(
          fc.string({ unit: 'binary', maxLength: 8 }),
          fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }),
          {
            maxKeys: 6,
          },
        ),
        fc.jsonValue({ maxDepth: 2, stringUnit: 'binary' }),
        fc.nat(),
      )
      .map(([fields, usage, at]) => {
        const entries = Object.entries(fields).filter(([key]) => key !== 'usage');
        entries.splice(at % (entries.length + 1), 0, ['usage', usage]);
        return Buffer.from(JSON.stringify(Object.fromEntries(entries)));
      });
    fc.assert(
      fc.property(document, fc.array(fc.nat(), { maxLength: 12 }), (bytes, offsets) => {
        const found: unknown[] = [];
        const reader = new TopLevelFieldReader({ usage: (value) => found.push(value) });
        for (const chunk of cut(bytes, offsets)) reader.feed(chunk);
        expect(found).toEqual([(JSON.parse(bytes.toString()) as { usage: unknown }).usage]);
      }),
    );
  });

  it('finds a field that is not the last, and nothing in a document that is not an object', () => {
    const found: unknown[] = [];
    new TopLevelFieldReader({ input_tokens: (v) => found.push(v) }).feed(
      Buffer.from('{"input_tokens": 42, "x": [1]}'),
    );
    new TopLevelFieldReader({ input_tokens: (v) => found.push(v) }).feed(
      Buffer.from('[{"input_tokens": 1}]'),
    );
    expect(found).toEqual([42]);
  });
});

describe('createUsageMeter', () => {
  it('reads a JSON message', () => {
    const meter = createUsageMeter('messages', 200, 'application/json');
    const body = Buffer.from(JSON.stringify(messageBody('claude-haiku-4-5', 'hi', CACHED)));
    expect(meter.feed(body)).toBe(true);
    expect(meter.usage).toEqual(CACHED);
    expect(meter.countedInputTokens).toBeUndefined();
  });

  it('reads an SSE stream by its content type', () => {
    const meter = createUsageMeter('messages', 200, 'text/event-stream; charset=utf-8');
    meter.feed(cachedStream());
    expect(meter.usage).toEqual(CACHED);
  });

  it('keeps count_tokens apart: counted tokens, no usage', () => {
    const meter = createUsageMeter('count_tokens', 200, 'application/json');
    expect(meter.feed(Buffer.from('{"input_tokens":42}'))).toBe(false);
    expect(meter.countedInputTokens).toBe(42);
    expect(meter.usage).toBeUndefined();
  });

  it('reads nothing from errors or from requests that never reached a route', () => {
    const error = Buffer.from(JSON.stringify({ type: 'error', usage: { input_tokens: 5 } }));
    for (const meter of [
      createUsageMeter('messages', 529, 'application/json'),
      createUsageMeter(undefined, 200, 'application/json'),
    ]) {
      meter.feed(error);
      expect(meter.usage).toBeUndefined();
    }
  });
});
