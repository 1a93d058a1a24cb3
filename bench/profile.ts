// `npm run bench:profile`: where the processor spends its CPU under load.
// Starts the zero-delay mock and the gateway with the processor under
// `node --cpu-prof`, drives it with oha (closed loop), stops it (the profile is
// written on exit) and prints the self time by module and by function.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeBody } from './lib/bodies.ts';
import { startMockUpstream } from './lib/mock-upstream.ts';
import { runLoad } from './lib/oha.ts';
import { summarizeProfile } from './lib/profile-summary.ts';
import { REPO_ROOT, startSystem } from './lib/systems.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
    bytes: { type: 'string', default: String(6 * 1024) },
    'processor-transport': { type: 'string', default: 'unix' },
    top: { type: 'string', default: '25' },
  },
});

const dir = join(REPO_ROOT, 'bench/results/profiles', new Date().toISOString().replace(/[:.]/g, '-'));
mkdirSync(dir, { recursive: true });
const transport = args['processor-transport'] === 'unix' ? 'unix' : 'tcp';
const body = writeBody(dir, 'body', Number(args.bytes));
const mock = await startMockUpstream();
let requests = 0;
try {
  // The processor inherits NODE_OPTIONS (scripts/processor-child.ts passes the environment on).
  const options = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${options ?? ''} --cpu-prof --cpu-prof-dir=${dir}`.trim();
  const gateway = await startSystem('gateway', mock.url, { processorTransport: transport }).finally(() => {
    if (options === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = options;
  });
  try {
    await runLoad({
      url: gateway.url,
      headers: gateway.headers,
      bodyFile: body,
      concurrency: 16,
      seconds: 2,
    });
    const result = await runLoad({
      url: gateway.url,
      headers: gateway.headers,
      bodyFile: body,
      concurrency: Number(args.concurrency),
      seconds: Number(args.seconds),
    });
    requests = result.latenciesMs.length;
  } finally {
    await gateway.stop();
  }
} finally {
  await mock.stop();
}
const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
if (file === undefined) throw new Error(`no profile written in ${dir}`);
const profile = join(dir, file);
process.stdout.write(
  `${summarizeProfile(JSON.parse(readFileSync(profile, 'utf8')), Number(args.top), requests)}\n`,
);
process.stdout.write(`profile: ${profile} (open in Chrome DevTools or speedscope)\n`);
