// `npm start`: the whole gateway on this machine, natively: the processor and
// the real Envoy, configured from GATEWAY_CONFIG (or the defaults) and the
// environment. Both run in their own process group, so the terminal's
// signals reach only this launcher, which stops them in order: Envoy first
// (no new requests), then the processor (it drains). Ctrl-C, SIGTERM and
// SIGHUP (the terminal closing) stop the gateway; a second one stops it at
// once. Killed any other way, the children stop by themselves (scripts/
// parent-death.ts, processor/lifecycle/parent.ts). A processor that dies is
// restarted (scripts/processor-supervisor.ts); Envoy dying stops the gateway
// with exit code 1. docs/operations.md, "The gateway's processes".
import type { EnvoyAdmin } from '../envoy/admin.ts';
import { renderBootstrap } from '../envoy/bootstrap/index.ts';
import { launcherLogLevel } from '../envoy/log-levels.ts';
import { EnvoyBindError, startEnvoy } from '../envoy/run.ts';
import { parseAddress, tryParseAddress } from '../processor/config/address.ts';
import { loadConfig, type Settings } from '../processor/config/load.ts';
import { BASE_PATH } from '../processor/contract/routes.ts';
import { AddressInUseError, settingName } from '../processor/listen/address-in-use.ts';
import { socketInUse } from '../processor/listen/stale-socket.ts';
import { mintToken } from '../processor/policy/tokens.ts';
import { parentDeathWrapper } from './parent-death.ts';
import { privateProcessorSocket } from './processor-socket.ts';
import { type SupervisedProcessor, superviseProcessor } from './processor-supervisor.ts';

/** The signals that stop the gateway; SIGHUP is the terminal hanging up. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const report = (line: string) => process.stderr.write(`gateway: ${line}\n`);

async function main(): Promise<number> {
  // A stop asked for while the gateway starts is carried out once it has started.
  let onStop: (signal: NodeJS.Signals) => void = (signal) => {
    onStop = () => {};
    report(`${signal}: stopping once started`);
    started.then(() => onStop(signal));
  };
  let markStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  for (const signal of STOP_SIGNALS) process.on(signal, () => onStop(signal));

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
  for (const warning of loaded.warnings) report(`warning: ${warning}`);
  const parentDeath = parentDeathWrapper(env);
  if (parentDeath.wrapper === undefined) report(`warning: ${parentDeath.warning}`);

  let processor: SupervisedProcessor;
  try {
    processor = await superviseProcessor({
      env,
      onLogLine: (line) => process.stdout.write(`${line}\n`),
      report,
    });
  } catch (error) {
    socket?.remove();
    throw error;
  }
  report(`processor (pid ${processor.pid()}) listening on ${processor.address}`);
  // Envoy replaces a Unix socket in use without a word: an admin socket still
  // answering belongs to another gateway.
  const adminSocket = settings.admin.port === undefined ? settings.admin.socket : undefined;
  if (adminSocket !== undefined && (await socketInUse(adminSocket))) {
    await processor.stop();
    socket?.remove();
    throw new AddressInUseError(`unix:${adminSocket}`, settingName(['admin', 'socket']));
  }
  let envoy: Awaited<ReturnType<typeof startEnvoy>>;
  try {
    envoy = await startEnvoy({
      bootstrap: renderBootstrap({
        ...settings,
        processor: { ...settings.processor, address: parseAddress(processor.address) },
      }),
      logLevel: envoyLog.level,
      allowDebugLogs: envoyLog.allowDebugLogs,
      ...(parentDeath.wrapper === undefined ? {} : { wrapper: parentDeath.wrapper }),
      detached: true,
    });
  } catch (error) {
    await processor.stop();
    socket?.remove();
    throw error instanceof EnvoyBindError ? envoyAddressInUse(error, settings) : error;
  }
  report(`envoy (pid ${envoy.process.pid}) started`);

  const host = settings.listen.address === '0.0.0.0' ? 'localhost' : settings.listen.address;
  const scheme = settings.listen.tls === undefined ? 'http' : 'https';
  process.stderr.write(`\ngateway: serving ${scheme}://${host}:${envoy.port}${BASE_PATH}\n`);
  process.stderr.write(`gateway: upstream ${settings.upstream.url}\n`);
  process.stderr.write(`gateway: Envoy admin (stats): ${adminHint(envoy.admin)}\n`);
  if (processor.metricsPort !== undefined) {
    process.stderr.write(
      `gateway: metrics http://${settings.metrics.address}:${processor.metricsPort}/metrics\n`,
    );
  }
  report(
    `kill -HUP ${processor.pid()} reloads the processor's configuration; ` +
      `Ctrl-C or kill ${process.pid} stops the gateway`,
  );
  if (minted !== undefined) {
    process.stderr.write(
      `gateway: token for this run (shown once; set GATEWAY_TOKEN to choose your own):\n  ${minted}\n\n`,
    );
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stopAll = async (code: number) => {
      stopping = true;
      // Envoy first, so no request arrives at a processor that is going.
      await envoy.stop();
      await processor.stop();
      socket?.remove();
      resolve(code);
    };
    onStop = (signal) => {
      if (!stopping) {
        report(`${signal}: stopping Envoy, then the processor (again to stop at once)`);
        void stopAll(0);
        return;
      }
      report(`${signal} again: stopping at once`);
      envoy.process.kill('SIGKILL');
      // The processor's second signal: it cancels what it was still finishing.
      void processor.stop();
    };
    envoy.process.once('exit', (code, signal) => {
      if (stopping) return;
      const how = signal === null ? `code ${code}` : `signal ${signal}`;
      report(`envoy (pid ${envoy.process.pid}) exited (${how}): stopping the gateway, exit code 1`);
      void stopAll(1);
    });
    markStarted();
  });
}

/** Envoy's bind failure, with the setting that moves the address. */
function envoyAddressInUse(error: EnvoyBindError, settings: Settings): Error {
  const address = tryParseAddress(error.address);
  const port = typeof address !== 'string' && address.kind === 'tcp' ? address.port : undefined;
  const setting =
    port === undefined
      ? undefined
      : port === settings.listen.port
        ? (['listen', 'port'] as const)
        : port === settings.admin.port
          ? (['admin', 'port'] as const)
          : undefined;
  if (setting === undefined) return error;
  return new AddressInUseError(error.address, settingName(setting));
}

// A terminal that has gone away fails writes to it: that must not stop an orderly stop.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

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
