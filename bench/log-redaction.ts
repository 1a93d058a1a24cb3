// What the log redaction (processor/log.ts) costs per line, beside plain pino
// on the same line: the access line the processor writes for every
// request, and a line that names a secret field (parsed and censored).
// Run: node bench/log-redaction.ts. Figures go in docs/security.md.
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import { createLogger } from '../processor/log.ts';

const discard = () =>
  new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });

const ACCESS = {
  requestId: '6f1c2d4e-0000-4000-8000-000000000000',
  tokenId: 'alice',
  workspace: 'research',
  model: 'claude-sonnet-4-6',
  route: 'messages',
  status: 200,
  streamed: true,
  latencyMs: 812.345,
  ttfbMs: 120.5,
  usage: {
    input_tokens: 1200,
    output_tokens: 350,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 1000,
  },
  complete: true,
};
const WITH_SECRET_FIELD = { requestId: ACCESS.requestId, headers: { authorization: 'Bearer agw_x' } };

function perLine(log: Logger, entry: object, lines: number): number {
  for (let i = 0; i < lines / 10; i += 1) log.info(entry, 'line');
  const start = process.hrtime.bigint();
  for (let i = 0; i < lines; i += 1) log.info(entry, 'line');
  return Number(process.hrtime.bigint() - start) / lines / 1000;
}

const LINES = 200_000;
const secrets = ['sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789'];
for (const [name, entry] of [
  ['access line', ACCESS],
  ['line with a secret field', WITH_SECRET_FIELD],
] as const) {
  const plain = perLine(pino({ level: 'info' }, discard()), entry, LINES);
  const gateway = perLine(createLogger('info', discard(), { secrets }), entry, LINES);
  process.stdout.write(
    `${name}: plain pino ${plain.toFixed(2)} µs, gateway logger ${gateway.toFixed(2)} µs, ` +
      `redaction +${(gateway - plain).toFixed(2)} µs per line\n`,
  );
}
