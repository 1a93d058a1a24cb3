// The cost of a request, against figures computed by hand, for every price
// shape: plain input and output, cache reads, cache writes with and without
// their 5-minute/1-hour split, long-prompt tiers at their threshold, a stream
// cut mid-way, count_tokens, refusals and models without a price.
import { describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG, DEFAULT_PRICES, UNPRICED } from '../../processor/config/default-catalog.ts';
import {
  formatUsd,
  type ModelPrices,
  messageCost,
  nanoToUsd,
  pricedTokens,
  ratesFor,
  usdToNano,
} from '../../processor/cost/price.ts';
import { costFields, requestCost } from '../../processor/cost/request-cost.ts';
import type { AccessRecord } from '../../processor/metering/access-record.ts';
import type { Usage } from '../../processor/metering/usage.ts';

const usage = (u: Partial<Usage>): Usage => ({
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  ...u,
});

const price = (id: string): ModelPrices => {
  const prices = DEFAULT_PRICES.get(id);
  if (prices === undefined) throw new Error(`no price for ${id}`);
  return prices;
};
const SONNET = price('claude-sonnet-4-6');
const OPUS = price('claude-opus-4-8');
const HAIKU = price('claude-haiku-4-5');

// A model with a long-prompt tier, shaped like the pricing page's (rates made up for the test).
const TIERED: ModelPrices = {
  input: 0.1,
  output: 0.5,
  cache_write_5m: 0.125,
  cache_write_1h: 0.2,
  cache_read: 0.01,
  long_prompt: [
    {
      above_prompt_tokens: 100_000,
      input: 0.5,
      output: 2.5,
      cache_write_5m: 0.625,
      cache_write_1h: 1,
      cache_read: 0.05,
    },
  ],
};

describe('messageCost (nano-dollars)', () => {
  it('prices input and output: Sonnet 4.6, 1,000 in and 500 out = $0.0105', () => {
    // 1000 × $3/M + 500 × $15/M = 0.003 + 0.0075
    expect(messageCost(SONNET, usage({ input_tokens: 1000, output_tokens: 500 }))).toBe(10_500_000);
  });

  it('an Opus output token costs 25 times a Haiku input token', () => {
    const opusOut = messageCost(OPUS, usage({ output_tokens: 1 }));
    const haikuIn = messageCost(HAIKU, usage({ input_tokens: 1 }));
    expect(opusOut).toBe(25_000);
    expect(haikuIn).toBe(1_000);
  });

  it('prices cache reads at their rate, a tenth of input: Opus 4.8', () => {
    // 10 × $5/M + 100,000 × $0.50/M + 200 × $25/M = 0.00005 + 0.05 + 0.005
    expect(
      messageCost(OPUS, usage({ input_tokens: 10, cache_read_input_tokens: 100_000, output_tokens: 200 })),
    ).toBe(55_050_000);
  });

  it('prices cache writes without a split at the 5-minute rate: Haiku 4.5', () => {
    // 5 × $1/M + 2,000 × $1.25/M + 7 × $5/M = 0.000005 + 0.0025 + 0.000035
    expect(
      messageCost(HAIKU, usage({ input_tokens: 5, cache_creation_input_tokens: 2000, output_tokens: 7 })),
    ).toBe(2_540_000);
  });

  it('prices cache writes by their lifetime where the usage splits them', () => {
    // 3 × $3/M + 1,000 × $3.75/M + 2,000 × $6/M + 9 × $15/M = 0.000009 + 0.00375 + 0.012 + 0.000135
    const reported = usage({ input_tokens: 3, cache_creation_input_tokens: 3000, output_tokens: 9 });
    expect(
      messageCost(SONNET, reported, { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 }),
    ).toBe(15_894_000);
    // Only the 1-hour part given: the rest of the writes are 5-minute ones.
    expect(messageCost(SONNET, reported, { ephemeral_1h_input_tokens: 2000 })).toBe(15_894_000);
    // All of them 1-hour: 3,000 × $6/M.
    expect(
      messageCost(SONNET, reported, { ephemeral_1h_input_tokens: 3000, ephemeral_5m_input_tokens: 0 }),
    ).toBe(9_000 + 18_000_000 + 135_000);
  });

  it('takes a split that adds up to more than the total as it is', () => {
    expect(
      pricedTokens(usage({ cache_creation_input_tokens: 0 }), {
        ephemeral_5m_input_tokens: 100,
        ephemeral_1h_input_tokens: 50,
      }),
    ).toMatchObject({ cacheWrite5m: 100, cacheWrite1h: 50 });
    // 100 × $3.75/M + 50 × $6/M
    expect(
      messageCost(SONNET, usage({}), { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 50 }),
    ).toBe(675_000);
  });

  it('a prompt of exactly the threshold pays the base rates, one token more the tier, on every token', () => {
    // 60,000 in + 40,000 cache reads = 100,000: base. 60,000 × $0.10/M + 40,000 × $0.01/M + 1,000 × $0.50/M
    const atThreshold = usage({ input_tokens: 60_000, cache_read_input_tokens: 40_000, output_tokens: 1000 });
    expect(messageCost(TIERED, atThreshold)).toBe(6_000_000 + 400_000 + 500_000);
    // 100,001: the tier for all of it, output too. 60,001 × $0.50/M + 40,000 × $0.05/M + 1,000 × $2.50/M
    const over = usage({ input_tokens: 60_001, cache_read_input_tokens: 40_000, output_tokens: 1000 });
    expect(messageCost(TIERED, over)).toBe(30_000_500 + 2_000_000 + 2_500_000);
  });

  it('counts cache writes, of either lifetime, in the prompt the tier looks at', () => {
    // 99,999 in + 2 cache writes (1-hour) = 100,001: the tier. 99,999 × $0.50/M + 2 × $1/M
    expect(
      messageCost(TIERED, usage({ input_tokens: 99_999, cache_creation_input_tokens: 2 }), {
        ephemeral_1h_input_tokens: 2,
      }),
    ).toBe(49_999_500 + 2_000);
    // Output does not count toward the prompt: 100,000 in and a long answer stay at the base rates.
    expect(messageCost(TIERED, usage({ input_tokens: 100_000, output_tokens: 50_000 }))).toBe(
      10_000_000 + 25_000_000,
    );
  });

  it('of several tiers, uses the highest whose threshold the prompt exceeds', () => {
    const tiers: ModelPrices = {
      input: 1,
      output: 1,
      cache_write_5m: 1,
      cache_write_1h: 1,
      cache_read: 1,
      long_prompt: [
        {
          above_prompt_tokens: 500,
          input: 3,
          output: 3,
          cache_write_5m: 3,
          cache_write_1h: 3,
          cache_read: 3,
        },
        {
          above_prompt_tokens: 100,
          input: 2,
          output: 2,
          cache_write_5m: 2,
          cache_write_1h: 2,
          cache_read: 2,
        },
      ],
    };
    expect(ratesFor(tiers, 100).input).toBe(1);
    expect(ratesFor(tiers, 101).input).toBe(2);
    expect(ratesFor(tiers, 500).input).toBe(2);
    expect(ratesFor(tiers, 501).input).toBe(3);
    expect(messageCost(tiers, usage({ input_tokens: 501 }))).toBe(501 * 3000);
  });

  it('has no cost without a price, never a guessed one', () => {
    expect(messageCost(undefined, usage({ input_tokens: 10 }))).toBeUndefined();
  });
});

const record = (overrides: Partial<AccessRecord>): AccessRecord => ({
  requestId: 'r',
  tokenId: 'alice',
  workspace: 'research',
  model: 'claude-sonnet-4-6',
  route: 'messages',
  status: 200,
  streamed: true,
  latencyMs: 10,
  ttfbMs: 5,
  complete: true,
  ...overrides,
});

describe('requestCost of an access record', () => {
  it('a stream cut mid-way costs the usage reported until then', () => {
    // message_start's input side, and the one output token of the last message_delta seen:
    // 50 × $3/M + 1,000 × $0.30/M + 1 × $15/M = 0.00015 + 0.0003 + 0.000015
    const cut = record({
      complete: false,
      usage: usage({ input_tokens: 50, cache_read_input_tokens: 1000, output_tokens: 1 }),
    });
    const cost = requestCost(cut, SONNET);
    expect(cost).toEqual({ known: true, nano: 465_000 });
    expect(costFields(cost)).toEqual({ costUsd: 0.000465 });
  });

  it('count_tokens costs nothing', () => {
    const counted = record({ route: 'count_tokens', countedInputTokens: 12_345, streamed: false });
    expect(requestCost(counted, SONNET)).toEqual({ known: true, nano: 0 });
    expect(costFields(requestCost(counted, SONNET))).toEqual({ costUsd: 0 });
  });

  it('is unknown for a model without a price, or a message without usage', () => {
    const reported = record({ usage: usage({ input_tokens: 10 }) });
    expect(costFields(requestCost(reported, undefined))).toEqual({ costUnknown: true });
    expect(costFields(requestCost(record({}), SONNET))).toEqual({ costUnknown: true });
  });

  it('is nothing for a refusal, an upstream error or a path the gateway does not serve', () => {
    expect(
      requestCost(record({ status: 429, reason: 'quota_token_requests_per_minute' }), SONNET),
    ).toBeUndefined();
    expect(requestCost(record({ status: 529, usage: usage({ input_tokens: 5 }) }), SONNET)).toBeUndefined();
    expect(requestCost(record({ route: undefined, status: 404 }), SONNET)).toBeUndefined();
    expect(costFields(undefined)).toEqual({});
  });
});

describe('amounts', () => {
  it('converts between USD and nano-dollars exactly', () => {
    expect(usdToNano(0.001)).toBe(1_000_000);
    expect(usdToNano(12.34)).toBe(12_340_000_000);
    expect(nanoToUsd(10_500_000)).toBe(0.0105);
    expect(nanoToUsd(1)).toBe(1e-9);
  });

  it('formats USD with at least cents and no trailing zeros', () => {
    expect(formatUsd(0)).toBe('$0.00');
    expect(formatUsd(5_000_000_000)).toBe('$5.00');
    expect(formatUsd(1_000_000)).toBe('$0.001');
    expect(formatUsd(12_345_000_000)).toBe('$12.345');
    expect(formatUsd(1)).toBe('$0.000000001');
  });
});

describe('the built-in prices', () => {
  it('price every Anthropic model of the built-in catalog but those UNPRICED says why, and nothing else', () => {
    const anthropic = DEFAULT_CATALOG.filter((model) => model.provider === 'anthropic').map((m) => m.id);
    expect([...DEFAULT_PRICES.keys(), ...UNPRICED.keys()].sort()).toEqual([...anthropic].sort());
    for (const id of UNPRICED.keys()) expect(DEFAULT_PRICES.has(id), id).toBe(false);
  });

  it("keep the pricing page's cache-write multipliers: 1.25 times input for 5 minutes, 2 times for 1 hour", () => {
    for (const [id, prices] of DEFAULT_PRICES) {
      expect(prices.cache_write_5m, id).toBeCloseTo(prices.input * 1.25, 9);
      expect(prices.cache_write_1h, id).toBeCloseTo(prices.input * 2, 9);
      expect(prices.cache_read, id).toBeLessThan(prices.input);
    }
  });
});
