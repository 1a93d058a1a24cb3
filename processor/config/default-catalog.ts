// The built-in catalog: the Anthropic models this endpoint serves and
// well-known models of other providers, so that a request for one of those
// gets "model is not available on this endpoint" rather than "unknown model".
// A configuration's `catalog` replaces this list whole.
//
// The Anthropic models are the product page's six and every current Claude
// model, so that the pinned clients work out of the box: each model the
// TypeScript SDK's `Model` type names and each model Claude Code defaults to
// or offers in its picker (test/unit/client-models.test.ts reads them from
// the installed packages and fails when a bump brings one this list lacks).
// Retired models are left out: Anthropic refuses them. claude-opus-4-5 is
// deprecated (retires 2027-01-22) but served until then. The Mythos models
// are Anthropic's invitation-only releases: the gateway forwards them, and
// Anthropic answers 4xx to a workspace that has no access. Models with a
// dated snapshot id (claude-haiku-4-5-20251001) are listed under both ids,
// as the SDK names both.
//
// created_at is each model's public release date, as Anthropic's model pages
// give it (day precision; midnight UTC, which is also how Anthropic's own
// models API reports release times). GET /v1/models lists the newest first.
// Every model here has a known date; a configured entry without one is listed
// with the epoch, as Anthropic's API does for an unknown release date.
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
  // Current (Anthropic's "latest" of each family).
  anthropic('claude-fable-5-2', 'Claude Fable 5.2', '2026-11-09'),
  anthropic('claude-opus-5-5', 'Claude Opus 5.5', '2026-09-22'),
  anthropic('claude-sonnet-5-5', 'Claude Sonnet 5.5', '2026-09-28'),
  anthropic('claude-haiku-5-5', 'Claude Haiku 5.5', '2026-10-07'),
  anthropic('claude-mythos-5-2', 'Claude Mythos 5.2', '2026-11-09'),
  // Legacy: still served, superseded.
  anthropic('claude-fable-5-1', 'Claude Fable 5.1', '2026-09-01'),
  anthropic('claude-mythos-5-1', 'Claude Mythos 5.1', '2026-09-01'),
  anthropic('claude-opus-5', 'Claude Opus 5', '2026-07-24'),
  anthropic('claude-sonnet-5', 'Claude Sonnet 5', '2026-06-30'),
  anthropic('claude-fable-5', 'Claude Fable 5', '2026-06-09'),
  anthropic('claude-mythos-5', 'Claude Mythos 5', '2026-06-09'),
  anthropic('claude-opus-4-8', 'Claude Opus 4.8', '2026-05-28'),
  anthropic('claude-opus-4-7', 'Claude Opus 4.7', '2026-04-16'),
  anthropic('claude-opus-4-6', 'Claude Opus 4.6', '2026-02-05'),
  anthropic('claude-opus-4-5', 'Claude Opus 4.5', '2025-11-24'),
  anthropic('claude-opus-4-5-20251101', 'Claude Opus 4.5', '2025-11-24'),
  anthropic('claude-sonnet-4-6', 'Claude Sonnet 4.6', '2026-02-17'),
  anthropic('claude-haiku-4-5', 'Claude Haiku 4.5', '2025-10-15'),
  anthropic('claude-haiku-4-5-20251001', 'Claude Haiku 4.5', '2025-10-15'),
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
