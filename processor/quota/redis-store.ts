// Quota counters in Redis, shared by every gateway replica. Each operation is
// one Lua script, so a check and its increment are atomic across replicas, and
// the window is taken from Redis's own clock (TIME), so replicas whose clocks
// disagree still count in the same window. Every key expires after two
// windows. One standalone Redis (or a primary with replicas) is assumed: the
// scripts build their keys from the window, which Redis Cluster does not allow.
import { createHash } from 'node:crypto';
import { createClient } from '@redis/client';
import { isRequestLimit, type QuotaCheck, windowMs } from './limits.ts';
import type { AdmitResult, QuotaStore } from './store.ts';

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS: counters without their window. ARGV, three per key: max, window ms, 1 if a request counter.
const ADMIT = `${NOW}
local keys = {}
local over = {}
for i = 1, #KEYS do
  local len = tonumber(ARGV[3 * i - 1])
  keys[i] = KEYS[i] .. ':' .. math.floor(now / len)
  if tonumber(redis.call('GET', keys[i]) or '0') >= tonumber(ARGV[3 * i - 2]) then
    over[#over + 1] = i
  end
end
if #over == 0 then
  for i = 1, #KEYS do
    if ARGV[3 * i] == '1' then
      redis.call('INCR', keys[i])
      redis.call('PEXPIRE', keys[i], 2 * tonumber(ARGV[3 * i - 1]))
    end
  end
end
return {now, over}`;

// KEYS: counters without their window. ARGV: tokens, then one window ms per key.
const CHARGE = `${NOW}
for i = 1, #KEYS do
  local len = tonumber(ARGV[i + 1])
  local key = KEYS[i] .. ':' .. math.floor(now / len)
  redis.call('INCRBY', key, ARGV[1])
  redis.call('PEXPIRE', key, 2 * len)
end
return now`;

interface Script {
  readonly source: string;
  readonly sha1: string;
}

const script = (source: string): Script => ({
  source,
  sha1: createHash('sha1').update(source).digest('hex'),
});

const ADMIT_SCRIPT = script(ADMIT);
const CHARGE_SCRIPT = script(CHARGE);

export interface RedisQuotaStoreOptions {
  readonly url: string;
  /** Prepended to every key, so several gateways can share one Redis. */
  readonly keyPrefix: string;
  /** How long one command may take before it counts as a failure. */
  readonly timeoutMs: number;
  /** Told when the connection fails or comes back (never given the URL). */
  readonly onConnectionChange?: (up: boolean, error?: Error) => void;
}

export class RedisQuotaStore implements QuotaStore {
  private readonly client: ReturnType<typeof createClient>;
  private readonly keyPrefix: string;
  private readonly timeoutMs: number;

  constructor(options: RedisQuotaStoreOptions) {
    this.keyPrefix = options.keyPrefix;
    this.timeoutMs = options.timeoutMs;
    this.client = createClient({
      url: options.url,
      // While disconnected, fail at once (the quota's failure mode decides)
      // instead of queueing requests behind a reconnect.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: Math.max(options.timeoutMs, 1000),
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000),
      },
    });
    this.client.on('error', (error: Error) => options.onConnectionChange?.(false, error));
    this.client.on('ready', () => options.onConnectionChange?.(true));
    // Connects in the background and keeps reconnecting; until then every
    // command fails and the failure mode applies.
    this.client.connect().catch(() => {});
  }

  async admit(checks: readonly QuotaCheck[]): Promise<AdmitResult> {
    const args: string[] = [];
    for (const check of checks) {
      args.push(String(check.max), String(windowMs(check.limit)), isRequestLimit(check) ? '1' : '0');
    }
    const reply = await this.run(ADMIT_SCRIPT, this.keys(checks), args);
    if (!Array.isArray(reply) || !Array.isArray(reply[1])) throw new Error('unexpected reply from Redis');
    const now = Number(reply[0]);
    const over = (reply[1] as unknown[]).map((i) => checks[Number(i) - 1]).filter((c) => c !== undefined);
    return { over, now };
  }

  async charge(checks: readonly QuotaCheck[], tokens: number): Promise<void> {
    if (checks.length === 0) return;
    const args = [String(tokens), ...checks.map((check) => String(windowMs(check.limit)))];
    await this.run(CHARGE_SCRIPT, this.keys(checks), args);
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
    else this.client.destroy();
  }

  private keys(checks: readonly QuotaCheck[]): string[] {
    return checks.map((check) => this.keyPrefix + check.counter);
  }

  /**
   * EVALSHA, and EVAL once when Redis does not know the script yet (after a
   * restart, say); given up after timeoutMs. The client's own command timeout
   * only covers commands not yet sent, not a Redis that stops answering.
   */
  private run(script: Script, keys: string[], args: string[]): Promise<unknown> {
    const call = async (): Promise<unknown> => {
      try {
        return await this.client.evalSha(script.sha1, { keys, arguments: args });
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return this.client.eval(script.source, { keys, arguments: args });
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`redis did not answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    const result = call();
    // A late answer after the timeout is dropped, and so is its error.
    result.catch(() => {});
    return Promise.race([result, timeout]).finally(() => clearTimeout(timer));
  }
}
