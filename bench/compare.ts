// `node bench/compare.ts <git-ref>`: the processor at <git-ref> against the
// processor of this working tree, each behind the same Envoy (this tree's
// bootstrap), started and measured alternately so that a busy machine
// weighs on both alike. Prints, per variant, the median over the rounds of:
// p50 and p99 at concurrency 1, and the processor's and Envoy's CPU per
// 1,000 requests at concurrency 16. Used to measure each hot-path change.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderBootstrap } from '../envoy/bootstrap/index.ts';
import { startEnvoy } from '../envoy/run.ts';
import { parseAddress } from '../processor/config/address.ts';
import { loadConfig } from '../processor/config/load.ts';
import { BASE_PATH } from '../processor/contract/routes.ts';
import { startProcessor } from '../scripts/processor-child.ts';
import { writeBody } from './lib/bodies.ts';
import { startMockUpstream } from './lib/mock-upstream.ts';
import { runLoad } from './lib/oha.ts';
import { sampleProcess } from './lib/proc.ts';
import { median, summarize } from './lib/stats.ts';
import { GATEWAY_TOKEN, UPSTREAM_KEY } from './lib/systems.ts';
import { type StartProcessor, treeAt } from './lib/tree.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '3' },
    bytes: { type: 'string', default: String(6 * 1024) },
    /** One transport for both, or two (for <git-ref>, then the working tree): tcp,unix. */
    'processor-transport': { type: 'string', default: 'unix' },
  },
});
const transports = args['processor-transport'].split(',');
const ref = positionals[0];
if (ref === undefined) throw new Error('usage: node bench/compare.ts <git-ref> [--rounds N] [--seconds S]');

const dir = mkdtempSync(join(tmpdir(), 'gateway-compare-'));
const variants: Array<{ name: string; start: StartProcessor; transport: string }> = [
  { name: ref, start: await treeAt(ref, dir), transport: transports[0] ?? 'tcp' },
  { name: 'working tree', start: startProcessor, transport: transports[1] ?? transports[0] ?? 'tcp' },
];
for (const variant of variants) if (transports.length > 1) variant.name += ` (${variant.transport})`;
const body = writeBody(dir, 'body', Number(args.bytes));
const mock = await startMockUpstream();
const results = new Map<string, { p50: number[]; p99: number[]; processor: number[]; envoy: number[] }>();
const log = (message: string) => process.stderr.write(`[compare] ${message}\n`);

async function measure(start: StartProcessor, transport: string) {
  const unix = transport === 'unix';
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ANTHROPIC_API_KEY: UPSTREAM_KEY,
    GATEWAY_TOKEN,
    GATEWAY_CONFIG: '',
    GATEWAY_PROCESSOR_ADDRESS: unix ? `unix:${join(dir, 'processor.sock')}` : '127.0.0.1:0',
    ANTHROPIC_UPSTREAM_URL: mock.url,
    LOG_LEVEL: 'info',
  };
  const loaded = loadConfig(env);
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  const { settings } = loaded.config;
  const processor = await start({ env });
  const envoy = await startEnvoy({
    bootstrap: renderBootstrap({
      ...settings,
      listen: { ...settings.listen, address: '127.0.0.1', port: 0 },
      processor: { ...settings.processor, address: parseAddress(processor.address) },
    }),
    stdio: 'ignore',
  });
  try {
    const load = {
      url: `http://127.0.0.1:${envoy.port}${BASE_PATH}/v1/messages`,
      headers: { 'anthropic-version': '2023-06-01', 'x-api-key': GATEWAY_TOKEN },
      bodyFile: body,
    };
    const seconds = Number(args.seconds);
    await runLoad({ ...load, concurrency: 16, seconds: 1 });
    const one = summarize((await runLoad({ ...load, concurrency: 1, seconds })).latenciesMs);
    const pids = { processor: processor.process.pid as number, envoy: envoy.process.pid as number };
    const before = { processor: sampleProcess(pids.processor).cpuMs, envoy: sampleProcess(pids.envoy).cpuMs };
    const sixteen = await runLoad({ ...load, concurrency: 16, seconds });
    const n = sixteen.latenciesMs.length;
    return {
      p50: one.p50,
      p99: one.p99,
      processor: ((sampleProcess(pids.processor).cpuMs - before.processor) * 1000) / n,
      envoy: ((sampleProcess(pids.envoy).cpuMs - before.envoy) * 1000) / n,
    };
  } finally {
    await Promise.all([envoy.stop(), processor.stop()]);
  }
}

try {
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
      const m = await measure(variant.start, variant.transport);
      const entry = results.get(variant.name) ?? { p50: [], p99: [], processor: [], envoy: [] };
      entry.p50.push(m.p50);
      entry.p99.push(m.p99);
      entry.processor.push(m.processor);
      entry.envoy.push(m.envoy);
      results.set(variant.name, entry);
      log(
        `round ${round + 1} ${variant.name}: p50 ${m.p50.toFixed(3)} p99 ${m.p99.toFixed(3)} ms; CPU/1k processor ${m.processor.toFixed(0)} envoy ${m.envoy.toFixed(0)} ms`,
      );
    }
  }
} finally {
  await mock.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  `${Number(args.bytes)} B body, ${args['processor-transport']}, median of ${args.rounds} rounds\n`,
);
for (const [name, r] of results) {
  process.stdout.write(
    `${name.padEnd(20)} c=1 p50 ${median(r.p50).toFixed(3)} ms, p99 ${median(r.p99).toFixed(3)} ms; ` +
      `CPU per 1,000 requests at c=16: processor ${median(r.processor).toFixed(0)} ms, envoy ${median(r.envoy).toFixed(0)} ms\n`,
  );
}
