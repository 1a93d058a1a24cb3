// The processor's entry point: load the configuration, serve ext_proc, the
// gRPC health service and the metrics endpoint, reload the configuration on
// SIGHUP or when its file changes, and on SIGTERM/SIGINT, or when the
// launcher that started it is gone, drain and stop. The only place that sets
// the process's exit code.
import { resolve } from 'node:path';
import { formatAddress } from './config/address.ts';
import { createLiveConfig } from './config/live.ts';
import { loadConfig } from './config/load.ts';
import { spendNow } from './cost/spend-endpoint.ts';
import { type RunningServer, startExtProcServer } from './extproc/server.ts';
import { createHealth } from './health/service.ts';
import { launcherGone } from './lifecycle/parent.ts';
import { type Registration, registerProcessor } from './lifecycle/pid-file.ts';
import { boundAddress, signalListening } from './lifecycle/ready-signal.ts';
import { shutDownGracefully } from './lifecycle/shutdown.ts';
import { AddressInUseError, listenOn } from './listen/address-in-use.ts';
import { removeStaleSocket } from './listen/stale-socket.ts';
import { abandonLog, createLogger, flushLog } from './log.ts';
import { createMetrics } from './metrics/registry.ts';
import { type RunningMetricsServer, startMetricsServer } from './metrics/server.ts';
import { createQuotaStore } from './quota/create-store.ts';
import { Quotas } from './quota/quotas.ts';
import { tuneGarbageCollection } from './runtime/garbage-collection.ts';

async function main(): Promise<number> {
  tuneGarbageCollection();
  // Watched from the start: a launcher that dies while this starts is gone too.
  const orphaned = launcherGone();
  const loaded = loadConfig(process.env);
  if (!loaded.ok) {
    const log = createLogger('error');
    log.error({ problems: loaded.problems }, 'invalid configuration');
    await flushLog(log);
    return 2;
  }
  const { settings, quotaStore } = loaded.config;
  // The workspaces' keys (as started) are censored wherever they might appear in a log line.
  const upstreamKeys = [...loaded.config.policy.workspaces.values()].flatMap((w) => w.upstreamApiKey ?? []);
  const log = createLogger(settings.log.level, undefined, { secrets: upstreamKeys });
  for (const warning of loaded.warnings) log.warn({ warning }, 'configuration warning');

  const configPath = process.env.GATEWAY_CONFIG || undefined;
  const metrics = createMetrics();
  const live = createLiveConfig({
    env: process.env,
    path: configPath,
    initial: loaded.config,
    log,
    metrics: metrics.config,
  });
  // Set once listening: where `npm run cli -- reload` finds this processor and its reloads' outcome.
  let registration: Registration | undefined;
  // Before anything slow: SIGHUP's default action would end the process.
  process.on('SIGHUP', () => {
    const outcome = live.reload('SIGHUP');
    try {
      registration?.reloaded(outcome);
    } catch (error) {
      log.warn({ err: error }, 'cannot record the reload for `npm run cli -- reload`');
    }
  });

  const quotas = new Quotas({
    // Limits reload live; the store is the one the processor started with.
    plan: () => live.current().quotaPlan,
    store: createQuotaStore(quotaStore, log),
    failOpen: quotaStore.failOpen,
    log,
    metrics,
  });
  const { address: listenAddress } = settings.processor;
  const address = formatAddress(listenAddress);
  // A processor killed on this path left its socket file: nothing answers there now.
  if (listenAddress.kind === 'unix' && (await removeStaleSocket(listenAddress.path))) {
    log.info({ address }, 'removed the socket file a stopped processor left behind');
  }
  const health = createHealth();
  let metricsServer: RunningMetricsServer | undefined;
  let extProc: RunningServer;
  try {
    metricsServer = settings.metrics.enabled
      ? await listenOn(
          startMetricsServer(metrics.registry, settings.metrics.address, settings.metrics.port, {
            '/spend': () => spendNow(live.current(), quotaStore.kind, quotas),
          }),
          `${settings.metrics.address}:${settings.metrics.port}`,
          ['metrics', 'port'],
        )
      : undefined;
    extProc = await listenOn(
      startExtProcServer({
        address: listenAddress,
        maxRequestBodyBytes: settings.limits.max_request_body_bytes,
        policy: live.policy,
        log,
        quotas,
        metrics,
        health,
        keepalive: {
          intervalSeconds: settings.processor.keepalive_interval_seconds,
          timeoutSeconds: settings.processor.keepalive_timeout_seconds,
        },
      }),
      address,
      ['processor', 'address'],
    );
  } catch (error) {
    // What did start (the metrics server, the quota store's connection) must not keep the process alive.
    await Promise.allSettled([quotas.close(), metricsServer?.close()]);
    throw error;
  }
  const running = extProc;
  const { server, port } = running;
  health.set('SERVING');
  live.watch();
  try {
    registration = registerProcessor(process.env, {
      address: boundAddress(listenAddress, port),
      config: configPath === undefined ? null : resolve(configPath),
    });
  } catch (error) {
    // Reloading still works with SIGHUP; only the CLI cannot find this processor.
    log.warn({ err: error }, 'cannot write the pid file `npm run cli -- reload` reads');
  }
  // Caught before the launcher hears that this listens: it may stop it at once.
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
    void orphaned.then(() => resolve('launcher gone'));
  });
  log.info(
    {
      address,
      port,
      metricsPort: metricsServer?.port,
      quotaStore: quotaStore.kind,
    },
    'ext_proc processor listening',
  );
  // The launcher, if any, waits for this, not for the log line above.
  signalListening({ address: boundAddress(listenAddress, port), metricsPort: metricsServer?.port });

  const signal = await stopped;
  const timeoutMs = settings.processor.shutdown_timeout_seconds * 1000;
  log.info({ signal, timeoutMs }, 'shutting down: no new streams, finishing the ones in flight');
  live.close();
  registration?.remove();
  // A second SIGTERM or SIGINT cancels what is left at once.
  const interrupt = new Promise((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  running.closeAccessLogs();
  const outcome = await shutDownGracefully({ server, health, timeoutMs, log, interrupt });
  await Promise.allSettled([quotas.close(), metricsServer?.close()]);
  log.info({ outcome }, 'processor stopped');
  // Only a log that could not be written is dropped: the launcher's IPC
  // channel can close while its reader of the log is still there (and then
  // the last lines, why it stopped, must reach it).
  const written = await flushLog(log);
  if (signal === 'launcher gone' && !written) abandonLog(log);
  return 0;
}

/**
 * Once stopped, the process must end even if its log cannot: a log pipe
 * nobody reads any more (the launcher gone) can leave a write retrying for
 * ever. The timer is unref'd: it fires only if something else still keeps
 * the process alive a second after it stopped serving.
 */
function exitSoonAnyway(code: number): void {
  setTimeout(() => process.exit(code), 1_000).unref();
}

main().then(
  (code) => {
    process.exitCode = code;
    exitSoonAnyway(code);
  },
  (error: unknown) => {
    const log = createLogger('error');
    if (error instanceof AddressInUseError) {
      log.fatal({ address: error.address, setting: error.setting }, error.message);
    } else log.fatal({ err: error }, 'processor failed to start');
    process.exitCode = 1;
    exitSoonAnyway(1);
    return flushLog(log);
  },
);
