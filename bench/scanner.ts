// `npm run bench:scanner`: the model scanner alone, in this process, on the
// benchmark's ordinary Messages bodies (6 KB, 200 KB, 32 MB) and on the
// hostile shapes (bench/lib/hostile-shapes.ts); with `--ref <git-ref>`, the
// scanner of that commit beside this tree's, the two measured in turn so that
// a busy machine weighs on both alike. Prints the median over the rounds of
// the CPU time per scan (user + system; on a shared machine wall time mostly
// measures the neighbours).
//
//   npm run bench:scanner -- [--ref <git-ref>] [--rounds 7] [--shapes a,b] [--hostile-bytes 32000000]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { messagesBody } from './lib/bodies.ts';
import { HOSTILE_SHAPES } from './lib/hostile-shapes.ts';
import { median } from './lib/stats.ts';
import { REPO_ROOT } from './lib/systems.ts';

const { values: args } = parseArgs({
  options: {
    ref: { type: 'string' },
    rounds: { type: 'string', default: '7' },
    shapes: { type: 'string' },
    'hostile-bytes': { type: 'string', default: '32000000' },
  },
});

type Scan = (body: Buffer) => { ok: boolean };
const SCANNER = 'processor/policy/model-scanner.ts';

const scanners: Array<{ name: string; scan: Scan }> = [];
const dir = mkdtempSync(join(tmpdir(), 'gateway-scanner-'));
try {
  if (args.ref !== undefined) {
    // The module alone: the scanner imports nothing of the gateway's.
    const file = join(dir, 'model-scanner.ts');
    writeFileSync(file, execFileSync('git', ['-C', REPO_ROOT, 'show', `${args.ref}:${SCANNER}`]));
    scanners.push({ name: args.ref, scan: ((await import(file)) as { scanModel: Scan }).scanModel });
  }
  scanners.push({
    name: 'working tree',
    scan: ((await import(`../${SCANNER}`)) as { scanModel: Scan }).scanModel,
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** CPU ms per scan of `body`, over enough scans to take about 200 ms. */
function perScan(scan: Scan, body: Buffer): number {
  let times = 1;
  for (;;) {
    const started = cpuMs();
    for (let i = 0; i < times; i++) scan(body);
    const took = cpuMs() - started;
    if (took >= 200 || times * body.length >= 256 * 1024 * 1024) return took / times;
    times *= took < 20 ? 10 : 2;
  }
}

const wanted = args.shapes?.split(',');
const hostileBytes = Number(args['hostile-bytes']);
const bodies: Array<{ name: string; body: Buffer }> = [
  { name: 'ordinary 6 KB', body: messagesBody(6 * 1024) },
  { name: 'ordinary 200 KB', body: messagesBody(200 * 1024) },
  { name: 'ordinary 32 MB', body: messagesBody(32_000_000) },
  ...HOSTILE_SHAPES.filter(
    (s) => s.name !== 'ordinary' && (wanted === undefined || wanted.includes(s.name)),
  ).map((s) => ({ name: s.name, body: s.build(hostileBytes) })),
];

const results = new Map<string, number[]>();
const rounds = Number(args.rounds);
for (let round = 0; round < rounds; round++) {
  for (const { name, body } of bodies) {
    for (const scanner of round % 2 === 0 ? scanners : [...scanners].reverse()) {
      const key = `${name}\t${scanner.name}`;
      results.set(key, [...(results.get(key) ?? []), perScan(scanner.scan, body)]);
    }
  }
  process.stderr.write(`[scanner] round ${round + 1} of ${rounds}\n`);
}

const lines = [
  `CPU ms per scan, median of ${rounds} rounds${args.ref === undefined ? '' : ` (${args.ref} | working tree)`}`,
  '',
  `| body | ${scanners.map((s) => s.name).join(' | ')} |`,
  `| --- | ${scanners.map(() => '---').join(' | ')} |`,
];
for (const { name } of bodies) {
  const cells = scanners.map((s) => {
    const ms = median(results.get(`${name}\t${s.name}`) ?? []);
    return ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(1)} ms`;
  });
  lines.push(`| ${name} | ${cells.join(' | ')} |`);
}
process.stdout.write(`${lines.join('\n')}\n`);
