// The built-in catalog: the Anthropic models this endpoint serves (the product
// page's list) and well-known models of other providers, so that a request for
// one of those gets "model is not available on this endpoint" rather than
// "unknown model". A configuration's `catalog` replaces this list whole.
//
// created_at is each model's public release date, as Anthropic's model pages
// give it (day precision; midnight UTC, which is also how Anthropic's own
// models API reports release times). GET /v1/models lists the newest first.
// Every model here has a known date; a configured entry without one is listed
// with the epoch, as Anthropic's API does for an unknown release date.
import type { ModelPrices } from '../cost/price.ts';
import type { CatalogModel } from '../policy/catalog.ts';

const anthropic = (id: string, display_name: string, released: string): CatalogModel => ({
  id,
  provider: 'anthropic',
  display_name,
  created_at: `${released}T00:00:00Z`,
});
const other = (provider: string, id: string, display_name: string): CatalogModel => ({
  id,
  provider,
  display_name,
});

export const DEFAULT_CATALOG: readonly CatalogModel[] = [
  anthropic('claude-opus-4-8', 'Claude Opus 4.8', '2026-05-28'),
  anthropic('claude-opus-4-7', 'Claude Opus 4.7', '2026-04-16'),
  anthropic('claude-opus-4-6', 'Claude Opus 4.6', '2026-02-05'),
  anthropic('claude-opus-4-5', 'Claude Opus 4.5', '2025-11-24'),
  anthropic('claude-sonnet-4-6', 'Claude Sonnet 4.6', '2026-02-17'),
  anthropic('claude-haiku-4-5', 'Claude Haiku 4.5', '2025-10-15'),
  other('openai', 'gpt-5', 'GPT-5'),
  other('openai', 'gpt-5-mini', 'GPT-5 mini'),
  other('openai', 'gpt-4.1', 'GPT-4.1'),
  other('openai', 'gpt-4o', 'GPT-4o'),
  other('openai', 'gpt-4o-mini', 'GPT-4o mini'),
  other('openai', 'o3', 'o3'),
  other('openai', 'o4-mini', 'o4-mini'),
  other('google', 'gemini-2.5-pro', 'Gemini 2.5 Pro'),
  other('google', 'gemini-2.5-flash', 'Gemini 2.5 Flash'),
  other('google', 'gemini-2.5-flash-lite', 'Gemini 2.5 Flash-Lite'),
];

// The built-in prices, USD per million tokens, of the Anthropic models above,
// as Anthropic's pricing page gives them (PRICES_SOURCE, read on
// PRICES_READ_ON; docs/operations.md, "Cost and budgets", says how to update
// them). A model left out here has no known price: its requests are logged
// with `costUnknown` and count toward no budget, never at a guessed price.
// None of these models has a long-prompt tier: Opus 4.6 and later and Sonnet
// 4.6 bill their whole 1M-token window at these rates, Haiku 4.5's window is
// 200K tokens.
export const PRICES_SOURCE = 'https://platform.claude.com/docs/en/about-claude/pricing';
export const PRICES_READ_ON = '2026-12-01';

const opus45: ModelPrices = {
  input: 5,
  output: 25,
  cache_write_5m: 6.25,
  cache_write_1h: 10,
  cache_read: 0.5,
};

export const DEFAULT_PRICES: ReadonlyMap<string, ModelPrices> = new Map([
  ['claude-opus-4-8', opus45],
  ['claude-opus-4-7', opus45],
  ['claude-opus-4-6', opus45],
  ['claude-opus-4-5', opus45],
  ['claude-sonnet-4-6', { input: 3, output: 15, cache_write_5m: 3.75, cache_write_1h: 6, cache_read: 0.3 }],
  ['claude-haiku-4-5', { input: 1, output: 5, cache_write_5m: 1.25, cache_write_1h: 2, cache_read: 0.1 }],
]);
