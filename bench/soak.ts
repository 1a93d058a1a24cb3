// `npm run soak`: minutes of mixed traffic through `npm start` while the
// processor is SIGKILLed, Redis restarts, the configuration reloads and the
// upstream resets streams and answers 529 (bench/soak/). Prints what happened
// and writes the whole report, memory samples included, to bench/results/.
// docs/reliability.md has the figures of a run and how to read them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runSoak, type SoakReport } from './soak/run.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    rate: { type: 'string', default: '40' },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
if (!(minutes > 0) || !(rate > 0)) {
  process.stderr.write('usage: npm run soak -- [--minutes 5] [--rate 40]\n');
  process.exit(2);
}

const report = await runSoak({
  durationMs: minutes * 60_000,
  ratePerSecond: rate,
  // Long streams last two minutes; short ones a second.
  scenario: {
    shortStream: { events: 20, intervalMs: 50 },
    longStream: { events: 240, intervalMs: 500 },
    largeBodyBytes: 2 * 1024 * 1024,
  },
  faults: {
    killProcessorMs: 45_000,
    // The last 40% of the run without kills: one processor long enough for its memory slope.
    killUntilMs: minutes * 60_000 * 0.6,
    restartRedisMs: 60_000,
    redisDownMs: 3_000,
    reloadMs: 5_000,
  },
  maxLongStreams: 8,
  sampleMs: 2_000,
});

const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(report, null, 2));
process.stdout.write(`${summary(report)}\nfull report: ${file}\n`);
process.exitCode = passed(report) ? 0 : 1;

function passed(r: SoakReport): boolean {
  return (
    r.unapproved.length === 0 &&
    r.traffic.corrupt.length === 0 &&
    r.traffic.malformed.length === 0 &&
    r.traffic.unexpected.length === 0 &&
    r.servesAfterwards
  );
}

function summary(r: SoakReport): string {
  const mib = (bytes: number | undefined) =>
    bytes === undefined ? 'n/a' : `${(bytes / 1048576).toFixed(2)} MiB`;
  const lines = [
    `soak: ${r.options.durationMs / 60_000} min at ${r.options.ratePerSecond} req/s: ${passed(r) ? 'PASSED' : 'FAILED'}`,
    `requests sent ${r.traffic.sent}, completed ${r.traffic.completed}, 2xx bodies compared ${r.traffic.compared}`,
    `faults: ${r.faults.processorKills} processor SIGKILLs (the launcher saw ${r.processorExits} exits and made ${r.processorRestarts} restarts), ` +
      `${r.faults.redisRestarts} Redis restarts, ${r.faults.reloads} reloads (${r.reloadsApplied} applied, ${r.reloadsRejected} rejected)`,
    `upstream requests not approved by a decision: ${r.unapproved.length}`,
    `completed streams with bytes that differ: ${r.traffic.corrupt.length}`,
    `errors not Anthropic-shaped: ${r.traffic.malformed.length}`,
    `answers of an unexpected status: ${r.traffic.unexpected.length}`,
    `access lines ${r.accessLines} for ${r.traffic.completed} completed requests`,
    `RSS slope per 10,000 requests: Envoy ${mib(r.memory.envoyPer10k)}, processor ${mib(r.memory.processorPer10k)} (over ${r.memory.processorSpan} requests of one process)`,
    `serves after the faults: ${r.servesAfterwards}`,
    '',
    '| outcome | count |',
    '| --- | --- |',
    ...Object.entries(r.traffic.outcomes)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, count]) => `| ${key} | ${count} |`),
  ];
  for (const [label, list] of [
    ['not approved', r.unapproved],
    ['corrupt', r.traffic.corrupt],
    ['malformed', r.traffic.malformed],
    ['unexpected', r.traffic.unexpected],
  ] as const) {
    if (list.length > 0) lines.push(`${label} (first 10): ${list.slice(0, 10).join('; ')}`);
  }
  return lines.join('\n');
}
