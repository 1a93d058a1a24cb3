// The faults a soak injects while traffic runs, each on its own period:
// SIGKILL of the processor (the launcher must bring it back), a Redis that goes
// away and comes back on the same socket, and configuration reloads. The
// upstream's resets and 529s are kinds of request (scenario.ts).
import { writeFileSync } from 'node:fs';
import type { RunningRedis } from '../../test/support/redis-server.ts';
import { startRedis } from '../../test/support/redis-server.ts';
import type { SoakGateway } from './gateway.ts';

export interface FaultPeriods {
  readonly killProcessorMs: number;
  /**
   * No kill after this long (ms from the start): the last processor then lives
   * long enough for its memory slope to mean something.
   */
  readonly killUntilMs: number;
  readonly restartRedisMs: number;
  /** How long Redis stays away before it is started again. */
  readonly redisDownMs: number;
  readonly reloadMs: number;
}

export interface FaultCounts {
  processorKills: number;
  redisRestarts: number;
  reloads: number;
}

export interface Faults {
  readonly counts: FaultCounts;
  /** Stops injecting and waits until Redis is back up. */
  stop(): Promise<void>;
  readonly redis: () => RunningRedis;
}

export interface FaultTargets {
  readonly gateway: SoakGateway;
  readonly redis: RunningRedis;
  readonly configPath: string;
  /** The configuration file's content for reload number n (it must change each time). */
  readonly config: (n: number) => unknown;
}

export function startFaults(targets: FaultTargets, periods: FaultPeriods): Faults {
  const counts: FaultCounts = { processorKills: 0, redisRestarts: 0, reloads: 0 };
  const started = Date.now();
  let redis = targets.redis;
  let redisBack: Promise<void> = Promise.resolve();
  const timers = [
    setInterval(() => {
      if (Date.now() - started > periods.killUntilMs) return;
      const { processor } = targets.gateway.children();
      if (processor === undefined) return; // still coming back from the last kill
      process.kill(processor, 'SIGKILL');
      counts.processorKills += 1;
    }, periods.killProcessorMs),
    setInterval(() => {
      redisBack = redisBack.then(async () => {
        await redis.stop();
        counts.redisRestarts += 1;
        await new Promise((resolve) => setTimeout(resolve, periods.redisDownMs));
        redis = await startRedis(redis.socketPath);
      });
    }, periods.restartRedisMs),
    setInterval(() => {
      counts.reloads += 1;
      writeFileSync(targets.configPath, JSON.stringify(targets.config(counts.reloads)));
    }, periods.reloadMs),
  ];
  return {
    counts,
    redis: () => redis,
    stop: async () => {
      for (const timer of timers) clearInterval(timer);
      await redisBack;
    },
  };
}
