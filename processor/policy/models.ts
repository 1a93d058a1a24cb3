// GET /v1/models and GET /v1/models/{id}, answered from the catalog in
// Anthropic's shape: only the Anthropic models the calling token may use, the
// most recently released first, paged with limit / after_id / before_id as the
// SDKs do. The upstream is never asked: the catalog is what this gateway serves.
import { ANTHROPIC, type Catalog, type CatalogModel } from './catalog.ts';
import { type GatewayError, invalidRequest } from './errors.ts';
import { jsonReply, type LocalReply } from './replies.ts';

/**
 * Anthropic's ModelInfo as the pinned SDKs type it. The gateway knows the id,
 * name and release time; what it cannot know is null, which the API allows.
 * Every listed model is served, hence `active`.
 */
export interface ModelInfo {
  readonly type: 'model';
  readonly id: string;
  readonly display_name: string;
  readonly created_at: string;
  readonly lifecycle: 'active';
  readonly deprecated_at: null;
  readonly retires_at: null;
  readonly line: null;
  readonly capabilities: null;
  readonly max_input_tokens: null;
  readonly max_tokens: null;
}

/** Anthropic's documented value for a model whose release time is not known. */
export const UNKNOWN_RELEASE = '1970-01-01T00:00:00Z';

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 1000;

const LIFECYCLES: ReadonlySet<string> = new Set(['active', 'deprecated', 'retired']);

function toModelInfo(model: CatalogModel): ModelInfo {
  return {
    type: 'model',
    id: model.id,
    display_name: model.display_name,
    created_at: model.created_at ?? UNKNOWN_RELEASE,
    lifecycle: 'active',
    deprecated_at: null,
    retires_at: null,
    line: null,
    capabilities: null,
    max_input_tokens: null,
    max_tokens: null,
  };
}

// Built once per catalog (per configuration), not per request.
const listings = new WeakMap<Catalog, readonly ModelInfo[]>();

/** The catalog's Anthropic models, newest first (ties and unknown dates keep the catalog's order). */
export function anthropicModels(catalog: Catalog): readonly ModelInfo[] {
  let listing = listings.get(catalog);
  if (listing === undefined) {
    const models = [...catalog.values()].filter((model) => model.provider === ANTHROPIC).map(toModelInfo);
    // Array.prototype.sort is stable; RFC 3339 times compare by instant, not as text.
    listing = models.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
    listings.set(catalog, listing);
  }
  return listing;
}

function visibleModels(catalog: Catalog, scope: ReadonlySet<string> | undefined): readonly ModelInfo[] {
  const all = anthropicModels(catalog);
  return scope === undefined ? all : all.filter((model) => scope.has(model.id));
}

export interface ModelsPage {
  readonly data: readonly ModelInfo[];
  readonly has_more: boolean;
  readonly first_id: string | null;
  readonly last_id: string | null;
}

const badParameter = (message: string): GatewayError => invalidRequest('invalid_models_query', message);

/** One page of the models `scope` allows (undefined: every Anthropic model), per the query string. */
export function listModels(
  catalog: Catalog,
  scope: ReadonlySet<string> | undefined,
  query: string,
): ModelsPage | GatewayError {
  const params = new URLSearchParams(query);
  const afterId = params.get('after_id');
  const beforeId = params.get('before_id');
  if (afterId !== null && beforeId !== null) {
    return badParameter('after_id and before_id cannot be given together');
  }
  const limit = parseLimit(params.get('limit'));
  if (limit === undefined) return badParameter(`limit: must be an integer from 1 to ${MAX_LIMIT}`);
  const lifecycles = parseLifecycles(params);
  if (lifecycles === undefined) return badParameter('lifecycle: must be active, deprecated or retired');

  // Every model the gateway lists is active: a filter without `active` matches none.
  const models = lifecycles.size === 0 || lifecycles.has('active') ? visibleModels(catalog, scope) : [];
  let start = 0;
  let end = Math.min(limit, models.length);
  let hasMore = end < models.length;
  const cursor = afterId ?? beforeId;
  if (cursor !== null) {
    const index = models.findIndex((model) => model.id === cursor);
    if (index === -1) {
      return badParameter(`${afterId !== null ? 'after_id' : 'before_id'}: no listed model has this id`);
    }
    if (afterId !== null) {
      start = index + 1;
      end = Math.min(start + limit, models.length);
      hasMore = end < models.length;
    } else {
      end = index;
      start = Math.max(0, end - limit);
      hasMore = start > 0;
    }
  }
  const data = models.slice(start, end);
  return {
    data,
    has_more: hasMore,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
  };
}

/** The model `id`, if it is an Anthropic model of the catalog that `scope` allows. */
export function retrieveModel(
  catalog: Catalog,
  scope: ReadonlySet<string> | undefined,
  id: string,
): ModelInfo | GatewayError {
  const entry = catalog.get(id);
  // Not in the catalog, another provider's, or outside the token's scope: all
  // look the same, so a token cannot learn which models others may use.
  if (entry === undefined || entry.provider !== ANTHROPIC || (scope !== undefined && !scope.has(id))) {
    return {
      status: 404,
      type: 'not_found_error',
      message: `model ${JSON.stringify(id)} not found`,
      reason: 'model_not_found',
    };
  }
  return toModelInfo(entry);
}

/** The answer to GET /v1/models or /v1/models/{modelId}. */
export function answerModels(
  catalog: Catalog,
  scope: ReadonlySet<string> | undefined,
  modelId: string | undefined,
  query: string,
): LocalReply | GatewayError {
  const result =
    modelId === undefined ? listModels(catalog, scope, query) : retrieveModel(catalog, scope, modelId);
  if ('status' in result) return result;
  return jsonReply(result, modelId === undefined ? 'models_list' : 'models_retrieve');
}

function parseLimit(value: string | null): number | undefined {
  if (value === null) return DEFAULT_LIMIT;
  if (!/^\d{1,4}$/.test(value)) return undefined;
  const limit = Number(value);
  return limit >= 1 && limit <= MAX_LIMIT ? limit : undefined;
}

/** The SDKs send `lifecycle[]=a&lifecycle[]=b`; a plain or comma-separated `lifecycle` is read too. */
function parseLifecycles(params: URLSearchParams): Set<string> | undefined {
  const values = new Set<string>();
  for (const raw of [...params.getAll('lifecycle[]'), ...params.getAll('lifecycle')]) {
    for (const value of raw.split(',')) {
      if (!LIFECYCLES.has(value)) return undefined;
      values.add(value);
    }
  }
  return values;
}
