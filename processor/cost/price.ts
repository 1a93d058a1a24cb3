// What one request cost, from the usage the upstream reported and the
// model's prices (docs/operations.md, "Cost and budgets"). Plain values in,
// a whole number of nano-dollars out: prices are USD per million tokens, so a
// price times 1000 is nano-dollars per token, and with prices of at most three
// decimals (the configuration refuses more) every cost is an exact integer,
// free of floating-point drift however many requests are added up.
import type { CacheCreation } from '../metering/access-record.ts';
import type { Usage } from '../metering/usage.ts';

/** USD per million tokens, for each kind of token a request is billed for. */
export interface Rates {
  readonly input: number;
  readonly output: number;
  /** Cache writes that live 5 minutes (the default lifetime). */
  readonly cache_write_5m: number;
  /** Cache writes that live 1 hour. */
  readonly cache_write_1h: number;
  /** Cache hits and refreshes. */
  readonly cache_read: number;
}

/**
 * Rates for every token of a request whose prompt (input, cache writes and
 * cache reads together) has more than `above_prompt_tokens` tokens; output
 * included, as Anthropic bills a long prompt.
 */
export interface LongPromptTier extends Rates {
  readonly above_prompt_tokens: number;
}

/** A model's prices: its base rates, and the long-prompt tiers it has (most have none). */
export interface ModelPrices extends Rates {
  readonly long_prompt?: readonly LongPromptTier[] | undefined;
}

export const NANO_PER_USD = 1e9;

/** Nano-dollars per token at `usdPerMillion` USD per million tokens. */
function nanoPerToken(usdPerMillion: number): number {
  return Math.round(usdPerMillion * 1000);
}

/** The tokens of one request, split as they are priced. */
export interface PricedTokens {
  readonly input: number;
  readonly output: number;
  readonly cacheWrite5m: number;
  readonly cacheWrite1h: number;
  readonly cacheRead: number;
}

/**
 * Splits the usage as it is priced. Cache writes go by their lifetime where
 * the upstream said (`cache_creation`); writes it did not split (all of them,
 * without a split) are priced as 5-minute writes, the default lifetime. A
 * split that adds up to more than the total is taken as it is.
 */
export function pricedTokens(usage: Usage, cacheCreation: CacheCreation | undefined): PricedTokens {
  const oneHour = cacheCreation?.ephemeral_1h_input_tokens ?? 0;
  const fiveMinutes = Math.max(
    usage.cache_creation_input_tokens - oneHour,
    cacheCreation?.ephemeral_5m_input_tokens ?? 0,
  );
  return {
    input: usage.input_tokens,
    output: usage.output_tokens,
    cacheWrite5m: fiveMinutes,
    cacheWrite1h: oneHour,
    cacheRead: usage.cache_read_input_tokens,
  };
}

/** The prompt's size, as the long-prompt tiers count it: everything the model read. */
export function promptTokens(tokens: PricedTokens): number {
  return tokens.input + tokens.cacheWrite5m + tokens.cacheWrite1h + tokens.cacheRead;
}

/** The rates a request of `prompt` tokens pays: the highest tier whose threshold it exceeds, or the base rates. */
export function ratesFor(prices: ModelPrices, prompt: number): Rates {
  let chosen: Rates = prices;
  let threshold = -1;
  for (const tier of prices.long_prompt ?? []) {
    if (prompt > tier.above_prompt_tokens && tier.above_prompt_tokens > threshold) {
      chosen = tier;
      threshold = tier.above_prompt_tokens;
    }
  }
  return chosen;
}

/**
 * The cost of one /v1/messages request in nano-dollars, or undefined when
 * the model has no known price: an unknown cost is never guessed. A stream
 * cut mid-way costs what the upstream had reported until then.
 */
export function messageCost(
  prices: ModelPrices | undefined,
  usage: Usage,
  cacheCreation?: CacheCreation,
): number | undefined {
  if (prices === undefined) return undefined;
  const tokens = pricedTokens(usage, cacheCreation);
  const rates = ratesFor(prices, promptTokens(tokens));
  return (
    tokens.input * nanoPerToken(rates.input) +
    tokens.output * nanoPerToken(rates.output) +
    tokens.cacheWrite5m * nanoPerToken(rates.cache_write_5m) +
    tokens.cacheWrite1h * nanoPerToken(rates.cache_write_1h) +
    tokens.cacheRead * nanoPerToken(rates.cache_read)
  );
}

/** Nano-dollars as a number of USD (exact to the nano-dollar in a log line or a metric). */
export function nanoToUsd(nano: number): number {
  return nano / NANO_PER_USD;
}

/** USD as whole nano-dollars (a budget, say). */
export function usdToNano(usd: number): number {
  return Math.round(usd * NANO_PER_USD);
}

/** `$1.50`, `$0.000123`: at least cents, as many decimals as the amount has (to the nano-dollar). */
export function formatUsd(nano: number): string {
  const sign = nano < 0 ? '-' : '';
  const abs = Math.abs(Math.round(nano));
  const whole = Math.floor(abs / NANO_PER_USD);
  const fraction = String(abs % NANO_PER_USD)
    .padStart(9, '0')
    .replace(/0+$/, '')
    .padEnd(2, '0');
  return `${sign}$${whole}.${fraction}`;
}
