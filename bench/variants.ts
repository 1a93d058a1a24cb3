// `node bench/variants.ts`: where the gateway's cost comes from. Runs variants
// of Envoy-with-a-processor side by side (interleaved rounds, one oha load at a
// time) and prints latency, rate and CPU per request of Envoy and of the
// processor. The figures of "Where the cost is" and "Measured and not kept" in
// docs/benchmarks.md come from here. Not part of `npm run bench`.
//
//   node bench/variants.ts --variants envoy,floor,gateway --concurrency 16
//   node bench/variants.ts --variants envoy,floor,floor-pipelined --rate 100 --concurrency 64
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { JSON_USAGE_FILTER, STREAM_USAGE_FILTER } from '../envoy/bootstrap/index.ts';
import { writeBody } from './lib/bodies.ts';
import { startMockUpstream } from './lib/mock-upstream.ts';
import { runLoad } from './lib/oha.ts';
import { removeHttpFilter } from './lib/plain-envoy.ts';
import { sampleProcess } from './lib/proc.ts';
import { median, sortedCopy, summarize } from './lib/stats.ts';
import {
  type ProcessorVariant,
  type SystemUnderTest,
  startSystem,
  startWithProcessor,
} from './lib/systems.ts';

type Json = Record<string, unknown>;

/** Applies `change` to every object in the bootstrap that `matches`. */
function rewrite(matches: (o: Json) => boolean, change: (o: Json) => Json): (b: Json) => Json {
  return (bootstrap) =>
    JSON.parse(JSON.stringify(bootstrap), (_key, value: unknown) =>
      value !== null && typeof value === 'object' && !Array.isArray(value) && matches(value as Json)
        ? change(value as Json)
        : value,
    ) as Json;
}

/** Removes the http filter named `name` (the bootstrap is the variant's own copy). */
function withoutFilter(name: string): (b: Json) => Json {
  return (bootstrap) => {
    removeHttpFilter(bootstrap, name);
    return bootstrap;
  };
}

const isPolicyFilter = (o: Json) => (o.processing_mode as Json | undefined)?.request_body_mode === 'BUFFERED';

/** Headers and body in one exchange: Envoy streams the body without waiting for the headers' answer. */
const pipelined = rewrite(isPolicyFilter, (o) => ({
  ...o,
  send_body_without_waiting_for_header_response: true,
  processing_mode: { ...(o.processing_mode as Json), request_body_mode: 'STREAMED' },
}));
/** Without metering: no usage filters, no access log to the processor. */
const noMetering = (bootstrap: Json): Json =>
  [STREAM_USAGE_FILTER, JSON_USAGE_FILTER, 'envoy.access_loggers.http_grpc'].reduce(
    (b, name) => withoutFilter(name)(b),
    bootstrap,
  );

const VARIANTS: Readonly<Record<string, ProcessorVariant | 'envoy'>> = {
  envoy: 'envoy',
  gateway: { processor: 'gateway' },
  'gateway-no-metering': { processor: 'gateway', bootstrap: noMetering },
  floor: { processor: 'floor' },
  'floor-no-metering': { processor: 'floor', bootstrap: noMetering },
  'floor-pipelined': { processor: 'floor', floorArgs: ['--pipelined'], bootstrap: pipelined },
  'floor-no-metering-pipelined': {
    processor: 'floor',
    floorArgs: ['--pipelined'],
    bootstrap: (b) => pipelined(noMetering(b)),
  },
  'gateway-one-worker': { processor: 'gateway', envoyArgs: ['--concurrency', '1'] },
  'floor-one-worker': { processor: 'floor', envoyArgs: ['--concurrency', '1'] },
  'gateway-grpc-js': { processor: 'gateway-grpc-js' },
  'floor-grpc-js': { processor: 'floor', floorArgs: ['--grpc-js'] },
  'floor-grpc-js-no-metering': { processor: 'floor', floorArgs: ['--grpc-js'], bootstrap: noMetering },
  'floor-raw-decoded': { processor: 'floor', floorArgs: ['--raw', '--decode'] },
  'floor-raw': { processor: 'floor', floorArgs: ['--raw'] },
  'floor-raw-no-metering': { processor: 'floor', floorArgs: ['--raw'], bootstrap: noMetering },
};

const { values: args } = parseArgs({
  options: {
    variants: { type: 'string', default: 'envoy,floor,gateway' },
    concurrency: { type: 'string', default: '1' },
    rate: { type: 'string' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    bytes: { type: 'string', default: String(6 * 1024) },
  },
});
const names = (args.variants ?? '').split(',');
for (const name of names) {
  if (!(name in VARIANTS))
    throw new Error(`unknown variant ${name}; one of ${Object.keys(VARIANTS).join(', ')}`);
}

const dir = mkdtempSync(join(tmpdir(), 'gateway-variants-'));
const body = writeBody(dir, 'body', Number(args.bytes));
const mock = await startMockUpstream();
const started: Array<{ name: string; system: SystemUnderTest }> = [];
try {
  for (const name of names) {
    const variant = VARIANTS[name] as ProcessorVariant | 'envoy';
    const system =
      variant === 'envoy'
        ? await startSystem('envoy', mock.url, { processorTransport: 'unix' })
        : await startWithProcessor(
            mock.url,
            { processorTransport: 'unix' },
            variant.processor === 'floor' ? 'floor' : 'gateway',
            variant,
          );
    started.push({ name, system });
  }
  const load = (system: SystemUnderTest, concurrency: number, seconds: number, rate?: number) =>
    runLoad({
      url: system.url,
      headers: system.headers,
      bodyFile: body,
      concurrency,
      seconds,
      ...(rate === undefined ? {} : { rate }),
    });
  for (const { system } of started) await load(system, 16, 2);

  const latencies = new Map<string, number[]>();
  const cpuMs = new Map<string, Record<string, number>>();
  const elapsed = new Map<string, number>();
  /** Envoy plus processor CPU per request, µs, of each round. */
  const totalPerRound = new Map<string, number[]>();
  for (let round = 0; round < Number(args.rounds); round++) {
    // Each round starts with the next variant, so none always runs first (or after the same neighbour).
    const order = [...started.slice(round % started.length), ...started.slice(0, round % started.length)];
    for (const { name, system } of order) {
      const before = Object.entries(system.processes).map(
        ([role, pid]) => [role, sampleProcess(pid).cpuMs] as const,
      );
      const result = await load(
        system,
        Number(args.concurrency),
        Number(args.seconds),
        args.rate === undefined ? undefined : Number(args.rate),
      );
      const refused = Object.keys(result.statuses).filter((status) => !status.startsWith('2'));
      if (refused.length > 0 || Object.keys(result.errors).length > 0) {
        throw new Error(
          `${name}: statuses ${JSON.stringify(result.statuses)}, errors ${JSON.stringify(result.errors)}`,
        );
      }
      const cpu = cpuMs.get(name) ?? {};
      let roundMs = 0;
      for (const [role, ms] of before) {
        const used = sampleProcess(system.processes[role] as number).cpuMs - ms;
        cpu[role] = (cpu[role] ?? 0) + used;
        roundMs += used;
      }
      cpuMs.set(name, cpu);
      const perRound = totalPerRound.get(name) ?? [];
      perRound.push((roundMs * 1000) / result.latenciesMs.length);
      totalPerRound.set(name, perRound);
      latencies.set(name, [...(latencies.get(name) ?? []), ...result.latenciesMs]);
      elapsed.set(name, (elapsed.get(name) ?? 0) + result.elapsedSeconds);
    }
  }
  const loadLabel =
    args.rate === undefined
      ? `concurrency ${args.concurrency}`
      : `${args.rate} req/s open loop, ${args.concurrency} connections`;
  process.stdout.write(`${loadLabel}, ${args.bytes}-byte body, ${args.rounds} × ${args.seconds} s\n`);
  process.stdout.write('variant | p50 ms | p99 ms | p99.9 ms | req/s | CPU µs per request\n');
  for (const { name } of started) {
    const samples = latencies.get(name) ?? [];
    const s = summarize(sortedCopy(samples));
    const cpu = Object.entries(cpuMs.get(name) ?? {})
      .map(([role, ms]) => `${role} ${((ms * 1000) / samples.length).toFixed(0)}`)
      .join(', ');
    const rate = samples.length / (elapsed.get(name) ?? 1);
    process.stdout.write(
      `${name} | ${s.p50.toFixed(3)} | ${s.p99.toFixed(3)} | ${s.p999.toFixed(3)} | ${rate.toFixed(0)} | ${cpu}\n`,
    );
  }
  // Per round, so that a reader sees the spread, not only the mean.
  process.stdout.write(
    "variant | all processes' CPU µs per request: median (min to max) of the rounds | each round\n",
  );
  for (const { name } of started) {
    const rounds = totalPerRound.get(name) ?? [];
    process.stdout.write(
      `${name} | ${median(rounds).toFixed(0)} (${Math.min(...rounds).toFixed(0)} to ${Math.max(...rounds).toFixed(0)}) | by round: ${rounds.map((r) => r.toFixed(0)).join(' ')}\n`,
    );
  }
} finally {
  await Promise.allSettled(started.map(({ system }) => system.stop()));
  await mock.stop();
  rmSync(dir, { recursive: true, force: true });
}
