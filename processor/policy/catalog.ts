// The model catalog and the decision on a requested model.
import type { ModelPrices } from '../cost/price.ts';
import { type GatewayError, invalidRequest, modelNotPermitted } from './errors.ts';

export interface CatalogModel {
  readonly id: string;
  /** Only `anthropic` models are served by this endpoint. */
  readonly provider: string;
  readonly display_name: string;
  /** RFC 3339 release time, where known; shown by the models listing. */
  readonly created_at?: string | undefined;
  /** USD per million tokens, where known; a model without prices has no cost (processor/cost/). */
  readonly prices?: ModelPrices | undefined;
}

export type Catalog = ReadonlyMap<string, CatalogModel>;

export const ANTHROPIC = 'anthropic';

export function indexCatalog(models: Iterable<CatalogModel>): Catalog {
  return new Map([...models].map((model) => [model.id, model]));
}

export const UNKNOWN_MODEL = invalidRequest('unknown_model', 'unknown model');
export const MODEL_NOT_ON_ENDPOINT = invalidRequest(
  'model_not_on_endpoint',
  'model is not available on this endpoint',
);

/** Why `model` may not be used by a token allowed `scope` (undefined: every model), or undefined if it may. */
export function checkModel(
  catalog: Catalog,
  model: string,
  scope: ReadonlySet<string> | undefined,
): GatewayError | undefined {
  const entry = catalog.get(model);
  if (entry === undefined) return UNKNOWN_MODEL;
  if (entry.provider !== ANTHROPIC) return MODEL_NOT_ON_ENDPOINT;
  if (scope !== undefined && !scope.has(model)) return modelNotPermitted(model);
  return undefined;
}
