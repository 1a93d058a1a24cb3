// Half-open connections between Envoy and the processor. A TCP proxy between
// them (test/support/blackhole-proxy.ts) stops forwarding bytes on the
// connections open at one moment and keeps both of its sockets open, as a peer
// that vanished without a FIN or an RST would. Both sides ping
// (processor.keepalive_*, made short here): Envoy closes its dead connections
// and opens new ones, so the gateway fails closed for a moment and then
// recovers, without restarting anything; the processor closes its dead
// connections and the calls on them, logs it at warn and counts it.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { type BlackholeProxy, startBlackholeProxy } from '../support/blackhole-proxy.ts';
import { GATEWAY_TOKEN, seedRequest, useStack } from '../support/gateway-stack.ts';

const INTERVAL_SECONDS = 0.5;
const TIMEOUT_SECONDS = 0.5;
/** Far longer than a dead connection takes to be found (interval + jitter + timeout). */
const RECOVERY_TIMEOUT_MS = 15_000;

let proxy: BlackholeProxy | undefined;
const stack = useStack({
  config: {
    processor: {
      keepalive_interval_seconds: INTERVAL_SECONDS,
      keepalive_timeout_seconds: TIMEOUT_SECONDS,
      // Longer than the pings take to find the connection dead, so a request
      // caught on it fails because the connection was closed, not by timing out.
      message_timeout_ms: 10_000,
    },
  },
  // One worker, so one connection carries every request's policy stream
  // (each worker has its own connections to the processor).
  envoyArgs: ['--concurrency', '1'],
  interpose: async (address) => {
    proxy = await startBlackholeProxy(address);
    return proxy.address;
  },
});

afterAll(async () => {
  await proxy?.close();
});

function started(): BlackholeProxy {
  if (proxy === undefined) throw new Error('the proxy is not started');
  return proxy;
}

async function send(): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${stack.baseUrl}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': GATEWAY_TOKEN,
    },
    body: JSON.stringify(seedRequest()),
  });
  return { status: response.status, body: await response.json() };
}

/** Envoy's own fail-closed answer when the processor cannot be reached. */
function expectFailedClosed(reply: { status: number; body: unknown }): void {
  expect(reply.status === 503 || reply.status === 504, `status ${reply.status}`).toBe(true);
  expect(reply.body).toEqual({
    type: 'error',
    error: {
      type: reply.status === 503 ? 'api_error' : 'timeout_error',
      message: expect.stringMatching(/policy .*nothing was sent upstream/),
    },
  });
}

async function keepaliveTimeouts(): Promise<number> {
  const text = await (await fetch(stack.metricsUrl)).text();
  return Number(/^gateway_processor_keepalive_timeouts_total (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

const keepaliveWarnings = () =>
  stack.processorLog
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.level === 40 && String(entry.msg).startsWith('keepalive:'));

/** Envoy's count of connections to the processor it closed for an unanswered ping. */
const envoyKeepaliveTimeouts = async () =>
  (await stack.envoy.admin.stat('cluster.ext_proc_processor.http2.keepalive_timeout')) +
  (await stack.envoy.admin.stat('cluster.processor_access_log.http2.keepalive_timeout'));

describe('a half-open connection between Envoy and the processor', () => {
  it("fails closed only until Envoy's pings find it dead, then the gateway serves again on a new connection", async () => {
    expect((await send()).status).toBe(200);
    const timedOut = await envoyKeepaliveTimeouts();
    const dead = started().blackhole();
    expect(dead.length).toBeGreaterThan(0);
    const accepted = started().connections.length;
    stack.upstream.reset();

    // Caught on the dead connection: refused, and nothing reaches the upstream.
    // It fails when the pings find the connection dead (503: the connection
    // was closed under it), long before its own message timeout (504).
    const caught = await send();
    expectFailedClosed(caught);
    expect(caught.status).toBe(503);
    expect(stack.upstream.received).toHaveLength(0);

    const failures: Array<{ status: number; body: unknown }> = [];
    await vi.waitFor(
      async () => {
        const reply = await send();
        if (reply.status !== 200) {
          failures.push(reply);
          throw new Error(`still ${reply.status}`);
        }
      },
      { timeout: RECOVERY_TIMEOUT_MS, interval: 100 },
    );
    for (const failure of failures) expectFailedClosed(failure);
    expect(stack.upstream.received).toHaveLength(1);
    // Envoy closed every dead connection itself (the proxy passes on no close
    // of a blackholed connection), the health checker's too, for unanswered
    // pings, and dialled new ones, which work.
    await vi.waitFor(() => expect(dead.filter((connection) => connection.clientOpen).length).toBe(0), {
      timeout: RECOVERY_TIMEOUT_MS,
    });
    expect(await envoyKeepaliveTimeouts()).toBeGreaterThanOrEqual(timedOut + dead.length);
    expect(started().connections.length).toBeGreaterThan(accepted);
    expect((await send()).status).toBe(200);
    // The health checks pass again on their new connection: the processor is
    // a healthy host again, not one Envoy uses only in panic.
    await expect
      .poll(() => stack.envoy.admin.stat('cluster.ext_proc_processor.membership_healthy'), {
        timeout: RECOVERY_TIMEOUT_MS,
      })
      .toBe(1);
  });

  it('the processor closes a connection whose pings go unanswered, logs it at warn and counts it', async () => {
    expect((await send()).status).toBe(200);
    const counted = await keepaliveTimeouts();
    const warned = keepaliveWarnings().length;
    const dead = started().blackhole();
    expect(dead.length).toBeGreaterThan(0);

    // The processor's side of every dead connection is closed by the processor.
    await vi.waitFor(() => expect(dead.filter((connection) => connection.targetOpen).length).toBe(0), {
      timeout: RECOVERY_TIMEOUT_MS,
    });
    await expect.poll(keepaliveTimeouts, { timeout: 5_000 }).toBeGreaterThanOrEqual(counted + dead.length);
    await expect
      .poll(() => keepaliveWarnings().length, { timeout: 5_000 })
      .toBeGreaterThanOrEqual(warned + dead.length);
    expect(keepaliveWarnings().at(-1)).toMatchObject({ timeoutMs: TIMEOUT_SECONDS * 1000 });
  });
});
