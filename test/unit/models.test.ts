import { describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG } from '../../processor/config/default-catalog.ts';
import { type CatalogModel, indexCatalog } from '../../processor/policy/catalog.ts';
import type { GatewayError } from '../../processor/policy/errors.ts';
import {
  answerModels,
  anthropicModels,
  listModels,
  type ModelsPage,
  retrieveModel,
  UNKNOWN_RELEASE,
} from '../../processor/policy/models.ts';

const model = (id: string, created_at?: string, provider = 'anthropic'): CatalogModel => ({
  id,
  provider,
  display_name: `Name of ${id}`,
  created_at,
});

// Catalog order is deliberately not release order.
const catalog = indexCatalog([
  model('m-2024', '2024-03-01T00:00:00Z'),
  model('m-undated'),
  model('m-2026', '2026-01-10T00:00:00Z'),
  model('gpt-x', '2026-05-01T00:00:00Z', 'openai'),
  model('m-2025', '2025-06-01T12:00:00+02:00'),
  model('m-2025-twin', '2025-06-01T10:00:00Z'),
]);
const NEWEST_FIRST = ['m-2026', 'm-2025', 'm-2025-twin', 'm-2024', 'm-undated'];

function page(result: ModelsPage | GatewayError): ModelsPage {
  if ('status' in result) throw new Error(`expected a page, got ${result.message}`);
  return result;
}
const ids = (result: ModelsPage | GatewayError) => page(result).data.map((info) => info.id);

describe('anthropicModels', () => {
  it('lists only Anthropic models, newest first, undated ones last with the epoch', () => {
    const listing = anthropicModels(catalog);
    expect(listing.map((info) => info.id)).toEqual(NEWEST_FIRST);
    expect(listing.at(-1)?.created_at).toBe(UNKNOWN_RELEASE);
  });

  it("renders Anthropic's ModelInfo shape", () => {
    expect(anthropicModels(catalog)[0]).toEqual({
      type: 'model',
      id: 'm-2026',
      display_name: 'Name of m-2026',
      created_at: '2026-01-10T00:00:00Z',
      lifecycle: 'active',
      deprecated_at: null,
      retires_at: null,
      line: null,
      capabilities: null,
      max_input_tokens: null,
      max_tokens: null,
    });
  });

  it('builds the listing once per catalog', () => {
    expect(anthropicModels(catalog)).toBe(anthropicModels(catalog));
  });

  it('orders the built-in catalog by release date', () => {
    expect(anthropicModels(indexCatalog(DEFAULT_CATALOG)).map((info) => info.id)).toEqual([
      'claude-fable-5-2',
      'claude-mythos-5-2',
      'claude-haiku-5-5',
      'claude-sonnet-5-5',
      'claude-opus-5-5',
      'claude-fable-5-1',
      'claude-mythos-5-1',
      'claude-opus-5',
      'claude-sonnet-5',
      'claude-fable-5',
      'claude-mythos-5',
      'claude-opus-4-8',
      'claude-opus-4-7',
      'claude-sonnet-4-6',
      'claude-opus-4-6',
      'claude-opus-4-5',
      'claude-opus-4-5-20251101',
      'claude-haiku-4-5',
      'claude-haiku-4-5-20251001',
    ]);
  });
});

describe('listModels', () => {
  it('returns everything on one page by default, with first_id and last_id', () => {
    expect(page(listModels(catalog, undefined, ''))).toMatchObject({
      has_more: false,
      first_id: 'm-2026',
      last_id: 'm-undated',
    });
    expect(ids(listModels(catalog, undefined, ''))).toEqual(NEWEST_FIRST);
  });

  it('shows only the models in the scope', () => {
    expect(ids(listModels(catalog, new Set(['m-2024', 'm-2026']), ''))).toEqual(['m-2026', 'm-2024']);
  });

  it('an empty result has null ids', () => {
    expect(page(listModels(indexCatalog([model('gpt-x', undefined, 'openai')]), undefined, ''))).toEqual({
      data: [],
      has_more: false,
      first_id: null,
      last_id: null,
    });
  });

  it('pages forward with limit and after_id until has_more is false', () => {
    const seen: string[] = [];
    let query = 'limit=2';
    for (let round = 0; round < 10; round += 1) {
      const result = page(listModels(catalog, undefined, query));
      seen.push(...result.data.map((info) => info.id));
      if (!result.has_more) break;
      query = `limit=2&after_id=${result.last_id}`;
    }
    expect(seen).toEqual(NEWEST_FIRST);
  });

  it('pages backward with before_id until has_more is false', () => {
    const seen: string[] = [];
    let query = 'limit=2&before_id=m-undated';
    for (let round = 0; round < 10; round += 1) {
      const result = page(listModels(catalog, undefined, query));
      seen.unshift(...result.data.map((info) => info.id));
      if (!result.has_more) break;
      query = `limit=2&before_id=${result.first_id}`;
    }
    expect(seen).toEqual(NEWEST_FIRST.slice(0, -1));
  });

  it('after the last model, or before the first, is an empty page', () => {
    expect(page(listModels(catalog, undefined, 'after_id=m-undated'))).toMatchObject({
      data: [],
      has_more: false,
    });
    expect(page(listModels(catalog, undefined, 'before_id=m-2026'))).toMatchObject({
      data: [],
      has_more: false,
    });
  });

  it('filters by lifecycle: every listed model is active', () => {
    expect(ids(listModels(catalog, undefined, 'lifecycle[]=active&lifecycle[]=deprecated'))).toEqual(
      NEWEST_FIRST,
    );
    expect(ids(listModels(catalog, undefined, 'lifecycle=retired,active'))).toEqual(NEWEST_FIRST);
    expect(ids(listModels(catalog, undefined, 'lifecycle[]=retired'))).toEqual([]);
  });

  it('answers 400 invalid_request_error for bad parameters', () => {
    for (const query of [
      'limit=0',
      'limit=1001',
      'limit=-1',
      'limit=2.5',
      'limit=',
      'limit=abc',
      'after_id=m-2026&before_id=m-2024',
      'after_id=unknown-model',
      'after_id=gpt-x',
      'before_id=',
      'lifecycle[]=bogus',
    ]) {
      const result = listModels(catalog, undefined, query);
      expect('status' in result ? result : undefined, query).toMatchObject({
        status: 400,
        type: 'invalid_request_error',
      });
    }
    // A model outside the scope cannot be used as a cursor either.
    const scoped = listModels(catalog, new Set(['m-2024']), 'after_id=m-2026');
    expect('status' in scoped ? scoped.status : 200).toBe(400);
  });

  it('accepts limits from 1 to 1000', () => {
    expect(ids(listModels(catalog, undefined, 'limit=1'))).toEqual(['m-2026']);
    expect(ids(listModels(catalog, undefined, 'limit=1000'))).toEqual(NEWEST_FIRST);
  });
});

describe('retrieveModel', () => {
  it('returns the model info', () => {
    expect(retrieveModel(catalog, undefined, 'm-2024')).toMatchObject({
      type: 'model',
      id: 'm-2024',
      created_at: '2024-03-01T00:00:00Z',
    });
  });

  it('answers the same 404 for an unknown id, another provider and a model outside the scope', () => {
    const messages = new Set<string>();
    for (const [id, scope] of [
      ['claude-nope', undefined],
      ['gpt-x', undefined],
      ['m-2024', new Set(['m-2026'])],
    ] as const) {
      const result = retrieveModel(catalog, scope, id);
      expect(result, id).toMatchObject({ status: 404, type: 'not_found_error', reason: 'model_not_found' });
      messages.add('message' in result ? result.message.replace(id, 'ID') : '');
    }
    expect([...messages]).toEqual(['model "ID" not found']);
  });
});

describe('answerModels', () => {
  it('renders a page or a model as a JSON reply', () => {
    const list = answerModels(catalog, undefined, undefined, 'limit=1');
    expect('type' in list ? undefined : list).toMatchObject({ status: 200, reason: 'models_list' });
    expect(JSON.parse(('body' in list && list.body?.toString()) || '')).toMatchObject({
      data: [{ id: 'm-2026' }],
      has_more: true,
    });
    const one = answerModels(catalog, undefined, 'm-2024', '');
    expect('type' in one ? undefined : one).toMatchObject({ status: 200, reason: 'models_retrieve' });
  });

  it('passes errors through', () => {
    expect(answerModels(catalog, undefined, 'nope', '')).toMatchObject({ status: 404 });
    expect(answerModels(catalog, undefined, undefined, 'limit=0')).toMatchObject({ status: 400 });
  });
});
