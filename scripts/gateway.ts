// `npm start`: the whole gateway on this machine, natively: the processor and
// the real Envoy, configured from GATEWAY_CONFIG (or the defaults) and the
// environment. Stops both on Ctrl-C / SIGTERM, and both if either dies.

import type { EnvoyAdmin } from '../envoy/admin.ts';
import { renderBootstrap } from '../envoy/bootstrap.ts';
import { launcherLogLevel } from '../envoy/log-levels.ts';
import { startEnvoy } from '../envoy/run.ts';
import { startProcessor } from '../processor/child.ts';
import { loadConfig } from '../processor/config/load.ts';
import { BASE_PATH } from '../processor/policy/routes.ts';
import { mintToken } from '../processor/policy/tokens.ts';
import { privateProcessorSocket } from './processor-socket.ts';

async function main(): Promise<number> {
  const env = { ...process.env };
  // Before anything starts: Envoy at debug or trace would log secrets.
  const envoyLog = launcherLogLevel(env);
  if (!envoyLog.ok) {
    process.stderr.write(`gateway: ${envoyLog.problem}\n`);
    return 2;
  }
  if (envoyLog.warning !== undefined) process.stderr.write(`${envoyLog.warning}\n`);
  // The default configuration reads the gateway token from GATEWAY_TOKEN; with
  // neither a file nor a token, mint one for this run and show it once.
  let minted: string | undefined;
  if (!env.GATEWAY_CONFIG && !env.GATEWAY_TOKEN) {
    minted = mintToken();
    env.GATEWAY_TOKEN = minted;
  }
  const socket = privateProcessorSocket(env);
  if (socket !== undefined) env.GATEWAY_PROCESSOR_ADDRESS = socket.address;
  const loaded = loadConfig(env);
  if (!loaded.ok) {
    socket?.remove();
    process.stderr.write(
      `gateway: the configuration has problems:\n${loaded.problems.map((p) => `  - ${p}`).join('\n')}\n`,
    );
    return 2;
  }
  const { settings } = loaded.config;
  for (const warning of loaded.warnings) process.stderr.write(`gateway: warning: ${warning}\n`);

  let processor: Awaited<ReturnType<typeof startProcessor>>;
  try {
    processor = await startProcessor({
      env,
      onLogLine: (line) => process.stdout.write(`${line}\n`),
    });
  } catch (error) {
    socket?.remove();
    throw error;
  }
  let envoy: Awaited<ReturnType<typeof startEnvoy>>;
  try {
    envoy = await startEnvoy({
      bootstrap: renderBootstrap({
        ...settings,
        processor: { ...settings.processor, address: processor.address },
      }),
      logLevel: envoyLog.level,
      allowDebugLogs: envoyLog.allowDebugLogs,
    });
  } catch (error) {
    await processor.stop();
    socket?.remove();
    throw error;
  }

  const host = settings.listen.address === '0.0.0.0' ? 'localhost' : settings.listen.address;
  process.stderr.write(`\ngateway: serving http://${host}:${envoy.port}${BASE_PATH}\n`);
  process.stderr.write(`gateway: upstream ${settings.upstream.url}\n`);
  process.stderr.write(`gateway: Envoy admin (stats): ${adminHint(envoy.admin)}\n`);
  if (processor.metricsPort !== undefined) {
    process.stderr.write(
      `gateway: metrics http://${settings.metrics.address}:${processor.metricsPort}/metrics\n`,
    );
  }
  if (minted !== undefined) {
    process.stderr.write(
      `gateway: token for this run (shown once; set GATEWAY_TOKEN to choose your own):\n  ${minted}\n\n`,
    );
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stopAll = async (code: number) => {
      if (stopping) return;
      stopping = true;
      await Promise.all([envoy.stop(), processor.stop()]);
      socket?.remove();
      resolve(code);
    };
    process.once('SIGINT', () => void stopAll(0));
    process.once('SIGTERM', () => void stopAll(0));
    envoy.process.once('exit', () => void stopAll(1));
    processor.process.once('exit', () => void stopAll(1));
  });
}

/** How to reach Envoy's admin interface from a shell. */
function adminHint(admin: EnvoyAdmin): string {
  return admin.socketPath === undefined
    ? `curl http://${admin.address}/stats`
    : `curl --unix-socket ${admin.socketPath} http://localhost/stats`;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`gateway: failed to start: ${(error as Error).message}\n`);
    process.exitCode = 1;
  },
);
