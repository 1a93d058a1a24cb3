// `npm start` keeps a processor running: when it dies (a crash, the OOM
// killer, SIGKILL), it is started again, with backoff (scripts/restart-
// backoff.ts), on the address Envoy dials and the metrics port printed at
// start, even where the configuration said port 0. Envoy keeps running
// meanwhile and fails closed: requests are answered 503 `api_error` and
// nothing reaches the upstream, until the new processor listens.
import { type RunningProcessor, startProcessor } from './processor-child.ts';
import { nextAttempt, RESTART_BACKOFF, type RestartBackoff, restartDelayMs } from './restart-backoff.ts';

export interface SupervisorOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Each log line (JSON) a processor writes. */
  readonly onLogLine: (line: string) => void;
  /** The supervisor's own lines: exits, restart delays, restarts. */
  readonly report: (line: string) => void;
  readonly backoff?: RestartBackoff;
}

export interface SupervisedProcessor {
  /** Where it listens, with the bound port filled in; the same across restarts. */
  readonly address: string;
  readonly metricsPort: number | undefined;
  /** The running processor's pid; undefined while one is being restarted. */
  pid(): number | undefined;
  /**
   * Stops restarting it and stops the one running with `signal`; resolves once it
   * has exited. Called again, it sends the signal again (the processor's "stop now").
   */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the processor (rejecting if that fails) and keeps it running until `stop()`. */
export async function superviseProcessor(options: SupervisorOptions): Promise<SupervisedProcessor> {
  const backoff = options.backoff ?? RESTART_BACKOFF;
  const aborted = new AbortController();
  const launch = (env: NodeJS.ProcessEnv) =>
    startProcessor({ env, onLogLine: options.onLogLine, detached: true, signal: aborted.signal });

  const first = await launch(options.env);
  const env: NodeJS.ProcessEnv = {
    ...options.env,
    GATEWAY_PROCESSOR_ADDRESS: first.address,
    ...(first.metricsPort === undefined ? {} : { GATEWAY_METRICS_PORT: String(first.metricsPort) }),
  };
  let current: RunningProcessor | undefined;
  let listeningSince = 0;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  let restarting: Promise<void> | undefined;

  const retry = (what: string) => {
    const delay = restartDelayMs(attempt, backoff);
    options.report(`${what}; restarting it in ${delay} ms (attempt ${attempt})`);
    timer = setTimeout(() => {
      timer = undefined;
      restarting = restart().finally(() => {
        restarting = undefined;
      });
    }, delay);
  };

  const onExit = (processor: RunningProcessor) => {
    const exited = () => {
      if (aborted.signal.aborted) return;
      current = undefined;
      attempt = nextAttempt(attempt, Date.now() - listeningSince, backoff);
      const { exitCode, signalCode } = processor.process;
      const how = signalCode === null ? `code ${exitCode}` : `signal ${signalCode}`;
      retry(`processor (pid ${processor.process.pid}) exited (${how})`);
    };
    // It may have exited before its listening signal was handled.
    if (processor.process.exitCode !== null || processor.process.signalCode !== null) exited();
    else processor.process.once('exit', exited);
  };

  const serve = (processor: RunningProcessor) => {
    current = processor;
    listeningSince = Date.now();
    onExit(processor);
  };

  const restart = async () => {
    try {
      const processor = await launch(env);
      options.report(
        `processor restarted (pid ${processor.process.pid}, attempt ${attempt}), listening on ${processor.address}`,
      );
      serve(processor);
    } catch (error) {
      if (aborted.signal.aborted) return;
      attempt = nextAttempt(attempt, 0, backoff);
      retry(`processor did not come back (${(error as Error).message})`);
    }
  };

  serve(first);
  return {
    address: first.address,
    metricsPort: first.metricsPort,
    pid: () => current?.process.pid,
    stop: async (signal = 'SIGTERM') => {
      aborted.abort();
      clearTimeout(timer);
      await restarting;
      await current?.stop(signal);
    },
  };
}
