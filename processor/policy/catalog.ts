// The model catalog and the decision on a requested model.
import { type GatewayError, invalidRequest, modelNotPermitted } from './errors.ts';

export interface CatalogModel {
  readonly id: string;
  /** Only `anthropic` models are served by this endpoint. */
  readonly provider: string;
  readonly display_name: string;
  /** RFC 3339 release time, where known; shown by the models listing. */
  readonly created_at?: string | undefined;
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

// Built once per catalog (per configuration), not per request.
const spellings = new WeakMap<Catalog, number>();

/**
 * The most bytes any id of the catalog can take written as a JSON string
 * (quotes excluded): every UTF-16 unit as a \uXXXX escape, 6 bytes. A model
 * written longer is in no catalog, so the scan need not decode it
 * (model-scanner.ts, maxModelBytes): a 32 MB model would cost a string of up
 * to 64 MB to learn that it is unknown.
 */
export function longestModelSpelling(catalog: Catalog): number {
  let longest = spellings.get(catalog);
  if (longest === undefined) {
    longest = 0;
    for (const id of catalog.keys()) longest = Math.max(longest, 6 * id.length);
    spellings.set(catalog, longest);
  }
  return longest;
}

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
