// What a Redis integration test file starts: one redis-server, the Redis
// quota stores and processors its tests make against it (replicas of one
// gateway sharing the server), and their clients; all of them stopped after
// the file, clients first and the server last.
import { afterAll, beforeAll } from 'vitest';
import type { LoadedConfig } from '../../processor/config/load.ts';
import { RedisQuotaStore } from '../../processor/quota/redis-store.ts';
import { createExtProcClient, type ExtProcClient } from './extproc-client.ts';
import { startQuotaProcessor, type TestProcessor } from './extproc-server.ts';
import { type RunningRedis, startRedis } from './redis-server.ts';

export interface RedisReplicas {
  /** The file's redis-server (inside a test). */
  readonly redis: RunningRedis;
  /** Every store, processor and client made for the file so far, in order; a test may add its own. */
  readonly stores: RedisQuotaStore[];
  readonly processors: TestProcessor[];
  readonly clients: ExtProcClient[];
  /** A store on `url` (the file's server by default), closed after the file. */
  store(keyPrefix: string, url?: string): RedisQuotaStore;
  /** A processor of `config` with its quotas in `store` (fail-closed unless `failOpen`), and a client to it. */
  replica(
    config: LoadedConfig,
    store: RedisQuotaStore,
    failOpen?: boolean,
  ): Promise<{ client: ExtProcClient; address: string }>;
}

export function useRedisReplicas(): RedisReplicas {
  let redis: RunningRedis | undefined;
  const stores: RedisQuotaStore[] = [];
  const processors: TestProcessor[] = [];
  const clients: ExtProcClient[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all(processors.map((p) => p.stop()));
    await Promise.all(stores.map((s) => s.close()));
    await redis?.stop();
  });
  const started = (): RunningRedis => {
    if (redis === undefined) throw new Error('redis-server is not started (use it inside a test)');
    return redis;
  };
  return {
    get redis() {
      return started();
    },
    stores,
    processors,
    clients,
    store(keyPrefix, url = started().url) {
      const store = new RedisQuotaStore({ url, keyPrefix, timeoutMs: 500 });
      stores.push(store);
      return store;
    },
    async replica(config, store, failOpen = false) {
      const processor = await startQuotaProcessor(config, store, failOpen);
      processors.push(processor);
      const client = createExtProcClient(processor.address);
      clients.push(client);
      return { client, address: processor.address };
    },
  };
}
