// The cost of one finished request, for its access line, the cost metric and
// the budgets: what the upstream bills for, priced from the catalog.
import type { AccessRecord } from '../metering/access-record.ts';
import { type ModelPrices, messageCost, nanoToUsd } from './price.ts';

/** What the access line says of a request's cost (docs/operations.md, "Access log"). */
export type CostFields =
  | { readonly costUsd: number }
  | { readonly costUnknown: true }
  /** Nothing was billed: a refusal, an error, a request that never reached the upstream. */
  | Record<string, never>;

export type RequestCost =
  /** nano-dollars, exact */
  { readonly known: true; readonly nano: number } | { readonly known: false } | undefined;

/**
 * What `record` cost. Only a 2xx answer of an upstream route that the gateway
 * forwarded is billed (as toAccessRecord meters it): count_tokens costs
 * nothing; a message costs its usage at its model's prices, and is unknown
 * when the model has no price or the upstream reported no usage. A stream
 * cut mid-way costs what was reported until then (`complete: false`).
 */
export function requestCost(record: AccessRecord, prices: ModelPrices | undefined): RequestCost {
  const billed =
    record.route !== undefined && record.reason === undefined && record.status >= 200 && record.status <= 299;
  if (!billed) return undefined;
  if (record.route === 'count_tokens') return { known: true, nano: 0 };
  if (record.route !== 'messages') return undefined;
  const nano =
    record.usage === undefined ? undefined : messageCost(prices, record.usage, record.cacheCreation);
  return nano === undefined ? { known: false } : { known: true, nano };
}

export function costFields(cost: RequestCost): CostFields {
  if (cost === undefined) return {};
  return cost.known ? { costUsd: nanoToUsd(cost.nano) } : { costUnknown: true };
}
