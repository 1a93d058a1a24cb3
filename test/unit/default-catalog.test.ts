import { describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG } from '../../processor/config/default-catalog.ts';
import { checkModel, indexCatalog, MODEL_NOT_ON_ENDPOINT } from '../../processor/policy/catalog.ts';

const SEED_MODELS = [
  'claude-opus-4-8',
  'claude-opus-4-7',
  'claude-opus-4-6',
  'claude-opus-4-5',
  'claude-sonnet-4-6',
  'claude-haiku-4-5',
];

describe('DEFAULT_CATALOG', () => {
  it('holds the six seed models as provider anthropic, and the current Claude models', () => {
    const anthropic = DEFAULT_CATALOG.filter((model) => model.provider === 'anthropic').map(
      (model) => model.id,
    );
    expect(anthropic).toEqual(expect.arrayContaining(SEED_MODELS));
    // Anthropic's latest of each family (test/unit/client-models.test.ts checks the clients' own lists).
    expect(anthropic).toEqual(
      expect.arrayContaining([
        'claude-fable-5-2',
        'claude-opus-5-5',
        'claude-sonnet-5-5',
        'claude-haiku-5-5',
      ]),
    );
    // Only Claude models are served here.
    for (const id of anthropic) expect(id).toMatch(/^claude-/);
  });

  it('serves every seed model', () => {
    const catalog = indexCatalog(DEFAULT_CATALOG);
    for (const model of SEED_MODELS) expect(checkModel(catalog, model, undefined), model).toBeUndefined();
  });

  it('has unique ids and a display name for each model', () => {
    const ids = DEFAULT_CATALOG.map((model) => model.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const model of DEFAULT_CATALOG) expect(model.display_name.length, model.id).toBeGreaterThan(0);
  });

  it('gives every Anthropic model an RFC 3339 release time, at midnight UTC', () => {
    for (const model of DEFAULT_CATALOG.filter((entry) => entry.provider === 'anthropic')) {
      expect(model.created_at, model.id).toMatch(/^20\d\d-\d\d-\d\dT00:00:00Z$/);
      expect(Number.isNaN(Date.parse(model.created_at ?? '')), model.id).toBe(false);
    }
  });

  it('knows well-known models of other providers, so they are refused as not on this endpoint', () => {
    const catalog = indexCatalog(DEFAULT_CATALOG);
    expect(checkModel(catalog, 'gpt-4o', undefined)).toBe(MODEL_NOT_ON_ENDPOINT);
    expect(checkModel(catalog, 'gemini-2.5-pro', undefined)).toBe(MODEL_NOT_ON_ENDPOINT);
  });
});
