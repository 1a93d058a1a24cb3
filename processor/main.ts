// The processor's entry point: load the configuration, serve ext_proc, stop on
// SIGTERM/SIGINT. The only place that exits the process.
import { loadConfig } from './config/load.ts';
import { startExtProcServer } from './extproc/server.ts';
import { createLogger } from './log.ts';
import { createMetrics } from './metrics/registry.ts';
import { startMetricsServer } from './metrics/server.ts';
import { createQuotaStore } from './quota/create-store.ts';
import { Quotas } from './quota/quotas.ts';

async function main(): Promise<number> {
  const loaded = loadConfig(process.env);
  if (!loaded.ok) {
    const log = createLogger('error');
    log.error({ problems: loaded.problems }, 'invalid configuration');
    return 2;
  }
  const { settings, policy, quotaPlan, quotaStore } = loaded.config;
  // The workspaces' keys are censored wherever they might appear in a log line.
  const upstreamKeys = [...policy.workspaces.values()].flatMap((w) => w.upstreamApiKey ?? []);
  const log = createLogger(settings.log.level, undefined, { secrets: upstreamKeys });
  for (const warning of loaded.warnings) log.warn({ warning }, 'configuration warning');
  const metrics = createMetrics();
  const quotas = new Quotas({
    plan: () => quotaPlan,
    store: createQuotaStore(quotaStore, log),
    failOpen: quotaStore.failOpen,
    log,
    metrics,
  });
  const metricsServer = settings.metrics.enabled
    ? await startMetricsServer(metrics.registry, settings.metrics.address, settings.metrics.port)
    : undefined;
  const { server, port } = await startExtProcServer({
    address: settings.processor.address,
    maxRequestBodyBytes: settings.limits.max_request_body_bytes,
    policy: () => policy,
    log,
    quotas,
    metrics,
  });
  log.info(
    {
      address: settings.processor.address,
      port,
      metricsPort: metricsServer?.port,
      quotaStore: quotaStore.kind,
    },
    'ext_proc processor listening',
  );

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      server.tryShutdown(() => {
        void Promise.allSettled([quotas.close(), metricsServer?.close()]).then(() => resolve());
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    createLogger('error').fatal({ err: error }, 'processor failed to start');
    process.exitCode = 1;
  },
);
