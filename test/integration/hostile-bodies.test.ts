// 32 MB bodies shaped to make the model scan work hard (bench/lib/hostile-shapes.ts),
// sent over gRPC to the processor as production runs it (processor/main.ts in
// a child process) with a heap of only 128 MiB. A body of `[[[[…` used to take
// the scanner's nesting state past half a gigabyte: under this heap the
// processor died ("JavaScript heap out of memory") at the first such body.
// Now each shape gets the scan's answer, the processor stays up and decides an
// ordinary request after it, and so it does after four such bodies at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUGE_BODY_BYTES } from '../../bench/lib/bodies.ts';
import { type HostileShape, hostileShape } from '../../bench/lib/hostile-shapes.ts';
import { checkHealth } from '../../processor/health/client.ts';
import { mintToken } from '../../processor/policy/tokens.ts';
import { type RunningProcessor, startProcessor } from '../../scripts/processor-child.ts';
import {
  createExtProcClient,
  type ExtProcClient,
  type ProcessingResponse__Output,
  requestBody,
  requestHeaders,
} from '../support/extproc-client.ts';
import { expectBodyContinues, expectGatewayError } from '../support/extproc-expect.ts';

const TOKEN = mintToken();
const UPSTREAM_KEY = 'sk-ant-hostile-bodies-test-key-0123456789';
/** Small enough that the scanner before the bit stack ran out of it at the first deep body. */
const HEAP_MIB = 128;
/** Sending 32 MB and scanning it, on a busy machine. */
const ANSWER_TIMEOUT_MS = 90_000;

let processor: RunningProcessor;
let client: ExtProcClient;
const log: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  processor = await startProcessor({
    env: {
      PATH: process.env.PATH,
      GATEWAY_TOKEN: TOKEN,
      ANTHROPIC_API_KEY: UPSTREAM_KEY,
      GATEWAY_PROCESSOR_ADDRESS: '127.0.0.1:0',
      LOG_LEVEL: 'info',
      NODE_OPTIONS: `--max-old-space-size=${HEAP_MIB}`,
    },
    onLogLine: (line) => log.push(JSON.parse(line) as Record<string, unknown>),
  });
  client = createExtProcClient(processor.address);
});
afterAll(async () => {
  client?.close();
  await processor?.stop('SIGKILL');
});

async function decide(body: Buffer, requestId: string): Promise<ProcessingResponse__Output> {
  const stream = client.openStream();
  await stream.exchange(requestHeaders({ requestId, headers: [['x-api-key', TOKEN]] }));
  const response = await stream.exchange(requestBody(body), ANSWER_TIMEOUT_MS);
  expect((await stream.close()).code).toBe(0);
  return response;
}

function expectVerdict(shape: HostileShape, response: ProcessingResponse__Output, requestId: string): void {
  if (shape.verdict.forwarded) {
    expectBodyContinues(response);
    return;
  }
  expectGatewayError(response, {
    status: 400,
    type: 'invalid_request_error',
    message: shape.verdict.message,
    reason: shape.verdict.reason,
    requestId,
  });
}

/** The processor is still up and still decides an ordinary request. */
async function expectStillServing(): Promise<void> {
  expect(processor.process.exitCode).toBeNull();
  expect(processor.process.signalCode).toBeNull();
  expect(await checkHealth(processor.address)).toBe('SERVING');
  const ordinary = JSON.stringify({
    model: 'claude-haiku-4-5',
    max_tokens: 16,
    messages: [{ role: 'user', content: 'Hi' }],
  });
  expectBodyContinues(await decide(Buffer.from(ordinary), 'ordinary-after'));
}

const SHAPES = [
  'deep-arrays-unclosed',
  'deep-arrays',
  'deep-mixed',
  'tiny-keys',
  'duplicate-escaped-models',
  'escaped-model',
  'long-model',
];

describe(`32 MB hostile bodies, processor heap ${HEAP_MIB} MiB`, () => {
  for (const name of SHAPES) {
    const shape = hostileShape(name);
    it(`${name}: answered, and the processor serves on`, { timeout: 2 * ANSWER_TIMEOUT_MS }, async () => {
      const requestId = `hostile-${name}`;
      expectVerdict(shape, await decide(shape.build(HUGE_BODY_BYTES), requestId), requestId);
      await expectStillServing();
    });
  }

  it('four bodies of [[[[… at once: each answered 400, and the processor serves on', {
    timeout: 2 * ANSWER_TIMEOUT_MS,
  }, async () => {
    const shape = hostileShape('deep-arrays-unclosed');
    const body = shape.build(HUGE_BODY_BYTES);
    const ids = ['a', 'b', 'c', 'd'].map((k) => `hostile-at-once-${k}`);
    const responses = await Promise.all(ids.map((id) => decide(body, id)));
    responses.forEach((response, k) => {
      expectVerdict(shape, response, ids[k] as string);
    });
    await expectStillServing();
  });

  it('logged no error along the way', () => {
    expect(log.some((entry) => entry.msg === 'ext_proc processor listening')).toBe(true);
    expect(log.filter((entry) => Number(entry.level) >= 50)).toEqual([]);
  });
});
