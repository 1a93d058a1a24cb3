// Builds the configured quota store.
import type { Logger } from '../log.ts';
import { MemoryQuotaStore } from './memory-store.ts';
import { RedisQuotaStore } from './redis-store.ts';
import type { QuotaStore } from './store.ts';

/**
 * Where quota counters live, as the configuration (processor/config/load.ts)
 * resolves it: the Redis URL is resolved there, as it may hold a password.
 */
export type QuotaStoreSettings =
  | { readonly kind: 'memory'; readonly failOpen: boolean }
  | {
      readonly kind: 'redis';
      readonly failOpen: boolean;
      readonly url: string;
      readonly keyPrefix: string;
      readonly timeoutMs: number;
    };

export function createQuotaStore(settings: QuotaStoreSettings, log: Logger): QuotaStore {
  if (settings.kind === 'memory') return new MemoryQuotaStore();
  let up: boolean | undefined;
  return new RedisQuotaStore({
    url: settings.url,
    keyPrefix: settings.keyPrefix,
    timeoutMs: settings.timeoutMs,
    // Logged on changes only: a Redis that stays down must not flood the log.
    onConnectionChange: (connected, error) => {
      if (connected === up) return;
      up = connected;
      if (connected) log.info('quota store connected (redis)');
      else log.warn({ err: error }, 'quota store disconnected (redis); reconnecting');
    },
  });
}
