// A port in use is an error, for each address the gateway listens on:
// Envoy's listener (a second gateway on the same port no longer shares it:
// the listener does not set SO_REUSEPORT), Envoy's admin interface (a TCP
// port, or a configured socket, which Envoy would silently replace), the
// processor's ext_proc address (TCP or a live Unix socket) and its metrics
// endpoint. `npm start` then names the address and the setting that moves
// it, exits 1, and leaves nothing running.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../support/fake-upstream.ts';
import {
  isRunning,
  killAll,
  type Launched,
  launch,
  launcherEnv,
  type Serving,
  sendMessage,
  serving,
} from '../support/launcher.ts';

let upstream: FakeUpstream;
const dir = mkdtempSync(join(tmpdir(), 'gateway-port-in-use-'));
beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => {
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

const launched: Array<{ gateway: Launched; started?: Serving }> = [];
const occupied: Server[] = [];
afterEach(async () => {
  for (const { gateway, started } of launched.splice(0)) killAll(gateway, started);
  await Promise.all(occupied.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A listener holding `where` (a TCP port on 127.0.0.1 when a number is not given: one the OS picks). */
async function occupy(where: { port: number } | { path: string } = { port: 0 }): Promise<number> {
  const server = createServer();
  occupied.push(server);
  await new Promise<void>((resolve) =>
    'path' in where ? server.listen(where.path, resolve) : server.listen(where.port, '127.0.0.1', resolve),
  );
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

/** Starts a gateway that must fail: its exit code, its output, and the processor pid it printed, if any. */
async function failedStart(extra: Record<string, string | undefined>) {
  const gateway = launch(launcherEnv(upstream.url, extra));
  launched.push({ gateway });
  const code = await gateway.exited;
  const stderr = gateway.stderr();
  const pid = /processor \(pid (\d+)\) listening/.exec(stderr)?.[1];
  return { code, stderr, processorPid: pid === undefined ? undefined : Number(pid) };
}

describe('an address already in use', () => {
  it("Envoy's listener: a second gateway on the same port fails, and the first keeps every connection", async () => {
    const first = launch(launcherEnv(upstream.url));
    const started = await serving(first);
    launched.push({ gateway: first, started });

    const second = await failedStart({ GATEWAY_PORT: String(started.port), GATEWAY_TOKEN: SECOND_TOKEN });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(
      `gateway: failed to start: 0.0.0.0:${started.port} is already in use (another gateway running?); ` +
        'choose a free one with listen.port (or GATEWAY_PORT)',
    );
    expect(second.stderr).not.toContain('serving');
    // Its processor had started; it is gone with the launcher.
    expect(second.processorPid).toBeDefined();
    expect(isRunning(second.processorPid ?? 0)).toBe(false);

    // Every connection reaches the first gateway: its token passes, the second's never does.
    for (let i = 0; i < 10; i += 1) {
      const mine = await sendMessage(started.port);
      expect(mine.status).toBe(200);
      await mine.arrayBuffer();
      const theirs = await sendMessage(started.port, SECOND_TOKEN);
      expect(theirs.status).toBe(401);
      await theirs.arrayBuffer();
    }
  });

  it("Envoy's admin interface on a TCP port", async () => {
    const port = await occupy();
    const failed = await failedStart({ GATEWAY_ADMIN_PORT: String(port) });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(
      `gateway: failed to start: 127.0.0.1:${port} is already in use (another gateway running?); ` +
        'choose a free one with admin.port (or GATEWAY_ADMIN_PORT)',
    );
    expect(isRunning(failed.processorPid ?? 0)).toBe(false);
  });

  it("Envoy's admin interface on a configured Unix socket, which Envoy itself would take over", async () => {
    const path = join(dir, 'admin.sock');
    await occupy({ path });
    const configPath = join(dir, 'admin-socket.json');
    writeFileSync(configPath, JSON.stringify({ admin: { socket: path } }));
    const failed = await failedStart({
      GATEWAY_CONFIG: configPath,
      GATEWAY_PROCESSOR_ADDRESS: '127.0.0.1:0',
    });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(
      `gateway: failed to start: unix:${path} is already in use (another gateway running?); ` +
        'choose a free one with admin.socket',
    );
    expect(isRunning(failed.processorPid ?? 0)).toBe(false);
    expect(failed.stderr).not.toMatch(/envoy \(pid/);
  });

  it("the processor's ext_proc address", async () => {
    const port = await occupy();
    const failed = await failedStart({ GATEWAY_PROCESSOR_ADDRESS: `127.0.0.1:${port}` });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(
      'gateway: failed to start: processor exited before listening (code 1): ' +
        `127.0.0.1:${port} is already in use (another gateway running?); ` +
        'choose a free one with processor.address (or GATEWAY_PROCESSOR_ADDRESS)',
    );
    // Envoy was never started.
    expect(failed.stderr).not.toMatch(/envoy \(pid/);
  });

  it("the processor's Unix socket, while something listens on it (a stale one is removed instead)", async () => {
    const path = join(dir, 'processor.sock');
    await occupy({ path });
    const failed = await failedStart({ GATEWAY_PROCESSOR_ADDRESS: `unix:${path}` });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(
      `unix:${path} is already in use (another gateway running?); ` +
        'choose a free one with processor.address (or GATEWAY_PROCESSOR_ADDRESS)',
    );
    expect(failed.stderr).not.toMatch(/envoy \(pid/);
  });

  it("the processor's metrics endpoint", async () => {
    const port = await occupy();
    const failed = await failedStart({ GATEWAY_METRICS_PORT: String(port) });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(
      'gateway: failed to start: processor exited before listening (code 1): ' +
        `127.0.0.1:${port} is already in use (another gateway running?); ` +
        'choose a free one with metrics.port (or GATEWAY_METRICS_PORT)',
    );
    expect(failed.stderr).not.toMatch(/envoy \(pid/);
  });
});

const SECOND_TOKEN = 'agw_second_gateway_token_0123456789abcdefghijklmn';
