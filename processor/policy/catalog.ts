// The model catalog and the decision on a requested model.
import type { ModelPrices } from '../cost/price.ts';
import { quoted } from './echo.ts';
import { type GatewayError, invalidRequest, modelNotPermitted } from './errors.ts';
import { MODELS_PATH } from './routes.ts';

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

/**
 * The product page's "unknown model", then the id (escaped and capped: it is
 * the client's text) and where to find the served ones: a client whose
 * default model is not served learns which it asked for and what to ask.
 */
export const unknownModel = (model: string): GatewayError =>
  invalidRequest(
    'unknown_model',
    `unknown model: ${quoted(model)} (see GET ${MODELS_PATH} for the models this gateway serves)`,
  );
/** A model name the scan did not decode, for it is longer than any model of the catalog. */
export const UNKNOWN_LONG_MODEL: GatewayError = invalidRequest(
  'unknown_model',
  `unknown model: its name is longer than any this gateway serves (see GET ${MODELS_PATH})`,
);
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
  if (entry === undefined) return unknownModel(model);
  if (entry.provider !== ANTHROPIC) return MODEL_NOT_ON_ENDPOINT;
  if (scope !== undefined && !scope.has(model)) return modelNotPermitted(model);
  return undefined;
}
