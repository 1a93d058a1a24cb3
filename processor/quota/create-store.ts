// Builds the configured quota store.
import type { QuotaStoreSettings } from '../config/load.ts';
import type { Logger } from '../log.ts';
import { MemoryQuotaStore } from './memory-store.ts';
import { RedisQuotaStore } from './redis-store.ts';
import type { QuotaStore } from './store.ts';

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
