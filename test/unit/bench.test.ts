// The benchmark harness's pure parts: the figures it reports are only as good
// as these. (The harness itself runs with `npm run bench`, never in the tests.)
import { describe, expect, it } from 'vitest';
import { messagesBody } from '../../bench/lib/bodies.ts';
import { latencyChart } from '../../bench/lib/chart.ts';
import { PROCESSOR_FILTERS, renderPlainEnvoyBootstrap } from '../../bench/lib/plain-envoy.ts';
import { moduleOf } from '../../bench/lib/profile-summary.ts';
import { phaseOf } from '../../bench/lib/raw-floor.ts';
import type { ClosedLoopResult, RunResults } from '../../bench/lib/results.ts';
import { streamEvents } from '../../bench/lib/sse-upstream.ts';
import { percentile, sortedCopy, summarize } from '../../bench/lib/stats.ts';
import type { SystemName } from '../../bench/lib/systems.ts';
import { evaluateTargets } from '../../bench/report.ts';
import { renderBootstrap } from '../../envoy/bootstrap/index.ts';
import { buildConfig } from '../../processor/config/load.ts';
import { loadExtProcService } from '../../processor/extproc/protos.ts';
import { scanModel } from '../../processor/policy/model-scanner.ts';

describe('bench stats', () => {
  it('takes nearest-rank percentiles, sorting numerically', () => {
    const sorted = sortedCopy([10, 9, 1, 2, 100, 3, 4, 5, 6, 7, 8]);
    expect(sorted).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100]);
    expect(percentile(sorted, 0.5)).toBe(6);
    expect(percentile(sorted, 0.99)).toBe(100);
    expect(percentile(sorted, 0)).toBe(1);
    expect(Number.isNaN(percentile([], 0.5))).toBe(true);
  });

  it('summarises p50, p99, p99.9 and max over every sample', () => {
    const samples = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(summarize(samples)).toEqual({ count: 1000, p50: 500, p99: 990, p999: 999, max: 1000 });
  });
});

describe('bench bodies', () => {
  it('builds Messages requests of exactly the asked size, valid JSON with a model', () => {
    for (const bytes of [6 * 1024, 200 * 1024]) {
      for (const stream of [false, true]) {
        const body = messagesBody(bytes, stream);
        expect(body.length).toBe(bytes);
        expect(scanModel(body)).toEqual({ ok: true, model: 'claude-sonnet-4-6' });
        expect((JSON.parse(body.toString()) as { stream?: boolean }).stream).toBe(stream ? true : undefined);
      }
    }
  });
});

describe('bench plain Envoy', () => {
  it("is the gateway bootstrap without the processor's filters, and nothing else changed", () => {
    const loaded = buildConfig({}, { ANTHROPIC_API_KEY: 'k', GATEWAY_TOKEN: 't' });
    if (!loaded.ok) throw new Error(loaded.problems.join('; '));
    const gateway = renderBootstrap(loaded.config.settings) as Record<string, unknown>;
    const plain = renderPlainEnvoyBootstrap(loaded.config.settings);
    const text = JSON.stringify(plain);
    for (const name of PROCESSOR_FILTERS) expect(text).not.toContain(`"${name}"`);
    const removed: readonly string[] = PROCESSOR_FILTERS;
    const withoutProcessor = JSON.parse(JSON.stringify(gateway), (key, value: unknown) => {
      if (Array.isArray(value))
        return value.filter((item) => !removed.includes((item as { name?: string } | null)?.name ?? ''));
      if (key !== 'typed_per_filter_config' || value === null || typeof value !== 'object') return value;
      // A route's switches for the removed filters go with them.
      const kept = Object.entries(value).filter(([name]) => !removed.includes(name));
      return kept.length === 0 ? undefined : Object.fromEntries(kept);
    });
    expect(plain).toEqual(withoutProcessor);
  });
});

describe('bench raw empty processor', () => {
  it('reads the phase and the end of stream of an encoded ProcessingRequest', () => {
    const serialize = loadExtProcService().Process?.requestSerialize as (value: unknown) => Buffer;
    const headers = { headers: [{ key: ':method', raw_value: Buffer.from('POST') }] };
    const metadata = { filter_metadata: { anthropic_gateway: { fields: { a: { stringValue: 'b' } } } } };
    expect(phaseOf(serialize({ request_headers: { headers, end_of_stream: false } }))).toEqual({
      phase: 2,
      last: false,
    });
    expect(phaseOf(serialize({ request_headers: { headers, end_of_stream: true } }))).toEqual({
      phase: 2,
      last: true,
    });
    expect(phaseOf(serialize({ request_body: { body: Buffer.from('{}'), end_of_stream: true } }))).toEqual({
      phase: 4,
      last: true,
    });
    expect(
      phaseOf(
        serialize({ response_headers: { headers }, metadata_context: metadata, observability_mode: true }),
      ),
    ).toEqual({ phase: 3, last: false });
    expect(
      phaseOf(
        serialize({
          response_body: { body: Buffer.alloc(300, 7), end_of_stream: true },
          metadata_context: metadata,
        }),
      ),
    ).toEqual({ phase: 5, last: true });
  });
});

describe('bench SSE mock', () => {
  it('streams the given number of Anthropic events, from message_start to message_stop', () => {
    const events = streamEvents(64);
    expect(events).toHaveLength(64);
    expect(events[0]).toMatch(/^event: message_start\ndata: \{/);
    expect(events.at(-1)).toBe('event: message_stop\ndata: {"type":"message_stop"}\n\n');
    for (const event of events) expect(event.endsWith('\n\n')).toBe(true);
  });
});

describe('bench profile summary', () => {
  it('attributes frames to our code, packages, Node internals and the garbage collector', () => {
    const frame = (url: string, functionName = 'f') => ({ url, functionName, lineNumber: 0 });
    expect(moduleOf(frame('file:///w/node_modules/@grpc/grpc-js/build/src/server.js'))).toBe('@grpc/grpc-js');
    expect(moduleOf(frame('file:///w/node_modules/protobufjs/src/reader.js'))).toBe('protobufjs');
    expect(moduleOf(frame('file:///w/processor/policy/model-scanner.ts'))).toBe(
      'ours: processor/policy/model-scanner.ts',
    );
    expect(moduleOf(frame('node:internal/http2/core'))).toBe('node:internal');
    expect(moduleOf(frame('', '(garbage collector)'))).toBe('garbage collector');
  });
});

describe('bench chart', () => {
  it('draws one line per system in each panel, on a log scale', () => {
    const row = (system: ClosedLoopResult['system'], concurrency: number, p50: number): ClosedLoopResult => ({
      system,
      body: 'small',
      concurrency,
      latency: { count: 1, p50, p99: p50 * 3, p999: p50 * 4, max: p50 * 5 },
      rps: [1],
      failures: 0,
    });
    const svg = latencyChart(
      [row('direct', 1, 0.06), row('direct', 16, 0.5), row('gateway', 1, 0.7), row('gateway', 16, 3)],
      'test',
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(4);
    expect(svg).toContain('(c) this gateway');
  });
});

describe('bench targets', () => {
  const latency = (p50: number, p99: number) => ({ p50, p99, p999: p99, max: p99, count: 100 });
  const closed = (
    system: SystemName,
    body: 'small' | 'large',
    concurrency: number,
    p99: number,
    rps: number,
  ) => ({
    system,
    body,
    concurrency,
    latency: latency(p99 / 2, p99),
    rps: [rps, rps],
    failures: 0,
  });
  const results = (gatewayRate16: number, processorUs: number): RunResults =>
    ({
      closedLoop: [
        closed('envoy', 'small', 1, 0.5, 3000),
        closed('gateway', 'small', 1, 1.4, 900),
        closed('envoy', 'small', 16, 0.9, 10_000),
        closed('gateway', 'small', 16, 4, gatewayRate16),
        closed('envoy', 'large', 1, 0.7, 1000),
        closed('gateway', 'large', 1, 5.6, 200),
        closed('portkey', 'large', 1, 12, 80),
        closed('envoy', 'large', 16, 4, 8000),
        closed('gateway', 'large', 16, 20, 1000),
      ],
      cost: [
        {
          system: 'gateway',
          requests: 1000,
          cpuMsPer1000: { envoy: 150, processor: processorUs },
          rssBytes: {},
        },
        { system: 'envoy', requests: 1000, cpuMsPer1000: { envoy: 57 }, rssBytes: {} },
      ],
      throughput: [
        { system: 'gateway', best: 3000, steps: [] },
        { system: 'envoy', best: 10_000, steps: [] },
      ],
      sse: [],
      huge: [],
    }) as unknown as RunResults;
  const met = (r: RunResults) => Object.fromEntries(evaluateTargets(r).map((t) => [t.target, t.met]));

  it("judges each of the issue's rows against plain Envoy in the same run, limits included", () => {
    const at = met(results(3500, 130));
    expect(at['throughput at p99 ≤ 5 ms, 6 KB: ≥ 0.3× plain Envoy']).toBe(true);
    expect(at['closed-loop rate at concurrency 16, 6 KB: ≥ 0.35× plain Envoy']).toBe(true);
    expect(at['closed-loop rate at concurrency 16, 200 KB: ≥ 0.25× plain Envoy']).toBe(false);
    expect(at['added p99 at concurrency 1 over plain Envoy, 6 KB: ≤ 1.0 ms']).toBe(true);
    expect(at["p99 at concurrency 1, 200 KB: below Portkey's, and ≤ 5 ms above plain Envoy"]).toBe(true);
    expect(at['CPU per request at concurrency 16, 6 KB, processor: ≤ 130 µs']).toBe(true);
    expect(at['CPU per request at concurrency 16, 6 KB, Envoy: ≤ 150 µs']).toBe(true);
    const below = met(results(3499, 131));
    expect(below['closed-loop rate at concurrency 16, 6 KB: ≥ 0.35× plain Envoy']).toBe(false);
    expect(below['CPU per request at concurrency 16, 6 KB, processor: ≤ 130 µs']).toBe(false);
  });
});
