// `node bench/body-path.ts <git-ref>`: the processor's CPU per request for
// one body size, at <git-ref> against this working tree, without Envoy in
// the measurement. Each processor runs as `npm start` runs it
// (scripts/processor-child.ts), and a client speaks ext_proc to it as Envoy
// does: one HTTP/2 stream per request, the headers message, then the whole buffered
// body in one request_body message, framed by node:http2 in DATA frames of
// the size the processor allows and paced by its flow-control windows. The
// processors run alternately, each round on a fresh one; CPU comes from
// /proc/<pid>/stat. For changes to the path a large body takes (framing,
// decoding, scan, collection), which the full stack measures with Envoy's
// noise around them (bench/compare.ts does that).
//
//   node bench/body-path.ts HEAD~1 --bytes 204800 --rounds 6 --requests 3000
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { type ClientHttp2Session, connect } from 'node:http2';
import { connect as connectSocket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BASE_PATH } from '../processor/contract/routes.ts';
import { startProcessor } from '../scripts/processor-child.ts';
import { messagesBody } from './lib/bodies.ts';
import { sampleProcess } from './lib/proc.ts';
import { frame } from './lib/raw-extproc.ts';
import { median } from './lib/stats.ts';
import { GATEWAY_TOKEN, UPSTREAM_KEY } from './lib/systems.ts';
import { type StartProcessor, treeAt } from './lib/tree.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    bytes: { type: 'string', default: String(200 * 1024) },
    rounds: { type: 'string', default: '6' },
    requests: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '16' },
  },
});
const ref = positionals[0];
if (ref === undefined) throw new Error('usage: node bench/body-path.ts <git-ref> [--bytes N] [--rounds N]');

const dir = mkdtempSync(join(tmpdir(), 'gateway-body-path-'));

const body = messagesBody(Number(args.bytes));
const header = (key: string, value: string) => ({ key, raw_value: Buffer.from(value, 'latin1') });
const framedHeaders = () =>
  frame({
    request_headers: {
      headers: {
        headers: [
          header(':method', 'POST'),
          header(':path', `${BASE_PATH}/v1/messages`),
          header(':authority', 'gateway.test'),
          header(':scheme', 'http'),
          header('content-type', 'application/json'),
          header('content-length', String(body.length)),
          header('anthropic-version', '2023-06-01'),
          header('x-api-key', GATEWAY_TOKEN),
          header('x-request-id', randomUUID()),
        ],
      },
      end_of_stream: false,
    },
  });
const framedBody = frame({ request_body: { body, end_of_stream: true } });

/** One request's stream: headers, wait for the answer, the body, wait for the status. */
function request(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/envoy.service.ext_proc.v3.ExternalProcessor/Process',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let pending: Buffer = Buffer.alloc(0);
    let answers = 0;
    stream.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
        pending = pending.subarray(5 + pending.readUInt32BE(1));
        answers += 1;
        // The headers' answer: Envoy sends the buffered body next (and half-closes, gracefully).
        if (answers === 1) stream.end(framedBody);
      }
    });
    stream.on('trailers', (trailers) => {
      if (trailers['grpc-status'] !== '0') reject(new Error(`status ${trailers['grpc-status']}`));
      else if (answers < 2) reject(new Error('the body was not answered'));
      else resolve();
    });
    stream.on('error', () => {});
    stream.on('close', () => reject(new Error('closed without a status')));
    stream.write(framedHeaders());
  });
}

async function measure(start: StartProcessor): Promise<number> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ANTHROPIC_API_KEY: UPSTREAM_KEY,
    GATEWAY_TOKEN,
    GATEWAY_CONFIG: '',
    GATEWAY_PROCESSOR_ADDRESS: `unix:${join(dir, 'processor.sock')}`,
    GATEWAY_METRICS_PORT: '0',
    LOG_LEVEL: 'info',
  };
  const processor = await start({ env });
  const socket = processor.address.slice('unix:'.length);
  const session = connect('http://processor', { createConnection: () => connectSocket(socket) });
  session.on('error', () => {});
  try {
    const run = async (count: number) => {
      let left = count;
      const worker = async () => {
        while (left > 0) {
          left -= 1;
          await request(session);
        }
      };
      await Promise.all(Array.from({ length: Number(args.concurrency) }, worker));
    };
    await run(300);
    const pid = processor.process.pid as number;
    const before = sampleProcess(pid).cpuMs;
    const count = Number(args.requests);
    await run(count);
    return ((sampleProcess(pid).cpuMs - before) * 1000) / count;
  } finally {
    session.destroy();
    await processor.stop();
  }
}

const variants = [
  { name: ref, start: await treeAt(ref, join(dir, 'tree')), results: [] as number[] },
  { name: 'working tree', start: startProcessor, results: [] as number[] },
];
try {
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
      const perRequest = await measure(variant.start);
      variant.results.push(perRequest);
      process.stderr.write(`[body-path] round ${round + 1} ${variant.name}: ${perRequest.toFixed(0)} µs\n`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  `${body.length}-byte body, ${args.requests} requests at concurrency ${args.concurrency} per round; processor CPU µs per request, median (min to max) of ${args.rounds} rounds\n`,
);
for (const { name, results } of variants) {
  process.stdout.write(
    `${name.padEnd(14)} ${median(results).toFixed(0)} (${Math.min(...results).toFixed(0)} to ${Math.max(...results).toFixed(0)}) | ${results.map((r) => r.toFixed(0)).join(' ')}\n`,
  );
}
