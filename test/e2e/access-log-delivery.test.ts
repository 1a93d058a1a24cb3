// Envoy's access-log stream to the processor, when it cannot deliver: no
// request ever waits for it (a processor that decides but never reads the
// stream), and entries that could not be delivered show in Envoy's own
// counters (a processor that is away); once the processor is back, entries
// arrive again.
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../processor/config/load.ts';
import { type DeafProcessor, startDeafProcessor } from '../support/deaf-processor.ts';
import {
  GATEWAY_TOKEN,
  type GatewayStack,
  seedRequest,
  startStack,
  UPSTREAM_KEY,
} from '../support/gateway-stack.ts';

function envoyCounter(stack: GatewayStack, name: string): Promise<number> {
  return stack.envoy.admin.stat(name);
}

async function post(stack: GatewayStack): Promise<number> {
  const response = await fetch(`${stack.baseUrl}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': GATEWAY_TOKEN },
    body: JSON.stringify(seedRequest()),
  });
  await response.arrayBuffer();
  return response.status;
}

describe('a processor that decides but never reads the access-log stream', () => {
  let deaf: DeafProcessor | undefined;
  let stack: GatewayStack | undefined;
  afterAll(async () => {
    await stack?.stop();
    deaf?.stop();
  });

  it('holds no request: each completes while Envoy keeps the entries', async () => {
    const loaded = loadConfig({ GATEWAY_TOKEN, ANTHROPIC_API_KEY: UPSTREAM_KEY }, undefined);
    if (!loaded.ok) throw new Error(loaded.problems.join('; '));
    deaf = await startDeafProcessor(loaded.config);
    stack = await startStack({ processorAddress: deaf.address });
    const running = stack;
    // Far more entries than one HTTP/2 stream window (64 KiB) holds: past the
    // first few hundred, every entry waits in Envoy, not the request.
    const REQUESTS = 600;
    const statuses: number[] = [];
    let sent = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (sent < REQUESTS) {
          sent += 1;
          statuses.push(await post(running));
        }
      }),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(REQUESTS);
    expect(running.upstream.received).toHaveLength(REQUESTS);
    // Envoy did open the stream and tried to send on it: what it could not send, it holds.
    expect(deaf.accessLogStreams()).toBeGreaterThanOrEqual(1);
    expect(await envoyCounter(running, 'access_logs.grpc_access_log.logs_written')).toBeGreaterThanOrEqual(
      REQUESTS,
    );
    await expect
      .poll(() => envoyCounter(running, 'cluster.processor_access_log.http2.pending_send_bytes'))
      .toBeGreaterThan(0);
  });
});

describe('a processor that is away', () => {
  let stack: GatewayStack | undefined;
  afterAll(async () => {
    await stack?.stop();
  });

  it("counts the entries it could not deliver in Envoy's stats, and delivers again once it is back", async () => {
    stack = await startStack();
    const running = stack;
    expect(await post(running)).toBe(200);
    await running.waitForLog((e) => e.msg === 'access', 5_000);
    const failedStreams = await envoyCounter(running, 'cluster.processor_access_log.upstream_rq_503');

    await running.stopProcessor();
    // Fail closed on the policy filter; the 503's entry cannot be delivered either.
    for (let i = 0; i < 3; i += 1) expect(await post(running)).toBe(503);
    await expect
      .poll(() => envoyCounter(running, 'cluster.processor_access_log.upstream_rq_503'), { timeout: 10_000 })
      .toBeGreaterThan(failedStreams);
    // Envoy flushes each worker's buffer on its own timer, so the three 503
    // entries may leave in more than one flush: wait for all of them. An entry
    // goes to `flushed` when it reaches the send buffer of a stream that then
    // fails, or to `flush_failed` when the stream cannot be opened at all.
    const attempted = async () =>
      (await envoyCounter(running, 'access_logs.grpc_access_log.grpc_entries_flushed')) +
      (await envoyCounter(running, 'access_logs.grpc_access_log.grpc_entries_flush_failed'));
    await expect.poll(attempted, { timeout: 10_000 }).toBeGreaterThanOrEqual(4);

    await running.startProcessor();
    await expect.poll(() => post(running), { timeout: 10_000 }).toBe(200);
    const delivered = () =>
      running.processorLog.filter((line) => line.includes('"msg":"access"') && line.includes('"status":200'))
        .length;
    // The line before the outage, and at least one after it.
    await expect.poll(delivered, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
  });
});
