// Quota and spend counters in Redis, shared by every gateway replica. Each
// operation is one Lua script, so a check and its increment are atomic across
// replicas, and the window is taken from Redis's own clock (TIME), so replicas
// whose clocks disagree still count in the same window. Every key expires
// after two windows. One standalone Redis (or a primary with replicas) is assumed: the
// scripts build their keys from the window, which Redis Cluster does not allow.
import { createHash } from 'node:crypto';
import { createClient } from '@redis/client';
import { DAY_MS, isRequestLimit, type LimitName, MINUTE_MS, periodOf, type QuotaCheck } from './limits.ts';
import type { AdmitResult, QuotaStore, ReadResult } from './store.ts';

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * The UTC calendar month of `ms` (ms since the epoch) as months since January
 * 1970, as windowId() counts it: Redis's Lua has no calendar, so the civil
 * date comes from the day number (H. Hinnant's days-to-civil algorithm).
 */
export const MONTH_OF_LUA = `local function month_of(ms)
  local z = math.floor(ms / 86400000) + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return (y - 1970) * 12 + (m - 1)
end`;

// A window spec (windowSpec below) gives the key's window and its lifetime:
// two windows, so nothing needs cleaning up.
const WINDOW = `${MONTH_OF_LUA}
local function window(spec)
  if spec == 'month' then return month_of(now), 62 * 86400000 end
  local len = tonumber(spec)
  return math.floor(now / len), 2 * len
end`;

// KEYS: counters without their window. ARGV, three per key: max, window spec, 1 if a request counter.
const ADMIT = `${NOW}
${WINDOW}
local keys = {}
local ttls = {}
local over = {}
for i = 1, #KEYS do
  local id, ttl = window(ARGV[3 * i - 1])
  keys[i] = KEYS[i] .. ':' .. id
  ttls[i] = ttl
  if tonumber(redis.call('GET', keys[i]) or '0') >= tonumber(ARGV[3 * i - 2]) then
    over[#over + 1] = i
  end
end
if #over == 0 then
  for i = 1, #KEYS do
    if ARGV[3 * i] == '1' then
      redis.call('INCR', keys[i])
      redis.call('PEXPIRE', keys[i], ttls[i])
    end
  end
end
return {now, over}`;

// KEYS: counters without their window. ARGV: the amount, then one window spec per key.
const CHARGE = `${NOW}
${WINDOW}
for i = 1, #KEYS do
  local id, ttl = window(ARGV[i + 1])
  local key = KEYS[i] .. ':' .. id
  redis.call('INCRBY', key, ARGV[1])
  redis.call('PEXPIRE', key, ttl)
end
return now`;

// KEYS: counters without their window. ARGV: one window spec per key.
const READ = `${NOW}
${WINDOW}
local values = {}
for i = 1, #KEYS do
  local id = window(ARGV[i])
  values[i] = redis.call('GET', KEYS[i] .. ':' .. id) or '0'
end
return {now, values}`;

/** How the scripts find a limit's window: its length in ms, or `month` (a calendar month). */
function windowSpec(limit: LimitName): string {
  const period = periodOf(limit);
  if (period === 'month') return 'month';
  return String(period === 'day' ? DAY_MS : MINUTE_MS);
}

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
const READ_SCRIPT = script(READ);

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
      args.push(String(check.max), windowSpec(check.limit), isRequestLimit(check) ? '1' : '0');
    }
    const reply = await this.run(ADMIT_SCRIPT, this.keys(checks), args);
    if (!Array.isArray(reply) || !Array.isArray(reply[1])) throw new Error('unexpected reply from Redis');
    const now = Number(reply[0]);
    const over = (reply[1] as unknown[]).map((i) => checks[Number(i) - 1]).filter((c) => c !== undefined);
    return { over, now };
  }

  async charge(checks: readonly QuotaCheck[], amount: number): Promise<void> {
    if (checks.length === 0) return;
    const args = [String(amount), ...checks.map((check) => windowSpec(check.limit))];
    await this.run(CHARGE_SCRIPT, this.keys(checks), args);
  }

  async read(checks: readonly QuotaCheck[]): Promise<ReadResult> {
    const args = checks.map((check) => windowSpec(check.limit));
    const reply = await this.run(READ_SCRIPT, this.keys(checks), args);
    if (!Array.isArray(reply) || !Array.isArray(reply[1])) throw new Error('unexpected reply from Redis');
    return { now: Number(reply[0]), values: (reply[1] as unknown[]).map((value) => Number(value)) };
  }

  /** Resolves once connected, for a one-off reader (`npm run cli -- spend`); rejects after `timeoutMs`. */
  ready(timeoutMs: number): Promise<void> {
    if (this.client.isReady) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.client.off('ready', onReady);
        reject(new Error(`redis did not connect within ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.client.once('ready', onReady);
    });
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
