// `npm run bench:hostile`: what each hostile body shape (bench/lib/hostile-shapes.ts)
// costs the real processor (processor/main.ts as a child process, spoken to
// over gRPC as Envoy does), beside an ordinary Messages request of the same
// size. For each body:
//  - memory: the processor's peak resident memory while it takes the body
//    (VmHWM, reset just before) minus its resident memory just before, over
//    the body's size;
//  - the event-loop block: the longest a tiny unrelated request (a gRPC
//    health check, sent over and over from a thread of its own) waited while
//    the body was sent, decided and answered (bench/lib/loop-probe.ts); the
//    body goes out framed beforehand (bench/lib/raw-extproc.ts), so that the
//    sender's CPU crowds neither the processor nor the probe;
//  - the processor's CPU time for the body;
//  - the answer: forwarded, or the reason it was refused.
// Every sample is a freshly started processor, warmed with 200 small
// requests, given one body (or --at-once of them together), then stopped:
// no body's garbage is left for the next to be measured against. The rounds
// go through every shape in turn, so that a busy machine weighs on all alike;
// the table gives the median over the rounds (and the worst).
//
//   npm run bench:hostile -- [--bytes 32000000] [--rounds 5] [--shapes a,b]
//                            [--heap 256] [--at-once 4] [--ref <git-ref>]
//
// --heap runs the processor with --max-old-space-size; --at-once sends that
// many bodies of a shape at the same time (growth is still divided by one
// body's size); --ref measures the processor of another commit (exported
// beside this tree, sharing its node_modules) instead of this tree's.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { ProcessingResponse__Output } from '../protos/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import { startProcessor } from '../scripts/processor-child.ts';
import { immediateBody, requestBody, requestHeaders } from '../test/support/extproc-client.ts';
import { messagesBody } from './lib/bodies.ts';
import { HOSTILE_SHAPES, type HostileShape } from './lib/hostile-shapes.ts';
import { startLoopProbe } from './lib/loop-probe.ts';
import { resetPeak, sampleProcess } from './lib/proc.ts';
import { connectRawExtProc, frame, type RawExtProc } from './lib/raw-extproc.ts';
import { median } from './lib/stats.ts';
import { GATEWAY_TOKEN, UPSTREAM_KEY } from './lib/systems.ts';
import { type StartProcessor, treeAt } from './lib/tree.ts';

const { values: args } = parseArgs({
  options: {
    bytes: { type: 'string', default: '32000000' },
    rounds: { type: 'string', default: '5' },
    shapes: { type: 'string' },
    heap: { type: 'string' },
    'at-once': { type: 'string', default: '1' },
    ref: { type: 'string' },
  },
});
const bytes = Number(args.bytes);
const rounds = Number(args.rounds);
const atOnce = Number(args['at-once']);
const wanted = args.shapes?.split(',');
const shapes = HOSTILE_SHAPES.filter((shape) => wanted === undefined || wanted.includes(shape.name));
if (shapes.length === 0) throw new Error(`no shape among ${args.shapes}`);
const log = (message: string) => process.stderr.write(`[hostile] ${message}\n`);

const dir = mkdtempSync(join(tmpdir(), 'gateway-hostile-'));

interface Sample {
  readonly answer: string;
  readonly growthBytes: number;
  /** The probe's longest wait (wall time). */
  readonly waitMs: number;
  /** The longest stretch of the processor's main thread without a break, in its CPU time (loop-monitor.ts). */
  readonly blockCpuMs: number;
  /** The same stretch in wall time. */
  readonly blockWallMs: number;
  readonly cpuMs: number;
}

const MONITOR = join(import.meta.dirname, 'lib/loop-monitor.ts');

interface MonitorReport {
  readonly sequence: number;
  readonly longestWallMs: number;
  readonly longestCpuMs: number;
}

/** Asks the processor's loop monitor for its longest stretches since the last time, and to start over. */
async function readMonitor(pid: number, file: string, last: number): Promise<MonitorReport> {
  process.kill(pid, 'SIGUSR2');
  for (let attempt = 0; attempt < 1_000; attempt++) {
    try {
      const report = JSON.parse(readFileSync(file, 'utf8')) as MonitorReport;
      if (report.sequence > last) return report;
    } catch {
      // Not written yet, or half written.
    }
    await sleep(5);
  }
  throw new Error('the loop monitor did not answer');
}

/** Forwarded, or the reason code and message of the refusal. */
function answerOf(response: ProcessingResponse__Output): string {
  if (response.response !== 'immediate_response') return 'forwarded';
  const reason = response.immediate_response?.details?.replace(/^anthropic_gateway_/, '') ?? '?';
  const message = (immediateBody(response) as { error?: { message?: string } }).error?.message ?? '';
  return `400 ${reason} (${message})`;
}

/** One request through the policy stream: its headers, then `bodyFrame` (framed once, beforehand). */
async function decide(client: RawExtProc, bodyFrame: Buffer): Promise<string> {
  const headers = frame(requestHeaders({ headers: [['x-api-key', GATEWAY_TOKEN]] }));
  const [, answer] = await client.exchange([headers, bodyFrame]);
  if (answer === undefined) throw new Error('no answer to the body');
  return answerOf(answer);
}

let samplesTaken = 0;

async function measureOnce(start: StartProcessor, shape: HostileShape): Promise<Sample> {
  samplesTaken += 1;
  const monitorFile = join(dir, `loop-${samplesTaken}.json`);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ANTHROPIC_API_KEY: UPSTREAM_KEY,
    GATEWAY_TOKEN,
    GATEWAY_CONFIG: '',
    GATEWAY_PROCESSOR_ADDRESS: '127.0.0.1:0',
    // The line that says it listens is at info.
    LOG_LEVEL: 'info',
    NODE_OPTIONS: `--import=${MONITOR}${args.heap === undefined ? '' : ` --max-old-space-size=${args.heap}`}`,
    BENCH_LOOP_MONITOR_FILE: monitorFile,
  };
  const processor = await start({ env });
  const pid = processor.process.pid as number;
  const client = connectRawExtProc(processor.address);
  const probe = await startLoopProbe(processor.address);
  try {
    const small = frame(requestBody(messagesBody(6 * 1024)));
    for (let i = 0; i < 200; i++) await decide(client, small);
    const body = frame(requestBody(shape.build(bytes)));
    const reset = await readMonitor(pid, monitorFile, 0);
    resetPeak(pid);
    const before = sampleProcess(pid);
    await probe.reset();
    const exited = new Promise<string>((resolve) =>
      processor.process.once('exit', (code, signal) => resolve(`the processor died (${signal ?? code})`)),
    );
    let answers: string[];
    try {
      answers = await Promise.all(Array.from({ length: atOnce }, () => decide(client, body)));
    } catch (error) {
      answers = [await Promise.race([exited, sleep(5_000).then(() => `failed: ${String(error)}`)])];
    }
    const { longestMs, failures } = await probe.read();
    const after = sampleProcess(pid);
    const alive = processor.process.exitCode === null && processor.process.signalCode === null;
    const loop = alive ? await readMonitor(pid, monitorFile, reset.sequence) : undefined;
    return {
      answer: [...new Set(answers)].join(' / '),
      // Nothing to read of a process that is gone.
      growthBytes: alive ? after.hwmBytes - before.rssBytes : Number.NaN,
      // A probe that failed saw the processor go: no wait to report.
      waitMs: failures > 0 ? Number.NaN : longestMs,
      blockCpuMs: loop?.longestCpuMs ?? Number.NaN,
      blockWallMs: loop?.longestWallMs ?? Number.NaN,
      cpuMs: alive ? after.cpuMs - before.cpuMs : Number.NaN,
    };
  } finally {
    await probe.stop();
    client.close();
    await processor.stop('SIGKILL');
  }
}

// The processor of this tree, or of `--ref` exported beside it.
const start = args.ref === undefined ? startProcessor : await treeAt(args.ref, join(dir, 'tree'));
const samples = new Map<string, Sample[]>(shapes.map((shape) => [shape.name, []]));
try {
  for (let round = 0; round < rounds; round++) {
    for (const shape of shapes) {
      const sample = await measureOnce(start, shape);
      samples.get(shape.name)?.push(sample);
      log(
        `round ${round + 1}, ${shape.name}: ${sample.answer}; growth ${(sample.growthBytes / bytes).toFixed(2)}× ` +
          `the body; longest block ${sample.blockCpuMs.toFixed(0)} ms CPU (${sample.blockWallMs.toFixed(0)} ms wall), ` +
          `longest wait ${sample.waitMs.toFixed(0)} ms; CPU ${sample.cpuMs.toFixed(0)} ms`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const ordinary = samples.get('ordinary') ?? [];
/** The median of what was measured (a processor that died measured nothing), or NaN. */
const middle = (values: readonly number[]) => median(values.filter((v) => !Number.isNaN(v)));
const referenceCpu = middle(ordinary.map((s) => s.blockCpuMs));
const referenceWait = middle(ordinary.map((s) => s.waitMs));
const shown = (value: number, digits: number, unit = '') =>
  Number.isNaN(value) ? '–' : `${value.toFixed(digits)}${unit}`;
/** The median, then the worst in parentheses. */
const spread = (values: readonly number[], digits = 0, unit = '') => {
  const measured = values.filter((v) => !Number.isNaN(v));
  if (measured.length === 0) return '–';
  return `${shown(median(measured), digits, unit)} (${shown(Math.max(...measured), digits, unit)})`;
};
const lines = [
  `${bytes.toLocaleString('en-US')}-byte bodies, ${atOnce} at a time; median of ${rounds} rounds (worst); ` +
    `the processor of ${args.ref ?? 'this tree'}${args.heap === undefined ? '' : `, --max-old-space-size=${args.heap}`}`,
  '',
  '| shape | answer | growth ÷ body | growth, MiB | longest block, ms CPU | ÷ ordinary | longest wait, ms | ÷ ordinary | CPU, ms |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
for (const shape of shapes) {
  const list = samples.get(shape.name) ?? [];
  const blockCpu = list.map((s) => s.blockCpuMs);
  const wait = list.map((s) => s.waitMs);
  lines.push(
    `| ${shape.name} | ${[...new Set(list.map((s) => s.answer))].join(' / ')} | ` +
      `${spread(
        list.map((s) => s.growthBytes / bytes),
        2,
        '×',
      )} | ${shown(middle(list.map((s) => s.growthBytes)) / (1024 * 1024), 0)} | ${spread(blockCpu)} | ` +
      `${shown(middle(blockCpu) / referenceCpu, 1, '×')} | ${spread(wait)} | ` +
      `${shown(middle(wait) / referenceWait, 1, '×')} | ${shown(middle(list.map((s) => s.cpuMs)), 0)} |`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
