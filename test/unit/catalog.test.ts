import { describe, expect, it } from 'vitest';
import {
  ANTHROPIC,
  type CatalogModel,
  checkModel,
  indexCatalog,
  MODEL_NOT_ON_ENDPOINT,
  unknownModel,
} from '../../processor/policy/catalog.ts';

const models: CatalogModel[] = [
  { id: 'claude-sonnet-4-6', provider: 'anthropic', display_name: 'Claude Sonnet 4.6' },
  { id: 'claude-haiku-4-5', provider: 'anthropic', display_name: 'Claude Haiku 4.5' },
  { id: 'gpt-5', provider: 'openai', display_name: 'GPT-5' },
];
const catalog = indexCatalog(models);

describe('indexCatalog', () => {
  it('indexes models by id', () => {
    expect(catalog.size).toBe(3);
    expect(catalog.get('gpt-5')?.provider).toBe('openai');
    expect(catalog.get('claude-sonnet-4-6')?.display_name).toBe('Claude Sonnet 4.6');
  });
});

describe('checkModel', () => {
  it('allows an Anthropic model of the catalog with no scope', () => {
    expect(ANTHROPIC).toBe('anthropic');
    expect(checkModel(catalog, 'claude-sonnet-4-6', undefined)).toBeUndefined();
    expect(checkModel(catalog, 'claude-haiku-4-5', undefined)).toBeUndefined();
  });

  it('answers 400 unknown model for a model outside the catalog', () => {
    for (const model of [
      'claude-sonnet-9',
      '',
      'Claude-Sonnet-4-6',
      ' claude-sonnet-4-6',
      'claude-sonnet-4-6 ',
    ]) {
      const error = checkModel(catalog, model, undefined);
      expect(error, model).toEqual(unknownModel(model));
    }
    expect(checkModel(catalog, 'claude-sonnet-9', undefined)).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      reason: 'unknown_model',
      message: `unknown model: "claude-sonnet-9" (see GET /ai-gateway/anthropic/v1/models for the models this gateway serves)`,
    });
  });

  it("keeps the product page's text first, and never repeats control characters or long ids", () => {
    const message = (model: string) => checkModel(catalog, model, undefined)?.message ?? '';
    expect(message('evil\u0000\r\n"\\\u202e')).toBe(
      `unknown model: "evil\\u0000\\u000d\\u000a\\"\\\\\\u202e" (see GET /ai-gateway/anthropic/v1/models for the models this gateway serves)`,
    );
    const long = message('x'.repeat(10_000));
    expect(long).toBe(
      `unknown model: "${'x'.repeat(64)}"… (see GET /ai-gateway/anthropic/v1/models for the models this gateway serves)`,
    );
    for (const model of ['\u{1F600}', 'é', '\u007f']) {
      expect(message(model)).toMatch(/^unknown model: "[\x20-\x7e]*" \(see GET /);
    }
  });

  it('answers 400 for a catalog model of another provider', () => {
    expect(checkModel(catalog, 'gpt-5', undefined)).toBe(MODEL_NOT_ON_ENDPOINT);
    expect(MODEL_NOT_ON_ENDPOINT).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      message: 'model is not available on this endpoint',
    });
  });

  it('answers 403 permission_error for a model outside the token scope', () => {
    const scope = new Set(['claude-haiku-4-5']);
    expect(checkModel(catalog, 'claude-haiku-4-5', scope)).toBeUndefined();
    const error = checkModel(catalog, 'claude-sonnet-4-6', scope);
    expect(error?.status).toBe(403);
    expect(error?.type).toBe('permission_error');
    expect(error?.message).toContain('"claude-sonnet-4-6"');
  });

  it('checks the catalog before the scope', () => {
    const scope = new Set(['claude-sonnet-9', 'gpt-5']);
    expect(checkModel(catalog, 'claude-sonnet-9', scope)?.reason).toBe('unknown_model');
    expect(checkModel(catalog, 'gpt-5', scope)).toBe(MODEL_NOT_ON_ENDPOINT);
  });

  it('serves nothing from an empty scope', () => {
    expect(checkModel(catalog, 'claude-sonnet-4-6', new Set())?.status).toBe(403);
  });

  it('does not resolve inherited object properties as models', () => {
    expect(checkModel(catalog, 'constructor', undefined)?.reason).toBe('unknown_model');
    expect(checkModel(catalog, '__proto__', undefined)?.reason).toBe('unknown_model');
  });
});
